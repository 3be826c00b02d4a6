package jobs

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// TeraSortJob is the name of the job that sorts TeraSort records.
const TeraSortJob = "terasort"

// teraSortSampleSplits is how many splits the client samples keys from,
// spread evenly over the input (Hadoop's TeraSort samples 10).
const teraSortSampleSplits = 10

func teraSort() *Definition {
	return &Definition{
		Name: TeraSortJob,
		Summary: "sort 100-byte TeraSort records by their 10-byte key into globally ordered part files (terasort; " +
			"the client samples the input for the reducers' key ranges, as Hadoop's TeraSort)",
		Options: []Option{
			{Name: "samples", Usage: "keys the client samples from the input to pick the reducers' key ranges", Default: "100000"},
			{Name: "split-points", Usage: "the reducers' key ranges: R-1 keys in hex, comma-separated, in order (set at submission from the sampled input)"},
		},
		typed: &typedFormats{input: mapreduce.TeraInput, output: mapreduce.TeraOutput},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			points, err := ParseTeraSplitPoints(opts["split-points"])
			if err != nil {
				return nil, err
			}
			return &mapreduce.Job{
				Mapper:      &teraSortMapper{points: len(points)},
				Reducer:     teraSortReducer{},
				Partitioner: TeraRangePartitioner(points),
			}, nil
		},
		prepareClient: prepareTeraSort,
	}
}

// ParseTeraSplitPoints parses terasort's --split-points: keys in hex,
// comma-separated, strictly increasing.
func ParseTeraSplitPoints(s string) ([][]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var points [][]byte
	for i, f := range strings.Split(s, ",") {
		k, err := hex.DecodeString(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%w: --split-points: key %d (%q) is not hex: %v", ErrBadOption, i+1, f, err)
		}
		if len(points) > 0 && bytes.Compare(k, points[len(points)-1]) <= 0 {
			return nil, fmt.Errorf("%w: --split-points: key %d (%s) is not greater than the key before it", ErrBadOption, i+1, f)
		}
		points = append(points, k)
	}
	return points, nil
}

// FormatTeraSplitPoints writes split points as --split-points takes them.
func FormatTeraSplitPoints(points [][]byte) string {
	parts := make([]string, len(points))
	for i, p := range points {
		parts[i] = hex.EncodeToString(p)
	}
	return strings.Join(parts, ",")
}

// TeraRangePartitioner sends a key to the range of the split points it
// falls in: partition i holds the keys k with points[i-1] <= k <
// points[i] (Hadoop TeraSort's total order partitioner), so that part
// i's keys all come before part i+1's. It needs len(points)+1
// partitions; with fewer, the last takes the rest.
func TeraRangePartitioner(points [][]byte) mapreduce.Partitioner {
	return func(key []byte, n int) int {
		p := sort.Search(len(points), func(i int) bool { return bytes.Compare(key, points[i]) < 0 })
		return min(p, n-1)
	}
}

// TeraSplitPoints picks the keys that cut sorted samples into reducers
// ranges of about equal size (Hadoop's TeraInputFormat: the sample at
// every samples/reducers step), dropping repeats so that the points
// increase strictly.
func TeraSplitPoints(samples [][]byte, reducers int) [][]byte {
	if reducers <= 1 || len(samples) == 0 {
		return nil
	}
	slices.SortFunc(samples, bytes.Compare)
	step := float64(len(samples)) / float64(reducers)
	var points [][]byte
	for i := 1; i < reducers; i++ {
		k := samples[min(len(samples)-1, int(math.Round(step*float64(i))))]
		if len(points) > 0 && bytes.Compare(k, points[len(points)-1]) <= 0 {
			continue
		}
		points = append(points, k)
	}
	return points
}

// prepareTeraSort samples keys from the input on the client (as Hadoop's
// TeraSort client writes its partition file) and stores the reducers'
// split points in the step's options.
func prepareTeraSort(ctx context.Context, s *ClientStep, opts map[string]string) error {
	if s.Reducers < 1 {
		return fmt.Errorf("%w: terasort needs at least 1 reducer (--reducers)", ErrBadOption)
	}
	if opts["split-points"] != "" {
		points, err := ParseTeraSplitPoints(opts["split-points"])
		if err != nil {
			return err
		}
		if len(points)+1 != s.Reducers {
			return fmt.Errorf("%w: --split-points has %d keys for %d reducers: give R-1 keys, or none to sample the input", ErrBadOption, len(points), s.Reducers)
		}
		return nil
	}
	want, err := strconv.Atoi(opts["samples"])
	if err != nil || want < 1 || want > 10_000_000 {
		return fmt.Errorf("%w: --samples takes a number of keys from 1 to 10000000, got %q", ErrBadOption, opts["samples"])
	}
	samples, err := SampleTeraKeys(ctx, s.FileSystems, s.Inputs, s.SplitSize, want)
	if err != nil {
		return err
	}
	points := TeraSplitPoints(samples, s.Reducers)
	if s.Reducers > 1 && len(points)+1 != s.Reducers {
		return fmt.Errorf("the input's %d sampled keys give only %d distinct key ranges for %d reducers: use fewer reducers", len(samples), len(points)+1, s.Reducers)
	}
	opts["split-points"] = FormatTeraSplitPoints(points)
	return nil
}

// SampleTeraKeys reads up to want keys of TeraSort records from the
// input: the first records of up to 10 splits spread evenly over it.
// Input that is not whole records is an error naming the file and the
// offset of the truncated record.
func SampleTeraKeys(ctx context.Context, fss *mapreduce.FileSystems, inputs []string, splitSize int64, want int) ([][]byte, error) {
	files, err := mapreduce.ListInputsFor(ctx, fss, inputs, mapreduce.TeraInput)
	if err != nil {
		return nil, err
	}
	splits, err := mapreduce.PlanInput(ctx, fss, files, splitSize, mapreduce.TeraInput)
	if err != nil {
		return nil, err
	}
	if len(splits) == 0 {
		return nil, nil
	}
	picked := min(teraSortSampleSplits, len(splits))
	per := (want + picked - 1) / picked
	var samples [][]byte
	for i := 0; i < picked; i++ {
		sp := splits[i*len(splits)/picked]
		n := 0
		err := mapreduce.ReadRecords(ctx, fss, sp, mapreduce.TeraInput, 0, func(rec mapreduce.Record) bool {
			samples = append(samples, slices.Clone(rec.Line[:TeraKeyBytes]))
			n++
			return n < per && len(samples) < want
		})
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", sp.File, err)
		}
	}
	return samples, nil
}

// teraSortMapper hands each record on as its key and value.
type teraSortMapper struct {
	// points is how many split points the step's options hold.
	points int
}

// Setup refuses a step whose reducers do not match its split points.
func (m *teraSortMapper) Setup(tc *mapreduce.TaskContext) error {
	if r := tc.Info.Reducers; r > 0 && m.points+1 != r {
		return fmt.Errorf("the step has %d reducers but %d split points (--split-points must hold R-1 keys)", r, m.points)
	}
	return nil
}

// Cleanup implements mapreduce.TaskLifecycle.
func (m *teraSortMapper) Cleanup(*mapreduce.TaskContext, mapreduce.Emitter) error { return nil }

// Map emits the record's key and value.
func (m *teraSortMapper) Map(_ *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	if len(rec.Line) != TeraRecordBytes {
		return fmt.Errorf("a record of %d bytes: terasort reads %d-byte records (input format %s)", len(rec.Line), TeraRecordBytes, mapreduce.TeraInput)
	}
	return out.Emit(rec.Line[:TeraKeyBytes], rec.Line[TeraKeyBytes:])
}

// teraSortReducer writes every record of a key.
type teraSortReducer struct{}

// Reduce emits each value with its key.
func (teraSortReducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	for values.Next() {
		if err := out.Emit(key, values.Value()); err != nil {
			return err
		}
	}
	return nil
}
