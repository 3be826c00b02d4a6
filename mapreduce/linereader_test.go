package mapreduce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// randomText returns text with empty lines, CRLF endings, long lines and
// sometimes no final newline.
func randomText(rng *rand.Rand) []byte {
	var b bytes.Buffer
	lines := rng.IntN(200)
	for i := range lines {
		n := rng.IntN(40)
		if rng.IntN(20) == 0 {
			n = rng.IntN(3000)
		}
		for range n {
			b.WriteByte(byte('a' + rng.IntN(26)))
		}
		if i == lines-1 && rng.IntN(2) == 0 {
			break
		}
		if rng.IntN(5) == 0 {
			b.WriteString("\r\n")
		} else {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// wantLines splits text the plain way: by "\n", dropping a trailing "\r",
// no final empty line.
func wantLines(text []byte) []string {
	s := string(text)
	s = strings.TrimSuffix(s, "\n")
	if s == "" && len(text) == 0 {
		return nil
	}
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		out = append(out, strings.TrimSuffix(l, "\r"))
	}
	return out
}

func TestSplitsReadEveryLineOnce(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	for iter := range 200 {
		text := randomText(rng)
		path := filepath.Join(dir, fmt.Sprintf("f%d", iter))
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		splitSize := int64(1 + rng.IntN(300))
		splits, err := PlanSplits([]InputFile{{Path: path, Size: int64(len(text)), Doc: "f"}}, splitSize)
		if err != nil {
			t.Fatal(err)
		}
		got, lineNos := readSplitLines(t, text, splits)
		want := wantLines(text)
		if len(got) != len(want) {
			t.Fatalf("seed %d file %d (split %d): got %d lines, want %d", seed, iter, splitSize, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("seed %d file %d: line %d = %q, want %q", seed, iter, i+1, got[i], want[i])
			}
			if lineNos[i] != int64(i+1) {
				t.Fatalf("seed %d file %d: line %d numbered %d", seed, iter, i+1, lineNos[i])
			}
		}
	}
}

func TestPlanSplitsSlop(t *testing.T) {
	files := []InputFile{{Path: "a", Size: 105}, {Path: "b", Size: 111}, {Path: "c", Size: 0}, {Path: "d", Size: 30}}
	splits, err := PlanSplits(files, 50)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range splits {
		got = append(got, fmt.Sprintf("%s:%d+%d", s.File, s.Offset, s.Length))
	}
	// 105 = 50 + 55 (55 < 1.1*50 joins); 111 = 50 + 50 + 11; empty files
	// have no split.
	want := "a:0+50 a:50+55 b:0+50 b:50+50 b:100+11 d:0+30"
	if strings.Join(got, " ") != want {
		t.Fatalf("splits %v, want %s", got, want)
	}
}

func TestLineLimitAndBinaryNameTheLine(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long.txt")
	os.WriteFile(long, []byte("ok\nfine\n"+strings.Repeat("x", 5000)+"\nafter\n"), 0o644)
	bin := filepath.Join(dir, "bin.txt")
	os.WriteFile(bin, []byte("one\ntwo\nth\x00ree\n"), 0o644)
	for _, tc := range []struct {
		path    string
		limit   int
		wantErr error
		line    int64
	}{
		{long, 4096, ErrLineTooLong, 3},
		{long, 100, ErrLineTooLong, 3},
		{bin, 0, ErrBinaryInput, 3},
	} {
		info, _ := os.Stat(tc.path)
		lr, err := OpenSplit(context.Background(), LocalFileSystems(), Split{File: tc.path, Length: info.Size()}, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = lr.Next()
		}
		lr.Close()
		var ie *InputError
		if !errors.As(err, &ie) || !errors.Is(err, tc.wantErr) || ie.Line != tc.line || ie.File != tc.path {
			t.Fatalf("%s limit %d: got %v, want %v at line %d", tc.path, tc.limit, err, tc.wantErr, tc.line)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("line %d", tc.line)) || !strings.Contains(err.Error(), tc.path) {
			t.Fatalf("error %q does not name the file and line", err)
		}
	}
	// A line exactly at the limit is accepted.
	exact := filepath.Join(dir, "exact.txt")
	os.WriteFile(exact, []byte(strings.Repeat("y", 100)+"\n"), 0o644)
	lr, _ := OpenSplit(context.Background(), LocalFileSystems(), Split{File: exact, Length: 101}, 100)
	defer lr.Close()
	if rec, err := lr.Next(); err != nil || len(rec.Line) != 100 {
		t.Fatalf("line at the limit: %v", err)
	}
}

func TestSplitOfAChangedFileFails(t *testing.T) {
	dir := t.TempDir()
	plan := func(text string) (string, Split) {
		path := filepath.Join(dir, fmt.Sprintf("f%d", len(text)))
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		files, err := ListInputs(context.Background(), LocalFileSystems(), []string{path})
		if err != nil {
			t.Fatal(err)
		}
		splits, err := PlanSplits(files, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return path, splits[0]
	}
	readAll := func(s Split) (int, error) {
		lr, err := OpenSplit(context.Background(), LocalFileSystems(), s, 0)
		if err != nil {
			return 0, err
		}
		defer lr.Close()
		n := 0
		for {
			_, err := lr.Next()
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			n++
		}
	}

	// Truncated before the map opens it.
	path, s := plan("one\ntwo\nthree\n")
	os.Truncate(path, 4)
	_, err := readAll(s)
	if !errors.Is(err, ErrInputChanged) || !strings.Contains(err.Error(), fmt.Sprintf("input %s changed while the step ran (planned 14 bytes, found 4)", path)) {
		t.Fatalf("truncated file: %v", err)
	}

	// Truncated while the map reads it.
	path, s = plan(strings.Repeat("a line of text\n", 1000))
	lr, err := OpenSplit(context.Background(), LocalFileSystems(), s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lr.Next(); err != nil {
		t.Fatal(err)
	}
	os.Truncate(path, 100)
	for err == nil {
		_, err = lr.Next()
	}
	lr.Close()
	if !errors.Is(err, ErrInputChanged) || !strings.Contains(err.Error(), "found 100)") {
		t.Fatalf("file truncated while read: %v", err)
	}

	// Rewritten in place with the same size.
	path, s = plan("aaaa\nbbbb\n")
	later := time.Now().Add(time.Hour)
	os.WriteFile(path, []byte("cccc\ndddd\n"), 0o644)
	os.Chtimes(path, later, later)
	if _, err := readAll(s); !errors.Is(err, ErrInputChanged) || !strings.Contains(err.Error(), "modified at") {
		t.Fatalf("rewritten file: %v", err)
	}

	// Appended to: the split reads what was planned, as Hadoop does.
	path, s = plan("x\ny\n")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("z\n")
	f.Close()
	if n, err := readAll(s); err != nil || n != 2 {
		t.Fatalf("appended file: %d lines, %v", n, err)
	}
}

// TestBinaryLineRefusedWhereverTheNUL reads random files, some lines
// longer than the read buffer, with NUL bytes anywhere (at a line's
// start or end, before its "\r\n", in the last line), in random splits:
// each split returns the lines it owns up to the first that holds a NUL,
// then fails naming that line; a NUL in a line another split owns does
// not stop it.
func TestBinaryLineRefusedWhereverTheNUL(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	for n := range 300 {
		var text []byte
		var starts []int64 // each line's offset
		var lines [][]byte
		for range 1 + rng.IntN(12) {
			var line []byte
			switch rng.IntN(3) {
			case 0:
				line = make([]byte, rng.IntN(10))
			case 1:
				line = make([]byte, 100+rng.IntN(200))
			default:
				line = make([]byte, 4000+rng.IntN(5000))
			}
			for i := range line {
				line[i] = 'a' + byte(i%26)
			}
			if len(line) > 0 && rng.IntN(4) == 0 {
				line[[]int{0, len(line) - 1, rng.IntN(len(line))}[rng.IntN(3)]] = 0
			}
			starts = append(starts, int64(len(text)))
			lines = append(lines, line)
			text = append(text, line...)
			if rng.IntN(5) == 0 {
				text = append(text, '\r')
			}
			text = append(text, '\n')
		}
		if rng.IntN(3) == 0 {
			text = text[:len(text)-1] // the last line without its newline
			if len(text) > 0 && text[len(text)-1] == '\r' {
				text = text[:len(text)-1]
			}
		}
		path := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		size := int64(1 + rng.IntN(len(text)+1))
		for off := int64(0); off < int64(len(text)); off += size {
			s := Split{File: path, Offset: off, Length: min(size, int64(len(text))-off)}
			lr, err := OpenSplit(context.Background(), LocalFileSystems(), s, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, start := range starts {
				if start < s.Offset || start >= s.Offset+s.Length {
					continue
				}
				rec, err := lr.Next()
				if bytes.IndexByte(lines[i], 0) >= 0 {
					var ie *InputError
					if !errors.As(err, &ie) || !errors.Is(err, ErrBinaryInput) || ie.Line != int64(i+1) || ie.Offset != start {
						t.Fatalf("file %d, split %d+%d: line %d holds a NUL: got %v", n, s.Offset, s.Length, i+1, err)
					}
					break
				}
				if err != nil || rec.Offset != start || !bytes.Equal(rec.Line, lines[i]) {
					t.Fatalf("file %d, split %d+%d: line %d: got %d bytes at %d (%v), want %d at %d", n, s.Offset, s.Length, i+1, len(rec.Line), rec.Offset, err, len(lines[i]), start)
				}
			}
			lr.Close()
		}
	}
}
