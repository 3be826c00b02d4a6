package mapreduce

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fileLines splits text as a reader of the whole file should: at each
// '\n', dropping one '\r' before it; a last line without a '\n' is kept
// as it is, and there is no empty line after a final '\n'.
func fileLines(text []byte) []string {
	var out []string
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			out = append(out, string(text))
			break
		}
		out = append(out, string(bytes.TrimSuffix(text[:i], []byte{'\r'})))
		text = text[i+1:]
	}
	return out
}

// readSplitLines reads every line of the splits in turn, with its number
// in the file, and checks that each lies in text at its offset.
func readSplitLines(t *testing.T, text []byte, splits []Split) ([]string, []int64) {
	t.Helper()
	var lines []string
	var numbers []int64
	for _, s := range splits {
		lr, err := OpenSplit(context.Background(), LocalFileSystems(), s, 0)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("split %d+%d: %v", s.Offset, s.Length, err)
			}
			if rec.Offset < s.Offset || rec.Offset >= s.Offset+s.Length || !bytes.HasPrefix(text[rec.Offset:], rec.Line) {
				t.Fatalf("split %d+%d: line at offset %d is not the file's or not the split's", s.Offset, s.Length, rec.Offset)
			}
			n, err := lr.LineNumber(rec)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(rec.Line))
			numbers = append(numbers, n)
		}
		lr.Close()
	}
	return lines, numbers
}

// FuzzSplitsReadEveryLineOnce checks, for arbitrary text (a NUL byte,
// which text input refuses, made a space) and an arbitrary split size,
// that the lines read over all the splits of a file are the lines of the
// file read in one split, in order, each exactly once and numbered by its
// place in the file: no line is lost or read twice at a split boundary.
func FuzzSplitsReadEveryLineOnce(f *testing.F) {
	for _, seed := range []struct {
		text      string
		splitSize uint16
	}{
		{"one\ntwo\nthree\n", 4},
		{"one\ntwo\nthree", 3},
		{"a\r\nb\r\n\r\nc", 2},
		{"\n\n\n", 1},
		{"x\r", 1},
		{"\r\n\r\n", 1},
		{"line one is long enough\nshort\n\nlast line without newline", 9},
		{"", 1},
	} {
		f.Add([]byte(seed.text), seed.splitSize)
	}
	f.Fuzz(func(t *testing.T, text []byte, splitSize uint16) {
		text = bytes.ReplaceAll(text, []byte{0}, []byte{' '})
		path := filepath.Join(t.TempDir(), "in.txt")
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		want := fileLines(text)
		whole, wholeNumbers := readSplitLines(t, text, []Split{{File: path, Length: int64(len(text))}})
		splits, err := PlanSplits([]InputFile{{Path: path, Size: int64(len(text)), Doc: "in.txt"}}, int64(splitSize)+1)
		if err != nil {
			t.Fatal(err)
		}
		got, numbers := readSplitLines(t, text, splits)
		for what, lines := range map[string][]string{"one split": whole, "the splits": got} {
			if len(lines) != len(want) {
				t.Fatalf("%s of %d bytes at %d a split: %d lines, want %d", what, len(text), splitSize+1, len(lines), len(want))
			}
			for i := range want {
				if lines[i] != want[i] {
					t.Fatalf("%s: line %d = %q, want %q", what, i+1, lines[i], want[i])
				}
			}
		}
		for i := range want {
			if numbers[i] != int64(i+1) || wholeNumbers[i] != int64(i+1) {
				t.Fatalf("line %d numbered %d over the splits, %d in one split", i+1, numbers[i], wholeNumbers[i])
			}
		}
		// Planned from a listing, the splits record and use the newlines
		// of the splits read before them (knownLines): in reverse order
		// each counts what no later split covers, then in order and
		// interleaved (some twice) they follow the spans recorded.
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		listed, err := PlanSplits([]InputFile{{Path: path, Size: info.Size(), ModTime: info.ModTime().UnixNano(), Doc: "in.txt"}}, int64(splitSize)+1)
		if err != nil {
			t.Fatal(err)
		}
		reversed := slices.Clone(listed)
		slices.Reverse(reversed)
		var interleaved []Split
		for i := range listed {
			interleaved = append(interleaved, listed[(i*7+3)%len(listed)])
		}
		for what, order := range map[string][]Split{"in reverse": reversed, "in order": listed, "interleaved": interleaved} {
			lines, numbers := readSplitLines(t, text, order)
			if what != "interleaved" && len(lines) != len(want) {
				t.Fatalf("%s: %d lines, want %d", what, len(lines), len(want))
			}
			for i, n := range numbers {
				if n < 1 || n > int64(len(want)) || lines[i] != want[n-1] {
					t.Fatalf("%s: line %q numbered %d", what, lines[i], n)
				}
			}
		}
	})
}
