package jobs

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

// distCpRun plans and runs a distcp of src into a new folder with the
// given options, as a step would (listing, the job's plan, one map per
// split), and returns the folder.
func distCpRun(t *testing.T, src string, opts map[string]string) (string, *mapreduce.Counters) {
	t.Helper()
	def, err := Lookup(DistCpJob)
	if err != nil {
		t.Fatal(err)
	}
	job, err := def.Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	files, err := mapreduce.ListFiles(ctx, mapreduce.LocalFileSystems(), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	splits, err := def.PlanFiles(files, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	c, err := mapreduce.RunSequential(ctx, job, splits, mapreduce.SequentialOptions{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	return out, c
}

// outputFiles returns the files of an output folder (but _SUCCESS), by
// name, with their bytes.
func outputFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == mapreduce.SuccessFile {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestDistCpCopiesEveryFileExactly: binary files of every size, in
// nested folders, are copied byte for byte under the same relative
// names; hidden files are not, as a step's input listing skips them.
func TestDistCpCopiesEveryFileExactly(t *testing.T) {
	src := t.TempDir()
	want := map[string][]byte{
		"a.bin":          randomBytes(1, 1),
		"empty":          {},
		"logs/b.log":     randomBytes(300<<10, 2),
		"logs/deep/c.gz": randomBytes(70<<10, 3),
	}
	for name, b := range want {
		writeFile(t, filepath.Join(src, name), b)
	}
	writeFile(t, filepath.Join(src, "_SUCCESS"), []byte("{}"))
	writeFile(t, filepath.Join(src, ".hidden"), []byte("x"))
	out, c := distCpRun(t, src, nil)
	got := outputFiles(t, out)
	if len(got) != len(want) {
		t.Fatalf("copied %v, want %v", keys(got), keys(want))
	}
	var total int64
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s: %d bytes copied, differ from the %d of the source", name, len(got[name]), len(b))
		}
		total += int64(len(b))
	}
	if c.Get(FilesCopied) != int64(len(want)) || c.Get(BytesCopied) != total {
		t.Fatalf("counters %v, want %d files and %d bytes", c.Map(), len(want), total)
	}
}

// TestDistCpGroupByConcatenates: files whose paths match --group-by with
// the same groups become one file named by them, in listing order, and
// --target-size cuts a large group; --src-pattern filters first.
func TestDistCpGroupByConcatenates(t *testing.T) {
	src := t.TempDir()
	var hour1, hour2 []byte
	for i := range 6 {
		b := randomBytes(40<<10, uint64(10+i))
		hour := "01"
		if i >= 3 {
			hour = "02"
		}
		writeFile(t, filepath.Join(src, "events-2026-11-30-"+hour+"-"+string(rune('a'+i))+".log"), b)
		if hour == "01" {
			hour1 = append(hour1, b...)
		} else {
			hour2 = append(hour2, b...)
		}
	}
	writeFile(t, filepath.Join(src, "notes.txt"), []byte("not an event log\n"))
	out, _ := distCpRun(t, src, map[string]string{"group-by": `events-(\d{4}-\d\d-\d\d-\d\d)-`, "src-pattern": `\.log$`})
	got := outputFiles(t, out)
	if len(got) != 2 || !bytes.Equal(got["2026-11-30-01"], hour1) || !bytes.Equal(got["2026-11-30-02"], hour2) {
		t.Fatalf("grouped into %v (sizes %d, %d), want the two hours concatenated in order", keys(got), len(got["2026-11-30-01"]), len(got["2026-11-30-02"]))
	}

	// 3 files of 40 KiB per hour with a target of 0.1 MiB: 2 files then 1.
	def, _ := Lookup(DistCpJob)
	files, err := mapreduce.ListFiles(context.Background(), mapreduce.LocalFileSystems(), []string{src})
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseDistCp(def.withDefaults(map[string]string{"group-by": `events-(\d{4}-\d\d-\d\d-\d\d)-`}))
	if err != nil {
		t.Fatal(err)
	}
	c.targetSize = 100 << 10
	splits, err := c.plan(files)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var sizes []int64
	for _, s := range splits {
		names = append(names, s.Doc)
		sizes = append(sizes, s.Length)
	}
	want := []string{"2026-11-30-01-00000", "2026-11-30-01-00001", "2026-11-30-02-00000", "2026-11-30-02-00001"}
	if !slices.Equal(names, want) || !slices.Equal(sizes, []int64{80 << 10, 40 << 10, 80 << 10, 40 << 10}) {
		t.Fatalf("target size cut the groups into %v of %v bytes, want %v", names, sizes, want)
	}
}

// TestDistCpRecompresses: --output-codec gzip compresses plain files and
// recompresses compressed ones (name and bytes); none decompresses.
func TestDistCpRecompresses(t *testing.T) {
	src := t.TempDir()
	plain := bytes.Repeat([]byte("the quick brown fox\n"), 5000)
	writeFile(t, filepath.Join(src, "plain.txt"), plain)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	writeFile(t, filepath.Join(src, "packed.txt.gz"), gz.Bytes())

	out, _ := distCpRun(t, src, map[string]string{"output-codec": "gzip"})
	got := outputFiles(t, out)
	for _, name := range []string{"plain.txt.gz", "packed.txt.gz"} {
		zr, err := gzip.NewReader(bytes.NewReader(got[name]))
		if err != nil {
			t.Fatalf("%s (of %v): %v", name, keys(got), err)
		}
		b, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(b, plain) {
			t.Fatalf("%s does not decompress to the source: %v", name, err)
		}
	}
	out, _ = distCpRun(t, src, map[string]string{"output-codec": "none"})
	got = outputFiles(t, out)
	if len(got) != 2 || !bytes.Equal(got["plain.txt"], plain) || !bytes.Equal(got["packed.txt"], plain) {
		t.Fatalf("decompressed copies %v differ from the source", keys(got))
	}
}

// TestDistCpRefusesBadOptions: each bad option is refused by name.
func TestDistCpRefusesBadOptions(t *testing.T) {
	def, _ := Lookup(DistCpJob)
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"group-by": "no-groups"}, "--group-by \"no-groups\" has no capture group"},
		{map[string]string{"group-by": "("}, "--group-by"},
		{map[string]string{"src-pattern": "[z-a]"}, "--src-pattern"},
		{map[string]string{"target-size": "-3"}, "--target-size takes a number of MiB"},
		{map[string]string{"output-codec": "bzip2"}, "bzip2 is not supported"},
		{map[string]string{"output-codec": "lzo"}, "unknown output compression"},
	} {
		_, err := def.Build(tc.opts)
		if err == nil || !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%v) = %v, want an error saying %q", tc.opts, err, tc.want)
		}
	}
	// A group that names no file is refused at planning, naming the file.
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "x.log"), []byte("x"))
	files, _ := mapreduce.ListFiles(context.Background(), mapreduce.LocalFileSystems(), []string{src})
	if _, err := def.PlanFiles(files, map[string]string{"group-by": `x()\.log`}); err == nil || !strings.Contains(err.Error(), "x.log") {
		t.Errorf("an empty group name was accepted: %v", err)
	}
}

// TestDistCpSeesChangedInput: a source file rewritten after planning
// fails the copy as changed input, not a copy of other bytes.
func TestDistCpSeesChangedInput(t *testing.T) {
	src := t.TempDir()
	p := filepath.Join(src, "f")
	writeFile(t, p, []byte("first version"))
	def, _ := Lookup(DistCpJob)
	job, _ := def.Build(nil)
	files, _ := mapreduce.ListFiles(context.Background(), mapreduce.LocalFileSystems(), []string{src})
	splits, _ := def.PlanFiles(files, nil)
	writeFile(t, p, []byte("second"))
	_, err := mapreduce.RunSequential(context.Background(), job, splits, mapreduce.SequentialOptions{Output: filepath.Join(t.TempDir(), "out")})
	if !errors.Is(err, mapreduce.ErrInputChanged) {
		t.Fatalf("copy of a changed file: %v, want ErrInputChanged", err)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
