package clustertest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// AttemptEvent is a line of the workers' attempt log: "EVENT ATTEMPT
// WORKER UNIX-NANOS [RESULT]".
type AttemptEvent struct {
	Event, Attempt, Worker string
	At                     time.Time
	Result                 string
}

// ReadAttemptLog reads an attempt log; a log not written yet is empty.
func ReadAttemptLog(path string) ([]AttemptEvent, error) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var out []AttemptEvent
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		var ns int64
		fmt.Sscan(f[3], &ns)
		ev := AttemptEvent{Event: f[0], Attempt: f[1], Worker: f[2], At: time.Unix(0, ns)}
		if len(f) > 4 {
			ev.Result = f[4]
		}
		out = append(out, ev)
	}
	return out, nil
}

// TaskOf returns the task an attempt id belongs to: attempt_S_m_000003_1
// gives "m_000003".
func TaskOf(attempt string) string {
	parts := strings.Split(attempt, "_")
	if len(parts) < 4 {
		return attempt
	}
	return parts[len(parts)-3] + "_" + parts[len(parts)-2]
}

// RunsPerTask counts how many attempts of each task started, by the
// attempt log.
func RunsPerTask(evs []AttemptEvent) map[string]int {
	runs := map[string]int{}
	for _, ev := range evs {
		if ev.Event == "start" {
			runs[TaskOf(ev.Attempt)]++
		}
	}
	return runs
}

// Unfinished returns the attempts the log shows started and never ended:
// those of workers that died while running them.
func Unfinished(evs []AttemptEvent) []string {
	open := map[string]bool{}
	for _, ev := range evs {
		if ev.Event == "start" {
			open[ev.Attempt] = true
		} else {
			delete(open, ev.Attempt)
		}
	}
	var out []string
	for a := range open {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Median returns the middle of samples (the upper one of an even
// count), failing the test with a clear message when there is none.
func Median[T ~int64 | ~float64](t testing.TB, what string, samples []T) T {
	t.Helper()
	return Percentile(t, what, samples, 50)
}

// Percentile returns the p-th percentile of samples (nearest rank),
// failing the test with a clear message when there is none.
func Percentile[T ~int64 | ~float64](t testing.TB, what string, samples []T, p float64) T {
	t.Helper()
	if len(samples) == 0 {
		t.Fatalf("no %s measured: nothing to take a percentile of", what)
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	i := int(float64(len(s)) * p / 100)
	return s[min(i, len(s)-1)]
}
