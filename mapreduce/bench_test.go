package mapreduce

import (
	"bytes"
	"fmt"
	"math/rand/v2"
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
		readers := make([]*segmentReader, len(runs))
		for i, r := range runs {
			rd, seg := r.OpenSegment(0)
			readers[i] = newSegmentReader(rd, seg, "bench")
		}
		it, err := newMergeIter(readers)
		if err != nil {
			b.Fatal(err)
		}
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
