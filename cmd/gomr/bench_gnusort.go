package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomr/gomr/jobs"
)

// gnuSortArgs is how the gnusort baseline runs sort: in the C locale
// (set in its environment), with a 4 GiB buffer and two threads.
var gnuSortArgs = []string{"-S", "4G", "--parallel=2"}

// newGNUSortMode returns the timed mode of GNU sort over the TeraSort
// records as fixed-width text lines (jobs.AppendTeraLine), whose order
// under LC_ALL=C is the records' key order. The lines are made once,
// untimed, before the first run: a user who sorts with sort keeps the
// data as lines. Each run's output is checked against gomr's reference
// output record by record.
func newGNUSortMode(env baselineEnv) (*benchMode, error) {
	lines := filepath.Join(env.work, "tera-lines")
	if err := teraLinesFile(env.files, lines); err != nil {
		return nil, err
	}
	m := &benchMode{row: benchRow{Mode: baselineGNUSort, Name: baselineGNUSort, Workers: 1, Output: "same as gomr"}}
	m.run = func(ctx context.Context, r int) (float64, error) {
		out := filepath.Join(env.work, fmt.Sprintf("gnusort-%d", r))
		defer os.Remove(out)
		args := append(append([]string{}, gnuSortArgs...), "-T", env.work, "-o", out, lines)
		c := exec.CommandContext(ctx, "sort", args...)
		c.Env = append(os.Environ(), "LC_ALL=C")
		var stderr bytes.Buffer
		c.Stderr = &stderr
		start := time.Now()
		if err := c.Run(); err != nil {
			return 0, fmt.Errorf("sort %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		secs := time.Since(start).Seconds()
		f, err := os.Open(out)
		if err != nil {
			return 0, fmt.Errorf("gnusort output: %w", err)
		}
		defer f.Close()
		if err := jobs.CheckTeraSortOutput(ctx, env.fss, env.ref, bufio.NewReaderSize(f, 1<<20)); err != nil {
			return 0, fmt.Errorf("gnusort: gomr's output differs from sort's: %w", err)
		}
		return secs, nil
	}
	return m, nil
}

// teraLinesFile writes the records of files, in order, as text lines into
// one file.
func teraLinesFile(files []string, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("tera lines: %w", err)
	}
	for _, in := range files {
		f, err := os.Open(in)
		if err != nil {
			out.Close()
			return fmt.Errorf("tera lines: %w", err)
		}
		err = jobs.TeraRecordsToLines(f, out)
		f.Close()
		if err != nil {
			out.Close()
			return fmt.Errorf("tera lines of %s: %w", in, err)
		}
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("tera lines: %w", err)
	}
	return nil
}
