package mapreduce

import (
	"fmt"

	"github.com/gomr/gomr/mapreduce/format"
)

// Record is one record of input handed to a Mapper: a line of a text,
// CSV or JSON lines file, or a row of a Parquet file. Every record has a
// Line, so a job that reads text (word count, grep) runs on any input
// format; CSV and Parquet records also carry their typed row.
type Record struct {
	// File is the path of the file the line was read from.
	File string
	// Doc is the document name of that file: its path relative to the input
	// folder it was found under, or its base name when the file was named
	// directly.
	Doc string
	// Offset is the byte offset of the line's first byte in File (in the
	// decompressed data of a compressed file). For a Parquet row it is the
	// offset of the row's row group.
	Offset int64
	// Line holds the line without its terminating "\n" (or "\r\n"). For a
	// Parquet row it is a text rendering of the row: its values formatted
	// by format.FormatValue, separated by tabs (a null is an empty field).
	// It is only valid until Map returns.
	Line []byte
	// Schema and Values are the row of a CSV or Parquet record: one value
	// per column of Schema (nil for text and JSON lines input). For CSV,
	// Schema is the file's header row, every column a nullable string
	// (the fields' text; an empty field is nil), for the job to parse
	// with the types it needs; for Parquet, it is the file's schema and
	// the values are typed. Both are only valid until Map returns.
	Schema format.Schema
	Values []format.Value

	lineInSplit int64
}

// Emitter receives the key/value pairs a Mapper, Combiner or Reducer
// produces. Key and value may be reused by the caller after Emit returns.
type Emitter interface {
	Emit(key, value []byte) error
}

// Mapper turns one input record into zero or more intermediate pairs.
type Mapper interface {
	Map(tc *TaskContext, rec Record, out Emitter) error
}

// FileMapper is a Mapper of whole files (a copy job such as distcp): a
// map task of a job whose mapper implements it hands it the split's files
// instead of their lines, and it writes files of its own naming into the
// task's output. Such jobs are map-only.
type FileMapper interface {
	Mapper
	MapFiles(tc *TaskContext, files []SplitFile, fss *FileSystems, out TaskOutput) error
}

// Reducer folds all the values of one key. The same contract serves
// combiners, which run on map output and must emit pairs in the mapper's
// encoding, and reducers, whose pairs become output lines "key<TAB>value".
type Reducer interface {
	Reduce(key []byte, values *Values, out Emitter) error
}

// Partitioner assigns a key to one of n reduce partitions.
type Partitioner func(key []byte, n int) int

// HashPartition is the default Partitioner: FNV-1a of the key, modulo n.
func HashPartition(key []byte, n int) int {
	if n <= 1 {
		return 0
	}
	h := uint32(2166136261)
	for _, b := range key {
		h ^= uint32(b)
		h *= 16777619
	}
	return int(h % uint32(n))
}

// Job is one configured job: the functions a map and a reduce task call.
type Job struct {
	// Mapper is required.
	Mapper Mapper
	// Combiner is optional; it runs on every spill and on the final merge
	// of a map task's spills.
	Combiner Reducer
	// Reducer is required unless the step runs with zero reducers, in which
	// case the mapper's pairs are written as the output.
	Reducer Reducer
	// Partitioner defaults to HashPartition.
	Partitioner Partitioner
}

func (j *Job) partition(key []byte, n int) int {
	if j.Partitioner != nil {
		return j.Partitioner(key, n)
	}
	return HashPartition(key, n)
}

func (j *Job) validate() error {
	if j.Mapper == nil {
		return fmt.Errorf("job has no mapper")
	}
	return nil
}
