package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

// Baselines: the programs a user might pick instead of gomr.
const (
	baselineSingle    = "single"
	baselineCoreutils = "coreutils"
	baselineGNUSort   = "gnusort"
)

// baselineJobs says which jobs each baseline computes.
var baselineJobs = map[string][]string{
	baselineSingle:    singleJobs,
	baselineCoreutils: {"wordcount"},
	baselineGNUSort:   {"terasort"},
}

// parseBaselines checks the --baseline values (each may be a comma list)
// against the job, keeping the order given and dropping repeats.
func parseBaselines(values []string, job string) ([]string, error) {
	var out []string
	for _, v := range values {
		for b := range strings.SplitSeq(v, ",") {
			b = strings.TrimSpace(b)
			if b == "" || slices.Contains(out, b) {
				continue
			}
			jobsOf, ok := baselineJobs[b]
			if !ok {
				return nil, fmt.Errorf("--baseline %q: want %s, %s or %s", b, baselineSingle, baselineCoreutils, baselineGNUSort)
			}
			if !slices.Contains(jobsOf, job) {
				return nil, fmt.Errorf("--baseline %s: there is one for %s only, not for %s", b, strings.Join(jobsOf, " and "), job)
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// baselineEnv describes what a baseline runs on and checks against.
type baselineEnv struct {
	job   string
	opts  map[string]string // every job option, defaults included
	files []string          // the input files, in order
	work  string            // a folder for outputs
	// ref is gomr's reference output (the sequential run's folder), read
	// through fss.
	ref string
	fss *mapreduce.FileSystems
	// refPairs reads ref as key → value, once.
	refPairs func() (keyedOutput, error)
}

// newBaselineMode returns the timed mode of a baseline. Each run checks
// its output against gomr's, key by key; a difference is an error.
func newBaselineMode(b string, env baselineEnv) (*benchMode, error) {
	m := &benchMode{row: benchRow{Mode: b, Name: b, Workers: 1, Output: "same as gomr"}}
	switch b {
	case baselineSingle:
		single, err := singleBaseline(env.job, env.opts)
		if err != nil {
			return nil, err
		}
		m.inProcess = true
		m.run = func(ctx context.Context, r int) (float64, error) {
			out := filepath.Join(env.work, fmt.Sprintf("single-%d", r))
			defer os.Remove(out)
			start := time.Now()
			if err := single(ctx, env.files, out); err != nil {
				return 0, fmt.Errorf("single baseline: %w", err)
			}
			secs := time.Since(start).Seconds()
			want, err := env.refPairs()
			if err != nil {
				return 0, err
			}
			got, err := readPairsFile(out)
			if err != nil {
				return 0, err
			}
			return secs, compareKeyed("single baseline", want, got)
		}
	case baselineCoreutils:
		lower, _ := strconv.ParseBool(env.opts["lower"])
		m.run = func(ctx context.Context, r int) (float64, error) {
			start := time.Now()
			out, err := runCoreutils(ctx, env.files, lower)
			if err != nil {
				return 0, err
			}
			secs := time.Since(start).Seconds()
			want, err := env.refPairs()
			if err != nil {
				return 0, err
			}
			got, err := readUniqCounts(bytes.NewReader(out), "uniq -c output")
			if err != nil {
				return 0, err
			}
			if err := compareKeyed("coreutils", want, got); err != nil {
				return 0, fmt.Errorf("%w (tr splits words at every byte that is not an ASCII letter, gomr at every character that is not a Unicode letter: they agree on ASCII input such as --generate's)", err)
			}
			return secs, nil
		}
	case baselineGNUSort:
		return newGNUSortMode(env)
	default:
		return nil, fmt.Errorf("--baseline %q: unknown", b)
	}
	return m, nil
}

// coreutilsScript is the classic shell word count. With LC_ALL=C, tr
// keeps runs of ASCII letters only.
const coreutilsScript = `cat "$@" | tr -cs A-Za-z '\n' | sort | uniq -c`

// coreutilsLowerScript is coreutilsScript for --lower.
const coreutilsLowerScript = `cat "$@" | tr -cs A-Za-z '\n' | tr A-Z a-z | sort | uniq -c`

// runCoreutils runs the shell word count over files and returns what
// uniq -c printed.
func runCoreutils(ctx context.Context, files []string, lower bool) ([]byte, error) {
	script := coreutilsScript
	if lower {
		script = coreutilsLowerScript
	}
	c := exec.CommandContext(ctx, "bash", append([]string{"-c", "set -o pipefail; " + script, "bench"}, files...)...)
	c.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("coreutils pipeline: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
