// Package namespace holds the pure types and rules of gomr's HDFS
// namespace: what a path may be and how it is spelled, how paths relate
// (parent, base name, ancestors, containment), and the defaults and limits
// of replication and block size. It does no I/O; the primaries' NameNode,
// the clients and the CLI share it so that every layer accepts and refuses
// the same things with the same messages.
//
// A clean path is absolute, starts with "/", has no trailing slash (except
// the root "/" itself), and its components are non-empty, are neither "."
// nor "..", hold no ':' and no control character, and are valid UTF-8 of at
// most MaxComponentLength bytes; the whole path is at most MaxPathLength
// bytes. Clean turns what a user or a job gives (a path or an hdfs:// URI)
// into one; the other path functions expect clean paths.
package namespace
