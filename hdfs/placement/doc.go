// Package placement decides, without I/O, where the replicas of gomr's
// HDFS blocks go: the core workers a new block is written to and in which
// pipeline order, the workers a block is copied to when it has too few
// replicas and the one it is copied from, the order a reader tries a
// block's replicas in, and the replicas to delete when it has too many.
//
// The primaries' NameNode describes the live core workers as Nodes (from
// their heartbeats) and calls these functions; they only read what they
// are given, so the same inputs always give the same answer. There are no
// racks: the first replica of a block written on a core worker is that
// worker's (as HDFS's rule, the first replica is local), and the others go
// to the least used nodes.
//
// The choices rest on the Nodes' figures, so a caller allocating many
// blocks between heartbeats should count each allocation on its nodes
// (Used, Remaining, Blocks) for the next choice to spread.
package placement
