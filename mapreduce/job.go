package mapreduce

import "fmt"

// Record is one line of input handed to a Mapper.
type Record struct {
	// File is the path of the file the line was read from.
	File string
	// Doc is the document name of that file: its path relative to the input
	// folder it was found under, or its base name when the file was named
	// directly.
	Doc string
	// Offset is the byte offset of the line's first byte in File.
	Offset int64
	// Line holds the line without its terminating "\n" (or "\r\n"). It is
	// only valid until Map returns.
	Line []byte

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
