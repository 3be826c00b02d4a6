// Package mapreduce is the engine a task runs: the contracts a job implements
// (Mapper, Reducer, Partitioner), input listing and split planning, the line
// reader that gives a split exactly the lines that start inside it, the map
// side sort buffer that partitions, sorts, combines and spills within a memory
// budget, the k-way merge, the reduce-side grouping, and the text output
// writer and its committer.
//
// Invariants:
//
//   - A split owns every line whose first byte lies in [Offset, Offset+Length),
//     so at any split size every line of a file is read exactly once.
//   - Keys are ordered by their raw bytes (bytes.Compare), within every run,
//     every merged segment and every part file.
//   - A run stores one segment per partition; each segment carries a CRC32C
//     that a reader checks before it trusts a record.
//   - The sequential runner (RunSequential) calls the same Mapper, Combiner
//     and Reducer through the same sort buffer and merge as a cluster task,
//     with runs kept in memory, so its output is the reference a cluster run
//     must equal byte for byte.
package mapreduce
