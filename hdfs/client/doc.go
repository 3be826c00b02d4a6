// Package client is gomr's HDFS client, used by tasks (through the
// mapreduce.FileSystem contract, for hdfs:// paths) and by the CLI: it asks
// the primaries' NameNode service where a file's blocks are or should go,
// and streams the blocks to and from the core workers' DataNode service
// itself; no data goes through the primaries.
//
// Writes stream each block through a pipeline of core workers, with a
// CRC32C per 512 bytes that every worker verifies; a file becomes visible
// only when it is closed, and a writer that dies leaves nothing visible (its
// lease expires and the primaries collect its blocks). Reads verify every
// chunk's checksum, go to the nearest replica first, and when a replica
// fails (its worker died, or it is corrupt, which is reported) go on from
// the same byte at the next replica, so the reader sees no error while one
// replica is good.
package client
