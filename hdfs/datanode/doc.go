// Package datanode is the block store of a gomr core worker, HDFS's
// DataNode: it keeps block replicas on the worker's disk, checks them, and
// serves the DataNode gRPC service (package hdfspb) over them.
//
// It owns:
//
//   - the replicas on disk under one folder (a Store), and the in-memory
//     list of them with their lengths and whether they were found corrupt;
//   - the block reports the worker sends the leader with its heartbeats
//     (Store.Report): full, or the blocks added, deleted and found corrupt
//     since the last one;
//   - the block scanner (Store.RunScanner), which slowly reads every
//     replica and checks it against its checksums;
//   - the DataNode service (Server): block writes through a pipeline of
//     core workers, range reads, and transfers for re-replication.
//
// It does not decide where blocks go or when they are deleted or copied:
// the leader does, from the block reports, and tells the worker with
// BlockCommands, which the worker carries out through Store.Delete and
// Server.TransferBlock.
//
// # On-disk layout
//
// A Store's folder (for example DATA/hdfs) holds:
//
//	in_use.lock         flock'd while a Store has the folder open
//	current/blk_<id>    a finalized replica: the block's bytes, nothing else
//	current/blk_<id>.meta
//	                    its checksums: a 10-byte header (the magic "GMRM",
//	                    a big-endian uint16 version, 1, and a big-endian
//	                    uint32 chunk size, 512), then one big-endian CRC32C
//	                    per 512 bytes of the block, the last covering the
//	                    final partial chunk
//	rbw/blk_<id>, rbw/blk_<id>.meta
//	                    a replica being written (HDFS's "replica being
//	                    written"), in the same format
//
// <id> is the block id in decimal.
//
// # Invariants
//
//   - A replica exists exactly when current/blk_<id> exists. A write goes
//     to rbw/; when every byte has arrived and matched its checksums, both
//     files are fsync'd, the meta file is renamed into current/, then the
//     block file, then current/ is fsync'd, and only then does the write
//     succeed and the replica count. Deletion removes the block file
//     first, then the meta file. So a crash leaves at worst files in rbw/
//     and a meta file without its block in current/; Open removes both.
//   - A replica's length is its block file's size and its meta file holds
//     exactly one checksum per 512 bytes. A replica whose meta file is
//     missing, has a bad header or the wrong size, or whose data does not
//     match its checksums, is corrupt: it stays listed (so that the leader
//     learns of it and has it replaced) and reads of its bad chunks fail,
//     naming the block, the worker and the byte offset.
//   - Data is verified whenever it crosses a boundary: every chunk a writer
//     sends is checked against the checksum sent with it before it is
//     stored, and every chunk read from disk is checked against the stored
//     checksum before it is served or copied.
//   - A block id is stored at most once: a write of a block that is stored
//     or being written is refused (ErrExists).
package datanode
