package mapreduce

import (
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
	files, err := ListInputs([]string{filepath.Join(dir, "books"), filepath.Join(dir, "single.txt"), filepath.Join(dir, "g*.log")})
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
		_, err := ListInputs([]string{tc.path})
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: got %v, want %v mentioning %q", tc.path, err, tc.want, tc.text)
		}
	}
}

func TestCommitOutputIsIdempotentAndWritesSuccessLast(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := CheckOutput(out); err != nil {
		t.Fatal(err)
	}
	if err := SetupOutput(out, "s-1"); err != nil {
		t.Fatal(err)
	}
	if err := SetupOutput(out, "s-1"); err != nil {
		t.Fatalf("setup again by the same step: %v", err)
	}
	if err := SetupOutput(out, "s-2"); !errors.Is(err, ErrOutputExists) {
		t.Fatalf("setup by another step: %v", err)
	}
	for _, a := range []string{"attempt_r_0_0", "attempt_r_0_1", "attempt_r_1_0"} {
		os.MkdirAll(AttemptDir(out, a), 0o755)
		os.WriteFile(filepath.Join(AttemptDir(out, a), "part-r-0000"+a[10:11]), []byte(a+"\n"), 0o644)
	}
	tasks := []CommittedTask{{AttemptID: "attempt_r_0_1", Files: []string{"part-r-00000"}}, {AttemptID: "attempt_r_1_0", Files: []string{"part-r-00001"}}}
	// The losing attempt attempt_r_0_0 wrote part-r-00000 too.
	os.WriteFile(filepath.Join(AttemptDir(out, "attempt_r_0_1"), "part-r-00000"), []byte("winner\n"), 0o644)
	os.WriteFile(filepath.Join(AttemptDir(out, "attempt_r_1_0"), "part-r-00001"), []byte("second\n"), 0o644)
	if err := CommitOutput(out, tasks, Manifest{Step: "s-1"}); err != nil {
		t.Fatal(err)
	}
	if err := CommitOutput(out, tasks, Manifest{Step: "s-1"}); err != nil {
		t.Fatalf("commit again: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "part-r-00000"))
	if string(b) != "winner\n" {
		t.Fatalf("part-r-00000 = %q", b)
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "_SUCCESS part-r-00000 part-r-00001" {
		t.Fatalf("output holds %s", got)
	}
	if err := CheckOutput(out); !errors.Is(err, ErrOutputExists) {
		t.Fatalf("existing output accepted: %v", err)
	}
}

func TestAbortOutputRemovesOnlyItsOwn(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	SetupOutput(out, "s-1")
	os.MkdirAll(AttemptDir(out, "a"), 0o755)
	if err := AbortOutput(out, "s-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal("another step's abort removed the output")
	}
	if err := AbortOutput(out, "s-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output still there: %v", err)
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
