package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// keyedOutput is a job's result as key → value, the value being the rest
// of a key<TAB>value line (for logagg "requests<TAB>bytes").
type keyedOutput map[string]string

// readPartPairs reads every part file of a gomr output folder into a
// keyedOutput. A key that appears twice is an error: a gomr output holds
// each key once.
func readPartPairs(dir string) (keyedOutput, error) {
	parts, err := partFiles(dir)
	if err != nil {
		return nil, err
	}
	out := keyedOutput{}
	for _, p := range parts {
		if err := readPairsInto(out, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readPairsFile reads one file of key<TAB>value lines.
func readPairsFile(path string) (keyedOutput, error) {
	out := keyedOutput{}
	return out, readPairsInto(out, path)
}

func readPairsInto(out keyedOutput, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read output: %w", err)
	}
	defer f.Close()
	return scanLines(f, path, func(n int, line string) error {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			return fmt.Errorf("%s:%d: no tab in %q", path, n, truncateText(line, 60))
		}
		if _, dup := out[k]; dup {
			return fmt.Errorf("%s:%d: key %q appears twice", path, n, k)
		}
		out[k] = v
		return nil
	})
}

// readUniqCounts reads the output of uniq -c ("  COUNT WORD" lines) as a
// word count. The one line with a count and no word, which tr gives for
// input that starts with a non-letter, is skipped.
func readUniqCounts(r io.Reader, name string) (keyedOutput, error) {
	out := keyedOutput{}
	err := scanLines(r, name, func(n int, line string) error {
		fields := strings.Fields(line)
		switch len(fields) {
		case 1:
			return nil
		case 2:
			if _, dup := out[fields[1]]; dup {
				return fmt.Errorf("%s:%d: word %q counted twice", name, n, fields[1])
			}
			out[fields[1]] = fields[0]
			return nil
		}
		return fmt.Errorf("%s:%d: not a uniq -c line: %q", name, n, truncateText(line, 60))
	})
	return out, err
}

// scanLines calls fn with every line of r and its number from 1.
func scanLines(r io.Reader, name string, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(n, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s after line %d: %w", name, n, err)
	}
	return nil
}

// compareKeyed checks that got holds exactly the keys and values of want.
// A difference is an error naming the first differing key in byte order
// and both values; what names the output being checked.
func compareKeyed(what string, want, got keyedOutput) error {
	keys := make([]string, 0, len(want)+len(got))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		w, inWant := want[k]
		g, inGot := got[k]
		switch {
		case !inGot:
			return fmt.Errorf("%s: output differs from gomr's sequential run at key %q: missing (gomr: %q); %d keys vs gomr's %d", what, k, w, len(got), len(want))
		case !inWant:
			return fmt.Errorf("%s: output differs from gomr's sequential run at key %q: %q, which gomr's output lacks; %d keys vs gomr's %d", what, k, g, len(got), len(want))
		case w != g:
			return fmt.Errorf("%s: output differs from gomr's sequential run at key %q: %q (gomr: %q)", what, k, g, w)
		}
	}
	return nil
}

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
