// Package jobs holds gomr's built-in jobs, registered under stable names
// that steps refer to: wordcount, invertedindex, logagg, grep, streaming,
// csv2parquet, distcp, and the sort benchmark teragen, terasort and
// teravalidate (compatible with Hadoop's). Each job is a Definition: its
// name, its options (the flags `gomr step add` accepts for it) and a
// constructor that validates option values and returns the configured
// mapreduce.Job.
// Workers and the sequential runner build jobs from the same definitions,
// so a step runs the same code everywhere.
//
// A job may also say how it reads and writes typed data (formats.go): the
// typed form of its output pairs, which --output-format csv, jsonl and
// parquet need (Definition.OutputFormat), the input formats it reads
// (Definition.BuildFor: logagg reads access logs or JSON lines), and
// options it computes once from the input when a step is submitted
// (Definition.Prepare: csv2parquet's inferred schema), which the step
// stores so that all its tasks agree.
//
// A job may also complete a step on the client before it is submitted
// (Definition.PrepareClient), as Hadoop's job client does: terasort
// samples its input there for its reducers' key ranges, and teragen,
// which reads no input, writes one control file per map task into the
// step's staging folder and makes it the step's input.
package jobs
