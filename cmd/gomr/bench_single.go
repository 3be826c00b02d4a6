package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
)

// singleReadBuffer is the read buffer of the single-threaded baselines. A
// line must fit in it, as a line must fit in the engine's line limit.
const singleReadBuffer = 4 << 20

// singleJobs are the jobs that have a single-threaded baseline.
var singleJobs = []string{"wordcount", "logagg"}

// singleBaseline returns the single-threaded baseline of a job: the same
// computation written plainly in Go, with no engine, reading files in
// order and writing one output file sorted by key in byte order, as each
// of gomr's part files is. opts holds every job option, defaults
// included; they are checked now.
func singleBaseline(job string, opts map[string]string) (func(ctx context.Context, files []string, out string) error, error) {
	switch job {
	case "wordcount":
		lower, err := strconv.ParseBool(opts["lower"])
		if err != nil {
			return nil, fmt.Errorf("--lower %q: %w", opts["lower"], err)
		}
		return func(ctx context.Context, files []string, out string) error {
			return singleWordCount(ctx, files, lower, out)
		}, nil
	case "logagg":
		if opts["time-field"] != "" || opts["sum"] != "" {
			return nil, errors.New("--baseline single: the single baseline of logagg reads access logs, not JSON lines (--time-field, --sum)")
		}
		g, err := jobs.NewAccessLogGrouper(opts["group-by"])
		if err != nil {
			return nil, fmt.Errorf("--baseline single: %w", err)
		}
		return func(ctx context.Context, files []string, out string) error {
			return singleLogAgg(ctx, files, g, out)
		}, nil
	}
	return nil, fmt.Errorf("--baseline single: there is one for %s only, not for %s", strings.Join(singleJobs, " and "), job)
}

// runSingle runs the single-threaded baseline of a job once.
func runSingle(ctx context.Context, job string, opts map[string]string, files []string, out string) error {
	run, err := singleBaseline(job, opts)
	if err != nil {
		return err
	}
	return run(ctx, files, out)
}

// singleWordCount counts words as the wordcount job does: maximal runs of
// Unicode letters, bytes that are not UTF-8 separating words, folded to
// lower case with lower.
func singleWordCount(ctx context.Context, files []string, lower bool, out string) error {
	counts := map[string]*uint64{}
	var folded []byte
	count := func(w []byte) {
		if lower {
			folded = lowerWord(folded, w)
			w = folded
		}
		if c, ok := counts[string(w)]; ok {
			*c++
			return
		}
		one := uint64(1)
		counts[string(w)] = &one
	}
	for _, path := range files {
		if err := eachLine(ctx, path, func(line []byte) error {
			eachWord(line, count)
			return nil
		}); err != nil {
			return err
		}
	}
	return writeSorted(out, counts, func(b []byte, c *uint64) []byte { return strconv.AppendUint(b, *c, 10) })
}

// lowerWord folds w to lower case into buf, in place for ASCII.
func lowerWord(buf, w []byte) []byte {
	buf = append(buf[:0], w...)
	for i, c := range buf {
		switch {
		case c >= utf8.RuneSelf:
			return append(buf[:0], bytes.ToLower(w)...)
		case 'A' <= c && c <= 'Z':
			buf[i] = c + 'a' - 'A'
		}
	}
	return buf
}

// singleLogAgg aggregates access-log lines into requests and bytes per
// group key; lines logagg would reject are skipped.
func singleLogAgg(ctx context.Context, files []string, g *jobs.AccessLogGrouper, out string) error {
	sums := map[string]*[2]uint64{}
	var key []byte
	for _, path := range files {
		if err := eachLine(ctx, path, func(line []byte) error {
			var n int64
			var err error
			if key, n, err = g.AppendKey(key[:0], line); err != nil {
				return nil // logagg counts it in MALFORMED_RECORDS and rejects it
			}
			if s, ok := sums[string(key)]; ok {
				s[0]++
				s[1] += uint64(n)
				return nil
			}
			sums[string(key)] = &[2]uint64{1, uint64(n)}
			return nil
		}); err != nil {
			return err
		}
	}
	return writeSorted(out, sums, func(b []byte, s *[2]uint64) []byte {
		b = strconv.AppendUint(b, s[0], 10)
		b = append(b, '\t')
		return strconv.AppendUint(b, s[1], 10)
	})
}

// eachLine calls fn with every line of a file, without its "\n" or
// "\r\n", as the engine's text reader gives them. A line longer than the
// engine accepts is an error naming the file and offset.
func eachLine(ctx context.Context, path string, fn func(line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, singleReadBuffer)
	var off int64
	for n := 0; ; n++ {
		if n%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > mapreduce.DefaultMaxLineBytes+2 {
			return fmt.Errorf("%s: offset %d: a line longer than %d bytes", path, off, mapreduce.DefaultMaxLineBytes)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s at offset %d: %w", path, off, err)
		}
		start := off
		off += int64(len(line))
		if len(line) == 0 && err != nil {
			return nil
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if ferr := fn(line); ferr != nil {
			return fmt.Errorf("%s: offset %d: %w", path, start, ferr)
		}
		if err != nil {
			return nil
		}
	}
}

// asciiLetters marks the ASCII bytes that are letters to unicode.IsLetter.
var asciiLetters = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = unicode.IsLetter(rune(c))
	}
	return t
}()

// eachWord calls fn with every maximal run of Unicode letters in line;
// a byte that is not valid UTF-8 ends a word. The word aliases line.
func eachWord(line []byte, fn func(w []byte)) {
	start := -1
	for i := 0; i < len(line); {
		c := line[i]
		letter, size := false, 1
		if c < utf8.RuneSelf {
			letter = asciiLetters[c]
		} else {
			var r rune
			r, size = utf8.DecodeRune(line[i:])
			letter = r != utf8.RuneError && unicode.IsLetter(r)
		}
		switch {
		case letter && start < 0:
			start = i
		case !letter && start >= 0:
			fn(line[start:i])
			start = -1
		}
		i += size
	}
	if start >= 0 {
		fn(line[start:])
	}
}

// writeSorted writes key<TAB>value lines sorted by key in byte order.
func writeSorted[V any](path string, m map[string]V, appendValue func([]byte, V) []byte) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	for _, k := range keys {
		line = append(append(line[:0], k...), '\t')
		line = append(appendValue(line, m[k]), '\n')
		if _, err := w.Write(line); err != nil {
			f.Close()
			return fmt.Errorf("write output %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write output %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write output %s: %w", path, err)
	}
	return nil
}
