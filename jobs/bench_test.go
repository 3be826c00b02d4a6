package jobs

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gomr/gomr/mapreduce"
)

// BenchmarkTokenize measures splitting text into words. The baseline is
// strings.FieldsFunc with unicode.IsLetter, the plainest correct way.
func BenchmarkTokenize(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteSampleText(&buf, 4<<20, 7); err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(buf.Bytes(), []byte{'\n'})
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	var n int
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for _, l := range lines {
			forEachWord(l, func([]byte) error { n++; return nil })
		}
	}
	own := time.Since(start)
	b.StopTimer()
	start = time.Now()
	for range b.N {
		for _, l := range lines {
			n += len(strings.FieldsFunc(string(l), func(r rune) bool { return !unicode.IsLetter(r) }))
		}
	}
	b.ReportMetric(float64(time.Since(start))/float64(own), "x_vs_baseline")
}

// BenchmarkLogAggSequential measures logagg --group-by status,hour over
// 100,000 access-log lines (about 19 MB) through the sequential runner:
// 4 MiB splits, 4 reducers. The baseline computes the same sums with a
// Go map and the same parser and keys (AccessLogGrouper), as gomr bench's
// single baseline does, so x_vs_baseline (below 1) is what the engine's
// map, combine and reduce paths cost beyond the job's own work.
func BenchmarkLogAggSequential(b *testing.B) {
	dir := b.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		b.Fatal(err)
	}
	var log bytes.Buffer
	if err := WriteSampleAccessLog(&log, 100_000, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 1); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "access.log"), log.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	opts := map[string]string{"group-by": "status,hour"}
	d, err := Lookup("logagg")
	if err != nil {
		b.Fatal(err)
	}
	job, err := d.Build(opts)
	if err != nil {
		b.Fatal(err)
	}
	files, err := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), []string{in})
	if err != nil {
		b.Fatal(err)
	}
	splits, err := mapreduce.PlanSplits(files, 4<<20)
	if err != nil {
		b.Fatal(err)
	}
	g, err := NewAccessLogGrouper(opts["group-by"])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(log.Len()))
	b.ReportAllocs()
	i := 0
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		i++
		out := filepath.Join(dir, fmt.Sprint("out", i))
		if _, err := mapreduce.RunSequential(context.Background(), job, splits, mapreduce.SequentialOptions{Reducers: 4, Output: out}); err != nil {
			b.Fatal(err)
		}
	}
	own := time.Since(start)
	b.StopTimer()
	start = time.Now()
	for range b.N {
		sums := map[string]*[2]uint64{}
		var key []byte
		for line := range bytes.SplitSeq(log.Bytes(), []byte{'\n'}) {
			k, n, err := g.AppendKey(key[:0], line)
			if key = k; err != nil {
				continue
			}
			if s, ok := sums[string(key)]; ok {
				s[0]++
				s[1] += uint64(n)
			} else {
				sums[string(key)] = &[2]uint64{1, uint64(n)}
			}
		}
		var out bytes.Buffer
		for _, k := range slices.Sorted(maps.Keys(sums)) {
			fmt.Fprintf(&out, "%s\t%d\t%d\n", k, sums[k][0], sums[k][1])
		}
	}
	b.ReportMetric(float64(time.Since(start))/float64(own), "x_vs_baseline")
}
