// Package hdfs owns gomr's distributed file system: blocks and their
// checksums, the DataNode block store on core workers, the namespace types the
// primary keeps, replica placement, and the client tasks and the CLI use.
//
// Checksums follow HDFS: one CRC32C per ChunkSize bytes
// (dfs.bytes-per-checksum), so a reader can verify every chunk before it
// trusts it and name the offset of the first corrupt one. The same framing
// protects block replicas and the map output segments a reducer fetches.
package hdfs
