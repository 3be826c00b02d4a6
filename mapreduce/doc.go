// Package mapreduce is the engine a task runs: the contracts a job implements
// (Mapper, Reducer, Partitioner), input listing and split planning, the line
// reader that gives a split exactly the lines that start inside it, the map
// side sort buffer that partitions, sorts, combines and spills within a memory
// budget, the k-way merge, the reduce-side grouping, and the output writers
// and their committer.
//
// Input formats (records.go): text and JSON lines are read as lines; CSV as
// a header row and then one row per line (rows that span lines are
// rejected, as a split cannot tell where such a row starts); Parquet as
// the rows of the row groups a split owns (PlanParquetSplits); tera as
// TeraSort's fixed-width 100-byte binary records (fixedrecords.go), whose
// keys may hold any byte, a split owning the records that start in it.
// Files named
// .gz, .bz2 or .zst are decompressed in every format and read whole by one
// map task (Splittable). A CSV row the reader cannot use is a counted
// reject, copied to the step's _rejects/; a corrupt compressed stream or
// Parquet file is an *InputError naming the file, which fails the task for
// good.
//
// Output formats (output.go): an OutputWriter per part file, text
// (TextWriter) or typed — CSV with a header row, JSON lines, Parquet —
// whose rows come from the job's output pairs through its RowSchema, with
// the part file's name giving the format and codec (part-r-00000.csv.gz);
// tera writes each pair as one fixed-width record, key then value.
//
// Invariants:
//
//   - A split owns every line whose first byte lies in [Offset, Offset+Length),
//     so at any split size every line of a file is read exactly once; a
//     Parquet split likewise owns the row groups whose first byte lies in
//     it, and a tera split the records.
//   - Keys are ordered by their raw bytes (bytes.Compare), within every run,
//     every merged segment and every part file.
//   - A run stores one segment per partition; each segment carries a CRC32C
//     that a reader checks before it trusts a record.
//   - The sequential runner (RunSequential) calls the same Mapper, Combiner
//     and Reducer through the same sort buffer and merge as a cluster task,
//     with runs kept in memory, so its output is the reference a cluster run
//     must equal byte for byte.
package mapreduce
