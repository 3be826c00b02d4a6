package jobs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

// sortCombiner hides a combiner's Fold, so a map task combines through
// the sort buffer instead of the hash table.
type sortCombiner struct{ mapreduce.Reducer }

// TestHashCombineEqualsSortPath runs every built-in job whose combiner
// folds (word count, grep, logagg) twice over the same splits, once
// combining in the map side's hash table and once through the sort
// buffer, with budgets that force many spills and with the default
// budget: the outputs are byte-identical.
func TestHashCombineEqualsSortPath(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text")
	logs := filepath.Join(dir, "logs")
	for _, d := range []string{text, logs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		var b bytes.Buffer
		if err := WriteSampleText(&b, 120<<10, uint64(i)); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(text, "t"+string(rune('a'+i))), b.Bytes(), 0o644)
		b.Reset()
		if err := WriteSampleAccessLog(&b, 2000, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), uint64(i)); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(logs, "l"+string(rune('a'+i))), b.Bytes(), 0o644)
	}
	for _, tc := range []struct {
		job   string
		opts  map[string]string
		input string
		few   bool // so few distinct keys that the table never spills
		sums  int  // the uvarints a value holds, the combiner being a UvarintSums
	}{
		{"wordcount", nil, text, false, 1},
		{"wordcount", map[string]string{"lower": "true"}, text, false, 1},
		{"grep", map[string]string{"regex": `\w*(ing|ed)\b`}, text, false, 1},
		// Request counts and byte sums of many bytes, from one table.
		{"logagg", map[string]string{"group-by": "status,hour"}, logs, true, 2},
		// Short counts and long sums, from many spills.
		{"logagg", map[string]string{"group-by": "status,minute"}, logs, false, 2},
		{"logagg", map[string]string{"group-by": "path,status"}, logs, false, 2},
	} {
		d, err := Lookup(tc.job)
		if err != nil {
			t.Fatal(err)
		}
		job, err := d.Build(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := job.Combiner.(mapreduce.Folder); !ok {
			t.Fatalf("%s: the combiner %T does not fold", tc.job, job.Combiner)
		}
		if us, ok := job.Combiner.(mapreduce.UvarintSums); !ok || us.UvarintFields() != tc.sums {
			t.Fatalf("%s: the combiner %T is not a UvarintSums of %d fields", tc.job, job.Combiner, tc.sums)
		}
		sorted := *job
		sorted.Combiner = sortCombiner{job.Combiner}
		files, err := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), []string{tc.input})
		if err != nil {
			t.Fatal(err)
		}
		splits, err := mapreduce.PlanSplits(files, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		for _, budget := range []int{1 << 10, 0} {
			run := func(j *mapreduce.Job, name string) (string, *mapreduce.Counters) {
				out := filepath.Join(t.TempDir(), name)
				c, err := mapreduce.RunSequential(context.Background(), j, splits, mapreduce.SequentialOptions{Reducers: 3, SortBufferBytes: budget, Output: out})
				if err != nil {
					t.Fatalf("%s %v budget %d (%s): %v", tc.job, tc.opts, budget, name, err)
				}
				return out, c
			}
			hashOut, hc := run(job, "hash")
			sortOut, sc := run(&sorted, "sort")
			for p := range 3 {
				name := mapreduce.PartName('r', p)
				h, err1 := os.ReadFile(filepath.Join(hashOut, name))
				s, err2 := os.ReadFile(filepath.Join(sortOut, name))
				if err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
				if !bytes.Equal(h, s) {
					t.Errorf("%s %v budget %d: %s differs between the hash table (%d bytes) and the sort buffer (%d bytes)", tc.job, tc.opts, budget, name, len(h), len(s))
				}
				if p == 0 && len(h) == 0 {
					t.Errorf("%s %v: empty output", tc.job, tc.opts)
				}
			}
			if budget == 1<<10 && !tc.few && hc.Get(mapreduce.Spills) == 0 {
				t.Errorf("%s %v budget %d: the hash table never spilled", tc.job, tc.opts, budget)
			}
			for _, k := range []string{mapreduce.MapInputRecords, mapreduce.MapOutputRecords, mapreduce.ReduceOutputRecords} {
				if hc.Get(k) != sc.Get(k) {
					t.Errorf("%s %v budget %d: %s %d (hash) and %d (sort)", tc.job, tc.opts, budget, k, hc.Get(k), sc.Get(k))
				}
			}
			if budget == 0 && hc.Get(mapreduce.SpilledRecords) >= sc.Get(mapreduce.MapOutputRecords) {
				t.Errorf("%s %v: the hash table spilled %d records of %d emitted", tc.job, tc.opts, hc.Get(mapreduce.SpilledRecords), sc.Get(mapreduce.MapOutputRecords))
			}
		}
	}
}
