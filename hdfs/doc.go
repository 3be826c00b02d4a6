// Package hdfs holds the chunked checksums that protect gomr's data on
// disk and on the wire: one CRC32C per ChunkSize (512) bytes, as HDFS's
// dfs.bytes-per-checksum, so a reader verifies every chunk before it
// trusts it and can name the offset of the first corrupt one. Map output
// segments carry them from the map's disk, through the shuffle, to the
// reducer's merge.
//
// It is the home of gomr's distributed file system as it is built: the
// DataNode block store of core workers, the namespace types the primary
// keeps, replica placement and the client tasks and the CLI use.
package hdfs
