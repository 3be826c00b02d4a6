// Package jobs holds gomr's built-in jobs, registered under stable names
// that steps refer to: wordcount, invertedindex and logagg. Each job is a
// Definition: its name, its options (the flags `gomr step add` accepts for
// it) and a constructor that validates option values and returns the
// configured mapreduce.Job. Workers and the sequential runner build jobs
// from the same definitions, so a step runs the same code everywhere.
package jobs
