package streaming

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

// goIdentity is the built-in equivalent of cat as a mapper: it emits each
// line cut at its first tab.
type goIdentity struct{}

func (goIdentity) Map(_ *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	if i := bytes.IndexByte(rec.Line, '\t'); i >= 0 {
		return out.Emit(rec.Line[:i], rec.Line[i+1:])
	}
	return out.Emit(rec.Line, nil)
}

const benchLines = 1 << 20

func benchInput(b *testing.B) string {
	var sb strings.Builder
	for i := range benchLines {
		fmt.Fprintf(&sb, "key%07d\tsome value of the line, %d\n", (i*7919)%benchLines, i)
	}
	p := filepath.Join(b.TempDir(), "in.txt")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPipe compares lines a second through cat as the mapper (and as
// the reducer) with the built-in identity mapper (and reducer), map-only
// and with one reducer.
func BenchmarkPipe(b *testing.B) {
	in := benchInput(b)
	files, _ := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), []string{in})
	splits, _ := mapreduce.PlanSplits(files, 16<<20)
	for _, reducers := range []int{0, 1} {
		for _, kind := range []string{"go", "cat"} {
			b.Run(fmt.Sprintf("reducers=%d/%s", reducers, kind), func(b *testing.B) {
				var job *mapreduce.Job
				if kind == "cat" {
					var err error
					if job, err = Build(map[string]string{"mapper": "cat", "reducer": "cat"}); err != nil {
						b.Fatal(err)
					}
				} else {
					job = &mapreduce.Job{Mapper: goIdentity{}, Reducer: identityReducer{}}
				}
				var total time.Duration
				for b.Loop() {
					out := filepath.Join(b.TempDir(), "out")
					start := time.Now()
					if _, err := mapreduce.RunSequential(context.Background(), job, splits, mapreduce.SequentialOptions{Reducers: reducers, Output: out}); err != nil {
						b.Fatal(err)
					}
					total += time.Since(start)
				}
				b.ReportMetric(float64(benchLines)*float64(b.N)/total.Seconds(), "lines/s")
				b.ReportMetric(float64(total.Nanoseconds())/float64(benchLines)/float64(b.N), "ns/line")
			})
		}
	}
}
