package mapreduce

import (
	"maps"
	"slices"
)

// Counter names the engine maintains. Jobs add their own (for example
// MALFORMED_RECORDS) through TaskContext.Counters.
const (
	MapInputRecords      = "MAP_INPUT_RECORDS"
	MapInputBytes        = "MAP_INPUT_BYTES"
	MapOutputRecords     = "MAP_OUTPUT_RECORDS"
	MapOutputBytes       = "MAP_OUTPUT_BYTES"
	CombineInputRecords  = "COMBINE_INPUT_RECORDS"
	CombineOutputRecords = "COMBINE_OUTPUT_RECORDS"
	SpilledRecords       = "SPILLED_RECORDS"
	Spills               = "SPILLS"
	// A map task's output run as the shuffle moves it (compressed, if
	// the worker compresses map output), and before compression.
	MapOutputMaterialized = "MAP_OUTPUT_MATERIALIZED_BYTES"
	MapOutputRunBytes     = "MAP_OUTPUT_RUN_BYTES"
	ReduceShuffleBytes    = "REDUCE_SHUFFLE_BYTES"
	ReduceInputGroups     = "REDUCE_INPUT_GROUPS"
	ReduceInputRecords    = "REDUCE_INPUT_RECORDS"
	ReduceOutputRecords   = "REDUCE_OUTPUT_RECORDS"
	BytesWritten          = "BYTES_WRITTEN"
	RejectedRecords       = "REJECTED_RECORDS"
	// Where map tasks read their input (Hadoop's job counters): on a
	// node holding a replica, on another node of its rack (no racks yet:
	// always 0), or elsewhere.
	DataLocalMaps  = "DATA_LOCAL_MAPS"
	RackLocalMaps  = "RACK_LOCAL_MAPS"
	OtherLocalMaps = "OTHER_LOCAL_MAPS"
)

// Counters is a set of named 64-bit counters. The zero value is not usable;
// make one with NewCounters. It is not safe for concurrent use.
type Counters struct {
	m map[string]int64
}

// NewCounters returns an empty counter set.
func NewCounters() *Counters { return &Counters{m: make(map[string]int64)} }

// Add adds n to the named counter.
func (c *Counters) Add(name string, n int64) { c.m[name] += n }

// Get returns the named counter's value (0 if never added to).
func (c *Counters) Get(name string) int64 { return c.m[name] }

// Merge adds every counter of o into c.
func (c *Counters) Merge(o *Counters) {
	for k, v := range o.m {
		c.m[k] += v
	}
}

// Map returns a copy of the counters as a map.
func (c *Counters) Map() map[string]int64 { return maps.Clone(c.m) }

// Names returns the counter names in sorted order.
func (c *Counters) Names() []string { return slices.Sorted(maps.Keys(c.m)) }
