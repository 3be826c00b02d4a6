package mapreduce

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// countFolder is countReducer as a combiner that folds.
type countFolder struct{ countReducer }

func (countFolder) Fold(acc, value []byte) ([]byte, error) {
	a, _ := binary.Uvarint(acc)
	b, _ := binary.Uvarint(value)
	return binary.AppendUvarint(acc[:0], a+b), nil
}

// countSummer is countFolder as a UvarintSums: the table keeps integers.
type countSummer struct{ countFolder }

func (countSummer) UvarintFields() int { return 1 }

// fieldSummer adds values of n uvarints field by field, as a Folder, as
// a UvarintSums and as the sort path's combiner.
type fieldSummer struct{ n int }

func (f fieldSummer) UvarintFields() int { return f.n }

func (f fieldSummer) Fold(acc, value []byte) ([]byte, error) {
	a, err := f.decode(acc)
	if err != nil {
		return nil, err
	}
	b, err := f.decode(value)
	if err != nil {
		return nil, err
	}
	for i := range a {
		a[i] += b[i]
	}
	return f.encode(acc[:0], a), nil
}

func (f fieldSummer) Reduce(key []byte, values *Values, out Emitter) error {
	sums := make([]uint64, f.n)
	for values.Next() {
		v, err := f.decode(values.Value())
		if err != nil {
			return err
		}
		for i := range sums {
			sums[i] += v[i]
		}
	}
	return out.Emit(key, f.encode(nil, sums))
}

func (f fieldSummer) decode(b []byte) ([]uint64, error) {
	v := make([]uint64, f.n)
	for i := range v {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, fmt.Errorf("corrupt field %d", i)
		}
		v[i], b = n, b[k:]
	}
	return v, nil
}

func (fieldSummer) encode(b []byte, v []uint64) []byte {
	for _, x := range v {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

// listFolder joins a key's values with commas: its combined value grows
// with every value, beyond the room the table keeps for it.
type listFolder struct{}

func (listFolder) Fold(acc, value []byte) ([]byte, error) {
	return append(append(acc, ','), value...), nil
}

func (listFolder) Reduce(key []byte, values *Values, out Emitter) error {
	var parts []string
	for values.Next() {
		parts = append(parts, string(values.Value()))
	}
	return out.Emit(key, []byte(strings.Join(parts, ",")))
}

// sortedList is listFolder's reducer: the key's values, sorted.
type sortedList struct{}

func (sortedList) Reduce(key []byte, values *Values, out Emitter) error {
	var parts []string
	for values.Next() {
		parts = append(parts, strings.Split(string(values.Value()), ",")...)
	}
	slices.Sort(parts)
	return out.Emit(key, []byte(strings.Join(parts, ",")))
}

// hiddenFold hides a combiner's Fold: the sort buffer combines.
type hiddenFold struct{ Reducer }

// pairs returns a run's records partition by partition, as
// "partition\x00key\x00value".
func pairs(t *testing.T, r *Run) []string {
	t.Helper()
	var out []string
	for _, seg := range r.Segments {
		rd, s := r.OpenSegment(seg.Partition)
		if err := ReadPairs(rd, s, func(k, v []byte) error {
			out = append(out, fmt.Sprintf("%d\x00%s\x00%s", seg.Partition, k, v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestHashCombinerRuns feeds the same pairs to a hash combiner and to a
// sort buffer with the same combiner, at budgets from one that spills
// after a few keys to one that never spills: the map task's final runs
// hold the same records. The list combiner's values outgrow their room
// in the table, so they move, and at the smallest budget spill.
func TestHashCombinerRuns(t *testing.T) {
	keys := benchKeys(20000)
	for _, tc := range []struct {
		name     string
		combiner Reducer
		value    func(i int) []byte
	}{
		{"counts", countFolder{}, func(i int) []byte { return binary.AppendUvarint(nil, uint64(i%300)) }},
		{"integer counts", countSummer{}, func(i int) []byte { return binary.AppendUvarint(nil, uint64(i%300)) }},
		// Three fields: one-byte and multi-byte uvarints, and sums that
		// wrap around 2^64.
		{"integer triples", fieldSummer{3}, func(i int) []byte {
			return fieldSummer{}.encode(nil, []uint64{uint64(i % 100), uint64(i) * 7919, math.MaxUint64 / 3})
		}},
		{"lists", listFolder{}, func(i int) []byte { return []byte(fmt.Sprint(i)) }},
	} {
		for _, budget := range []int{1 << 10, 64 << 10, 64 << 20} {
			job := &Job{Mapper: fieldsMapper{}, Combiner: tc.combiner, Reducer: sortedList{}}
			hc, err := newHashCombiner(job, tc.combiner.(Folder), 4, budget, memStore{}, NewCounters())
			if err != nil {
				t.Fatal(err)
			}
			sorted := &Job{Mapper: fieldsMapper{}, Combiner: hiddenFold{tc.combiner}, Reducer: sortedList{}}
			sb, err := newSortBuffer(sorted, 4, budget, memStore{}, NewCounters())
			if err != nil {
				t.Fatal(err)
			}
			for i, k := range keys {
				if err := hc.Emit(k, tc.value(i)); err != nil {
					t.Fatal(err)
				}
				if err := sb.Emit(k, tc.value(i)); err != nil {
					t.Fatal(err)
				}
			}
			hr, err := hc.finish("out")
			if err != nil {
				t.Fatal(err)
			}
			sr, err := sb.finish("out")
			if err != nil {
				t.Fatal(err)
			}
			h, s := pairs(t, hr), pairs(t, sr)
			if tc.name == "lists" {
				// Spills may split a key's list differently: compare the
				// sets of values per key.
				h, s = normalizeLists(h), normalizeLists(s)
			}
			if !slices.Equal(h, s) {
				t.Errorf("%s, budget %d: the hash combiner's run (%d records) differs from the sort buffer's (%d records)", tc.name, budget, len(h), len(s))
			}
			if budget == 1<<10 && hc.counters.Get(Spills) == 0 {
				t.Errorf("%s, budget %d: no spill", tc.name, budget)
			}
			sb.release()
			hc.release()
		}
	}
}

// normalizeLists sorts the comma-separated values of each record.
func normalizeLists(recs []string) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		f := strings.SplitN(r, "\x00", 3)
		vals := strings.Split(f[2], ",")
		slices.Sort(vals)
		out[i] = f[0] + "\x00" + f[1] + "\x00" + strings.Join(vals, ",")
	}
	return out
}

// TestHashCombinerEmitAllocatesNothing: emitting a key the table holds
// (hash, look up, fold in place) allocates nothing.
func TestHashCombinerEmitAllocatesNothing(t *testing.T) {
	job := &Job{Mapper: fieldsMapper{}, Combiner: countFolder{}, Reducer: countReducer{text: true}}
	hc, err := newHashCombiner(job, countFolder{}, 8, 64<<20, memStore{}, NewCounters())
	if err != nil {
		t.Fatal(err)
	}
	keys := benchKeys(5000)
	for _, k := range keys {
		hc.Emit(k, []byte{1})
	}
	i := 0
	if n := testing.AllocsPerRun(10000, func() {
		hc.Emit(keys[i%len(keys)], oneCount)
		i++
	}); n != 0 {
		t.Errorf("Emit of a key in the table allocates %v times", n)
	}
	hs, err := newHashCombiner(job, countSummer{}, 8, 64<<20, memStore{}, NewCounters())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		hs.Emit(k, oneCount)
	}
	if n := testing.AllocsPerRun(10000, func() {
		hs.Emit(keys[i%len(keys)], oneCount)
		i++
	}); n != 0 {
		t.Errorf("Emit of a key in a table of counts allocates %v times", n)
	}
	hp, err := newHashCombiner(job, fieldSummer{2}, 8, 64<<20, memStore{}, NewCounters())
	if err != nil {
		t.Fatal(err)
	}
	pair := binary.AppendUvarint([]byte{1}, 31337)
	for _, k := range keys {
		hp.Emit(k, pair)
	}
	if n := testing.AllocsPerRun(10000, func() {
		hp.Emit(keys[i%len(keys)], pair)
		i++
	}); n != 0 {
		t.Errorf("Emit of a key in a table of pairs allocates %v times", n)
	}
}

// TestHashCombinerSumsCheckValues: a UvarintSums table refuses a value
// that is not exactly its number of uvarints, leaving the key's sums as
// they were, and a folder that declares no or too many fields.
func TestHashCombinerSumsCheckValues(t *testing.T) {
	job := &Job{Mapper: fieldsMapper{}, Combiner: fieldSummer{2}, Reducer: countReducer{text: true}}
	for _, n := range []int{0, -1, MaxUvarintFields + 1} {
		if _, err := newHashCombiner(job, fieldSummer{n}, 4, 1<<20, memStore{}, NewCounters()); err == nil {
			t.Errorf("a folder of %d uvarints a value was accepted", n)
		}
	}
	hc, err := newHashCombiner(job, fieldSummer{2}, 4, 1<<20, memStore{}, NewCounters())
	if err != nil {
		t.Fatal(err)
	}
	good := fieldSummer{}.encode(nil, []uint64{3, 1000})
	for _, bad := range [][]byte{
		{},
		{5},                // one field of two
		{5, 6, 7},          // a byte after the two fields
		{5, 0x80},          // the second field cut short
		append(good, 0),    // multi-byte fields, then a byte
		{0x80, 0x80, 0x80}, // no field ends
		good[:len(good)-1], // cut short
	} {
		if err := hc.Emit([]byte("new"), bad); err == nil {
			t.Errorf("value %x of a new key accepted", bad)
		}
		if err := hc.Emit([]byte("k"), good); err != nil {
			t.Fatal(err)
		}
		if err := hc.Emit([]byte("k"), bad); err == nil {
			t.Errorf("value %x of a key in the table accepted", bad)
		}
	}
	run, err := hc.finish("out")
	if err != nil {
		t.Fatal(err)
	}
	want := fieldSummer{}.encode(nil, []uint64{7 * 3, 7 * 1000})
	if got := pairs(t, run); len(got) != 1 || !bytes.HasSuffix([]byte(got[0]), append([]byte("\x00k\x00"), want...)) {
		t.Errorf("the table holds %q, want only k with %x", got, want)
	}
}

// BenchmarkMapSideCombine emits word-like keys with a count of one
// through the hash combiner; the baseline sends the same pairs through
// the sort buffer with the same combiner (x_vs_baseline: how many times
// faster the hash table is).
func BenchmarkMapSideCombine(b *testing.B) {
	keys := benchKeys(1 << 20)
	var size int64
	for _, k := range keys {
		size += int64(len(k) + 1)
	}
	one := []byte{1}
	hashJob := &Job{Mapper: fieldsMapper{}, Combiner: countFolder{}, Reducer: countReducer{text: true}}
	sortJob := &Job{Mapper: fieldsMapper{}, Combiner: hiddenFold{countFolder{}}, Reducer: countReducer{text: true}}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		hc, _ := newHashCombiner(hashJob, countFolder{}, 4, DefaultSortBufferBytes, memStore{}, NewCounters())
		for _, k := range keys {
			hc.Emit(k, one)
		}
		if _, err := hc.finish("out"); err != nil {
			b.Fatal(err)
		}
	}
	reportRatio(b, time.Since(start), func() {
		sb, _ := newSortBuffer(sortJob, 4, DefaultSortBufferBytes, memStore{}, NewCounters())
		for _, k := range keys {
			sb.Emit(k, one)
		}
		if _, err := sb.finish("out"); err != nil {
			b.Fatal(err)
		}
		sb.release()
	})
}

// oneCount is the varint 1.
var oneCount = []byte{1}
