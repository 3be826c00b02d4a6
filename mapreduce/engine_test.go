package mapreduce

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomr/gomr/hdfs"
)

// fieldsMapper emits (field, "1") for every space-separated field.
type fieldsMapper struct{}

func (fieldsMapper) Map(_ *TaskContext, rec Record, out Emitter) error {
	for _, f := range bytes.Fields(rec.Line) {
		if err := out.Emit(f, []byte{1}); err != nil {
			return err
		}
	}
	return nil
}

// countReducer sums varint counts; as a combiner it emits varints, as a
// reducer decimal.
type countReducer struct{ text bool }

func (c countReducer) Reduce(key []byte, values *Values, out Emitter) error {
	var n uint64
	for values.Next() {
		v, _ := binary.Uvarint(values.Value())
		n += v
	}
	if c.text {
		return out.Emit(key, strconv.AppendUint(nil, n, 10))
	}
	return out.Emit(key, binary.AppendUvarint(nil, n))
}

// concatReducer joins the values of a key in the order they arrive.
type concatReducer struct{}

func (concatReducer) Reduce(key []byte, values *Values, out Emitter) error {
	var parts []string
	for values.Next() {
		parts = append(parts, string(values.Value()))
	}
	return out.Emit(key, []byte(strings.Join(parts, ",")))
}

// lineMapper emits (first field, line offset) so value order is visible.
type lineMapper struct{}

func (lineMapper) Map(_ *TaskContext, rec Record, out Emitter) error {
	f := bytes.Fields(rec.Line)
	if len(f) == 0 {
		return nil
	}
	return out.Emit(f[0], []byte(strconv.FormatInt(rec.Offset, 10)))
}

func writeWords(t testing.TB, path string, rng *rand.Rand, lines int) {
	var b bytes.Buffer
	for range lines {
		for i := range 1 + rng.IntN(12) {
			if i > 0 {
				b.WriteByte(' ')
			}
			// Keys of many lengths, sharing long prefixes, to exercise the
			// prefix comparison.
			fmt.Fprintf(&b, "%s%d", strings.Repeat("k", rng.IntN(12)), rng.IntN(300))
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runSeq(t *testing.T, job *Job, input string, splitSize int64, reducers, budget int) (map[string]string, *Counters) {
	t.Helper()
	files, err := ListInputs(context.Background(), LocalFileSystems(), []string{input})
	if err != nil {
		t.Fatal(err)
	}
	splits, err := PlanSplits(files, splitSize)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	c, err := RunSequential(context.Background(), job, splits, SequentialOptions{FileSystems: LocalFileSystems(), Reducers: reducers, SortBufferBytes: budget, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "part-") {
			b, _ := os.ReadFile(filepath.Join(out, e.Name()))
			got[e.Name()] = string(b)
		}
	}
	return got, c
}

func TestSpillGivesSameOutputAsNoSpill(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	in := filepath.Join(t.TempDir(), "words.txt")
	writeWords(t, in, rand.New(rand.NewPCG(seed, 2)), 3000)
	for _, tc := range []struct {
		name string
		job  *Job
	}{
		{"combiner", &Job{Mapper: fieldsMapper{}, Combiner: countReducer{}, Reducer: countReducer{text: true}}},
		{"no combiner", &Job{Mapper: fieldsMapper{}, Reducer: countReducer{text: true}}},
		{"value order", &Job{Mapper: lineMapper{}, Reducer: concatReducer{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			big, bc := runSeq(t, tc.job, in, 1<<30, 3, 64<<20)
			// Output is well over 20 times this budget.
			small, sc := runSeq(t, tc.job, in, 1<<30, 3, 1<<10)
			if bc.Get(Spills) != 0 {
				t.Fatalf("large budget spilled %d times", bc.Get(Spills))
			}
			if sc.Get(MapOutputBytes) < 20<<10 || sc.Get(Spills) < 20 {
				t.Fatalf("small budget: %d output bytes, %d spills: not 20 times the budget", sc.Get(MapOutputBytes), sc.Get(Spills))
			}
			if len(big) != 3 {
				t.Fatalf("%d part files", len(big))
			}
			for name, want := range big {
				if small[name] != want {
					t.Fatalf("%s differs with spills", name)
				}
			}
		})
	}
}

func TestOutputMatchesPlainCount(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	in := filepath.Join(dir, "words.txt")
	writeWords(t, in, rand.New(rand.NewPCG(seed, 3)), 2000)
	text, _ := os.ReadFile(in)
	want := map[string]int{}
	for _, w := range strings.Fields(string(text)) {
		want[w]++
	}
	job := &Job{Mapper: fieldsMapper{}, Combiner: countReducer{}, Reducer: countReducer{text: true}}
	parts, c := runSeq(t, job, in, 777, 4, 8<<10)
	got := map[string]int{}
	for name, body := range parts {
		var keys []string
		for line := range strings.SplitSeq(strings.TrimSuffix(body, "\n"), "\n") {
			if line == "" {
				continue
			}
			k, v, _ := strings.Cut(line, "\t")
			n, _ := strconv.Atoi(v)
			got[k] += n
			keys = append(keys, k)
			if p := HashPartition([]byte(k), 4); name != PartName('r', p) {
				t.Fatalf("key %q in %s, partition %d", k, name, p)
			}
		}
		if !slices.IsSorted(keys) {
			t.Fatalf("%s is not sorted", name)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d keys, want %d", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("%q: %d, want %d", k, got[k], n)
		}
	}
	if c.Get(ReduceOutputRecords) != int64(len(want)) || c.Get(MapInputRecords) != 2000 {
		t.Fatalf("counters %v", c.Map())
	}
}

func TestCorruptRunIsDetected(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "words.txt")
	writeWords(t, in, rand.New(rand.NewPCG(9, 9)), 500)
	info, _ := os.Stat(in)
	job := &Job{Mapper: fieldsMapper{}, Reducer: countReducer{text: true}}
	res, err := RunMap(context.Background(), MapTask{FileSystems: LocalFileSystems(), Job: job, Split: Split{File: in, Length: info.Size()}, Reducers: 2, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	res.Output.Close()
	path := filepath.Join(dir, OutputName)
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0x40
	os.WriteFile(path, b, 0o644)
	run, err := OpenRun(path)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	var failed error
	for p := range run.Segments {
		r, seg := run.OpenSegment(p)
		if err := ReadPairs(r, seg, func(k, v []byte) error { return nil }); err != nil {
			failed = err
		}
	}
	var ce *hdfs.ChecksumError
	if !errors.As(failed, &ce) {
		t.Fatalf("corrupt run read without a checksum error: %v", failed)
	}
}

func TestCombinerMustKeepItsKey(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "words.txt")
	os.WriteFile(in, []byte("a b a\n"), 0o644)
	job := &Job{Mapper: fieldsMapper{}, Combiner: renamingCombiner{}, Reducer: countReducer{text: true}}
	_, err := RunMap(context.Background(), MapTask{FileSystems: LocalFileSystems(), Job: job, Split: Split{File: in, Length: 6}, Reducers: 1})
	if err == nil || !strings.Contains(err.Error(), "combiner must keep its key") {
		t.Fatalf("got %v", err)
	}
}

type renamingCombiner struct{}

func (renamingCombiner) Reduce(key []byte, values *Values, out Emitter) error {
	return out.Emit(append([]byte("x"), key...), []byte{1})
}

// upperMapper emits each line upper-cased, with its offset as the value.
type upperMapper struct{}

func (upperMapper) Map(_ *TaskContext, rec Record, out Emitter) error {
	return out.Emit(bytes.ToUpper(rec.Line), []byte(strconv.FormatInt(rec.Offset, 10)))
}

func TestMapOnlyWritesMapperOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("b\na\nc\n"), 0o644)
	files, _ := ListInputs(context.Background(), LocalFileSystems(), []string{in})
	splits, _ := PlanSplits(files, 4)
	out := filepath.Join(dir, "out")
	c, err := RunSequential(context.Background(), &Job{Mapper: upperMapper{}}, splits, SequentialOptions{FileSystems: LocalFileSystems(), Reducers: 0, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range splits {
		b, err := os.ReadFile(filepath.Join(out, PartName('m', i)))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	// Map-only output keeps each split's lines in input order, unsorted.
	if strings.Join(got, "|") != "B\t0\nA\t2\n|C\t4\n" || c.Get(MapOutputRecords) != 3 {
		t.Fatalf("part-m files %q, counters %v", got, c.Map())
	}
	if _, err := os.Stat(filepath.Join(out, SuccessFile)); err != nil {
		t.Fatal(err)
	}
}
