package mapreduce

import (
	"bytes"
	"compress/bzip2"
	stdgzip "compress/gzip"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce/format"
	"github.com/klauspost/compress/zstd"
)

// compressFile writes data to path compressed by the codec its name
// says, with encoders independent of the engine's readers where the
// standard library has one (gzip).
func compressFile(t testing.TB, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	switch {
	case strings.HasSuffix(path, ".gz"):
		zw := stdgzip.NewWriter(&buf)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(path, ".zst"):
		zw, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("no compressor for %s", path)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runFiles plans the inputs in splits of splitSize and runs a job over
// them sequentially, returning the part files by name and the counters.
func runFiles(t *testing.T, job *Job, inputs []string, splitSize int64, opt SequentialOptions) (map[string]string, *Counters, error) {
	t.Helper()
	files, err := ListInputs(context.Background(), LocalFileSystems(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	splits, err := PlanInput(context.Background(), LocalFileSystems(), files, splitSize, opt.InputFormat)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Output == "" {
		opt.Output = filepath.Join(t.TempDir(), "out")
	}
	c, err := RunSequential(context.Background(), job, splits, opt)
	if err != nil {
		return nil, nil, err
	}
	return partFiles(t, opt.Output), c, nil
}

func partFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "part-") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			got[e.Name()] = string(b)
		}
	}
	return got
}

// TestCompressedInputSameAsPlain runs a word count over plain files cut
// into many splits and over the same files gzip-, bzip2- and
// zstd-compressed (one split each): the part files must be identical.
func TestCompressedInputSameAsPlain(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	var plain, gz, zst []string
	for i := range 3 {
		p := filepath.Join(dir, "plain", string(rune('a'+i))+".txt")
		os.MkdirAll(filepath.Dir(p), 0o755)
		writeWords(t, p, rng, 700)
		data, _ := os.ReadFile(p)
		plain = append(plain, p)
		g := filepath.Join(dir, "gz", filepath.Base(p)+".gz")
		z := filepath.Join(dir, "zst", filepath.Base(p)+".zst")
		os.MkdirAll(filepath.Dir(g), 0o755)
		os.MkdirAll(filepath.Dir(z), 0o755)
		compressFile(t, g, data)
		compressFile(t, z, data)
		gz, zst = append(gz, g), append(zst, z)
	}
	// bzip2 has no compressor in Go: the fixture of the format package,
	// and its plain text through the standard library's reader.
	bz, err := os.ReadFile(filepath.Join("format", "testdata", "lines.txt.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	bzText, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(bz)))
	if err != nil {
		t.Fatal(err)
	}
	bzPlain := filepath.Join(dir, "bzplain", "lines.txt")
	bzFile := filepath.Join(dir, "bz2", "lines.txt.bz2")
	os.MkdirAll(filepath.Dir(bzPlain), 0o755)
	os.MkdirAll(filepath.Dir(bzFile), 0o755)
	os.WriteFile(bzPlain, bzText, 0o644)
	os.WriteFile(bzFile, bz, 0o644)

	job := &Job{Mapper: fieldsMapper{}, Combiner: countReducer{}, Reducer: countReducer{text: true}}
	for _, tc := range []struct {
		name          string
		plain, packed []string
	}{
		{"gzip", plain, gz},
		{"zstd", plain, zst},
		{"bzip2", []string{bzPlain}, []string{bzFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wc, err := runFiles(t, job, tc.plain, 8<<10, SequentialOptions{Reducers: 2})
			if err != nil {
				t.Fatal(err)
			}
			files, err := ListInputs(context.Background(), LocalFileSystems(), tc.packed)
			if err != nil {
				t.Fatal(err)
			}
			splits, err := PlanSplits(files, 4<<10)
			if err != nil {
				t.Fatal(err)
			}
			if len(splits) != len(tc.packed) || WholeFiles(files) != len(tc.packed) || CountSplits(files, 4<<10) != int64(len(tc.packed)) {
				t.Fatalf("%d compressed files: %d splits (counted %d), %d whole files; want one split each", len(tc.packed), len(splits), CountSplits(files, 4<<10), WholeFiles(files))
			}
			got, gc, err := runFiles(t, job, tc.packed, 4<<10, SequentialOptions{Reducers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != 2 || len(got) != 2 {
				t.Fatalf("part files: %d plain, %d compressed", len(want), len(got))
			}
			for name, w := range want {
				if got[name] != w {
					t.Errorf("%s differs between plain and %s input", name, tc.name)
				}
			}
			for _, c := range []string{MapInputRecords, MapInputBytes, ReduceOutputRecords} {
				if wc.Get(c) != gc.Get(c) {
					t.Errorf("%s: plain %d, %s %d", c, wc.Get(c), tc.name, gc.Get(c))
				}
			}
		})
	}
}

// TestBadCompressedInput checks truncated and corrupt streams: one that
// breaks in its first bytes is refused when the input is listed, one that
// breaks later fails the map task with an *InputError naming the file and
// where the stream broke, and nothing is committed.
func TestBadCompressedInput(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 3))
	src := filepath.Join(dir, "src.txt")
	writeWords(t, src, rng, 2500) // far more than the listing sniffs
	data, _ := os.ReadFile(src)
	full := filepath.Join(dir, "full.gz")
	compressFile(t, full, data)
	gz, _ := os.ReadFile(full)

	// Truncated in the middle: listed fine, the map fails.
	truncated := filepath.Join(dir, "truncated.gz")
	os.WriteFile(truncated, gz[:len(gz)/2], 0o644)
	// A flipped bit in the middle of the deflate data.
	corrupt := filepath.Join(dir, "corrupt.gz")
	bad := bytes.Clone(gz)
	for i := len(bad) / 2; i < len(bad)/2+64; i++ {
		bad[i] ^= 0x5a
	}
	os.WriteFile(corrupt, bad, 0o644)
	job := &Job{Mapper: fieldsMapper{}, Combiner: countReducer{}, Reducer: countReducer{text: true}}
	for _, path := range []string{truncated, corrupt} {
		out := filepath.Join(dir, "out-"+filepath.Base(path))
		_, _, err := runFiles(t, job, []string{path}, 1<<20, SequentialOptions{Reducers: 1, Output: out})
		t.Logf("%s: %v", filepath.Base(path), err)
		var ie *InputError
		if !errors.As(err, &ie) || ie.File != path || !errors.Is(err, format.ErrCorruptStream) {
			t.Fatalf("%s: error %v; want an *InputError naming the file, wrapping ErrCorruptStream", path, err)
		}
		if ie.Line <= 1 || ie.Offset <= 0 || !strings.Contains(err.Error(), "gzip:") {
			t.Errorf("%s: error %q does not say where the stream broke", path, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: the failed run left its output %s (%v)", path, out, err)
		}
	}
	// Truncated within the bytes the listing reads: refused there.
	short := filepath.Join(dir, "short.gz")
	os.WriteFile(short, gz[:200], 0o644)
	_, err := ListInputs(context.Background(), LocalFileSystems(), []string{short})
	t.Logf("%s: %v", filepath.Base(short), err)
	if err == nil || !strings.Contains(err.Error(), short) || !errors.Is(err, format.ErrCorruptStream) {
		t.Fatalf("listing a gzip file truncated at 200 bytes: %v; want an error naming it", err)
	}
}

// TestListInputsSniffsCompressedAndParquet checks that the binary-file
// check reads the decompressed start of a compressed file (a gzip file of
// text passes, one of binary data does not) and accepts a Parquet file by
// its magic bytes.
func TestListInputsSniffsCompressedAndParquet(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.gz")
	compressFile(t, text, []byte("hello\nworld\n"))
	binary := filepath.Join(dir, "binary.gz")
	compressFile(t, binary, []byte("abc\x00def\n"))
	pq := filepath.Join(dir, "rows.parquet")
	writeParquetFile(t, pq, 10, 5)
	files, err := ListInputs(context.Background(), LocalFileSystems(), []string{text, pq})
	if err != nil {
		t.Fatal(err)
	}
	if files[0].Parquet || !files[1].Parquet {
		t.Errorf("Parquet flags %v, %v; want false, true", files[0].Parquet, files[1].Parquet)
	}
	if _, err := ListInputs(context.Background(), LocalFileSystems(), []string{binary}); !errors.Is(err, ErrBinaryInput) || !strings.Contains(err.Error(), "byte offset 3") {
		t.Errorf("gzip of binary data: %v; want ErrBinaryInput at byte offset 3", err)
	}
	// A Parquet file planned as text is refused, naming it.
	if _, err := PlanInput(context.Background(), LocalFileSystems(), files, 1<<20, TextInput); err == nil || !strings.Contains(err.Error(), pq) || !strings.Contains(err.Error(), "input format parquet") {
		t.Errorf("Parquet file planned as text: %v", err)
	}
}
