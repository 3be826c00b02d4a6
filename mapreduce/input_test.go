package mapreduce

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestListInputsNamesDocuments(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"books/a.txt", "books/sub/b.txt", "books/_SUCCESS", "books/.hidden", "books/_logs/x.txt", "single.txt", "g1.log", "g2.log"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("text\n"), 0o644)
	}
	files, err := ListInputs(context.Background(), LocalFileSystems(), []string{filepath.Join(dir, "books"), filepath.Join(dir, "single.txt"), filepath.Join(dir, "g*.log")})
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, f := range files {
		docs = append(docs, f.Doc)
	}
	if got, want := strings.Join(docs, " "), "a.txt sub/b.txt single.txt g1.log g2.log"; got != want {
		t.Fatalf("docs %q, want %q", got, want)
	}
}

func TestListInputsRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "data.bin")
	os.WriteFile(bin, []byte("GIF89a\x00\x01\x02"), 0o644)
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
		text string
	}{
		{filepath.Join(dir, "missing.txt"), ErrNoInput, "missing.txt"},
		{filepath.Join(dir, "nothing*.txt"), ErrNoInput, "no files match"},
		{bin, ErrBinaryInput, "byte offset 6"},
		{fifo, nil, "not a regular file"},
	} {
		_, err := ListInputs(context.Background(), LocalFileSystems(), []string{tc.path})
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: got %v, want %v mentioning %q", tc.path, err, tc.want, tc.text)
		}
	}
}

func TestCountSplitsMatchesPlanSplits(t *testing.T) {
	for _, size := range []int64{0, 1, 9, 10, 11, 99, 100, 109, 110, 111, 199, 200, 210, 211, 1000, 1099, 1100, 1101, 12345} {
		for _, split := range []int64{1, 3, 10, 100, 1000} {
			files := []InputFile{{Path: "f", Size: size}}
			splits, err := PlanSplits(files, split)
			if err != nil {
				t.Fatal(err)
			}
			if got := CountSplits(files, split); got != int64(len(splits)) {
				t.Errorf("size %d split %d: CountSplits %d, PlanSplits made %d", size, split, got, len(splits))
			}
		}
	}
	huge := []InputFile{{Path: "f", Size: 1 << 40}}
	if got := CountSplits(huge, 1); got != 1<<40 {
		t.Errorf("1 TiB in 1-byte splits: %d", got)
	}
}
