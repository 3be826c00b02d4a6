package mapreduce

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// benchKeys returns n word-like keys with a skewed distribution.
func benchKeys(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 2, 50000)
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("w%x", zipf.Uint64()))
	}
	return keys
}

// reportRatio times baseline for b.N iterations after the benchmark's own
// loop and reports how many times faster the benchmarked code ran.
func reportRatio(b *testing.B, own time.Duration, baseline func()) {
	b.StopTimer()
	start := time.Now()
	for range b.N {
		baseline()
	}
	b.ReportMetric(float64(time.Since(start))/float64(own), "x_vs_baseline")
}

// BenchmarkPartitionSort measures the map side's hot path: hashing keys into
// partitions, buffering them and sorting the buffer into a run. The
// baseline sorts the same keys as a slice of byte slices.
func BenchmarkPartitionSort(b *testing.B) {
	keys := benchKeys(200000)
	job := &Job{Mapper: fieldsMapper{}}
	var size int64
	for _, k := range keys {
		size += int64(len(k) + 1)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		sb, err := newSortBuffer(job, 8, 1<<30, memStore{}, NewCounters())
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			sb.Emit(k, []byte{1})
		}
		if _, err := sb.writeSorted("run", ""); err != nil {
			b.Fatal(err)
		}
	}
	reportRatio(b, time.Since(start), func() {
		s := slices.Clone(keys)
		slices.SortFunc(s, bytes.Compare)
	})
}

// mergeRunsForBench returns a merge of partition 0 of every run.
func mergeRunsForBench(b *testing.B, runs []*Run) *mergeIter {
	inputs := make([]SegmentInput, len(runs))
	for i, r := range runs {
		rd, seg := r.OpenSegment(0)
		inputs[i] = SegmentInput{Name: "bench", Reader: rd, Segment: seg}
	}
	it, err := newMergeIter(newSegmentReaders(inputs))
	if err != nil {
		b.Fatal(err)
	}
	return it
}

// BenchmarkMerge measures merging 16 sorted runs and grouping their keys.
// The baseline concatenates the records and sorts them.
func BenchmarkMerge(b *testing.B) {
	keys := benchKeys(200000)
	job := &Job{Mapper: fieldsMapper{}}
	var runs []*Run
	for i := range 16 {
		sb, _ := newSortBuffer(job, 1, 1<<30, memStore{}, NewCounters())
		for _, k := range keys[i*len(keys)/16 : (i+1)*len(keys)/16] {
			sb.Emit(k, []byte{1})
		}
		r, err := sb.writeSorted("run", "")
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, r)
	}
	b.SetBytes(runs[0].Bytes() * 16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		it := mergeRunsForBench(b, runs)
		g := newGrouper(it)
		for g.nextGroup() {
			g.vals.drain()
		}
		if g.err != nil {
			b.Fatal(g.err)
		}
	}
	reportRatio(b, time.Since(start), func() {
		s := slices.Clone(keys)
		slices.SortFunc(s, bytes.Compare)
	})
}

// BenchmarkMergeManyRuns measures a TeraSort reduce's merge: 128 sorted
// runs of 100-byte records with random 10-byte keys (a 10 GB TeraSort's
// reduce merges about 150), in files, as a reduce reads most of them. The
// baseline is BenchmarkMerge's: the keys sorted as a slice.
func BenchmarkMergeManyRuns(b *testing.B) {
	const runCount, perRun = 128, 4000
	rng := rand.New(rand.NewPCG(3, 4))
	job := &Job{Mapper: fieldsMapper{}}
	var runs []*Run
	var keys [][]byte
	for range runCount {
		sb, _ := newSortBuffer(job, 1, 1<<30, diskStore{dir: b.TempDir()}, NewCounters())
		rec := make([]byte, 100)
		for range perRun {
			for i := range rec {
				rec[i] = byte(rng.Uint32())
			}
			sb.Emit(rec[:10], rec[10:])
			keys = append(keys, slices.Clone(rec[:10]))
		}
		r, err := sb.writeSorted("run", "")
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		runs = append(runs, r)
	}
	b.SetBytes(runCount * perRun * 100)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		it := mergeRunsForBench(b, runs)
		n := 0
		for {
			_, _, ok, err := it.next()
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
			n++
		}
		if n != runCount*perRun {
			b.Fatalf("merged %d records, want %d", n, runCount*perRun)
		}
	}
	reportRatio(b, time.Since(start), func() {
		s := slices.Clone(keys)
		slices.SortFunc(s, bytes.Compare)
	})
}

// lengthMapper emits each line's first byte with its length as a
// uvarint: a map function that costs little beside the engine.
type lengthMapper struct{ value []byte }

func (m *lengthMapper) Map(_ *TaskContext, rec Record, out Emitter) error {
	if len(rec.Line) == 0 {
		return nil
	}
	m.value = binary.AppendUvarint(m.value[:0], uint64(len(rec.Line)))
	return out.Emit(rec.Line[:1], m.value)
}

// BenchmarkMapTaskLines measures a map task's own cost per line: reading
// a 16 MiB split of 200-byte lines, calling the mapper and combining its
// pairs (few distinct keys) in the hash table. The baseline reads the
// same file with a 4 MiB bufio.Reader and sums the lengths in a Go map.
func BenchmarkMapTaskLines(b *testing.B) {
	path := filepath.Join(b.TempDir(), "lines")
	var buf bytes.Buffer
	rng := rand.New(rand.NewPCG(3, 4))
	for buf.Len() < 16<<20 {
		for range 180 + rng.IntN(40) {
			buf.WriteByte(byte('a' + rng.IntN(26)))
		}
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	job := &Job{Mapper: &lengthMapper{}, Combiner: countSummer{}, Reducer: countReducer{}}
	task := MapTask{Job: job, Split: Split{File: path, Length: int64(buf.Len())}, FileSystems: LocalFileSystems(), Reducers: 4}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := RunMap(context.Background(), task); err != nil {
			b.Fatal(err)
		}
	}
	reportRatio(b, time.Since(start), func() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		r := bufio.NewReaderSize(f, 4<<20)
		sums := map[string]uint64{}
		for {
			line, err := r.ReadSlice('\n')
			if len(line) > 1 {
				sums[string(line[:1])] += uint64(len(line) - 1)
			}
			if err != nil {
				break
			}
		}
	})
}
