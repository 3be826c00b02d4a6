package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// fixtureText is what the files testdata/lines.txt.* hold: they were made
// by the gzip, bzip2 and zstd command-line tools from this text.
func fixtureText() []byte {
	var b bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&b, "%05d the quick brown fox jumps %d\n", i, i*i)
	}
	return b.Bytes()
}

func TestCodecFor(t *testing.T) {
	tests := []struct {
		path string
		want Codec
		ok   bool
	}{
		{"s3://b/logs/2025/part-00000.gz", Gzip, true},
		{"/data/x.csv.GZ", Gzip, true},
		{"x.bz2", Bzip2, true},
		{"hdfs://nn/x.json.zst", Zstd, true},
		{"x.csv", None, false},
		{"x.gzip", None, false},
		{"x.zstd", None, false},
		{"gz", None, false},
	}
	for _, tt := range tests {
		got, ok := CodecFor(tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CodecFor(%q) = %v, %v; want %v, %v", tt.path, got.Name(), ok, tt.want.Name(), tt.ok)
		}
	}
	for _, c := range []Codec{Gzip, Bzip2, Zstd} {
		if c.Splittable() {
			t.Errorf("%s is splittable", c.Name())
		}
	}
	if !None.Splittable() || None.Extension() != "" {
		t.Error("None")
	}
}

func TestCompressorFor(t *testing.T) {
	tests := []struct {
		name    string
		want    Codec
		ext     string
		wantErr string
	}{
		{"gzip", Gzip, ".gz", ""},
		{"ZSTD", Zstd, ".zst", ""},
		{"none", None, "", ""},
		{"", None, "", ""},
		{"bzip2", nil, "", "gomr reads bzip2 but cannot write it"},
		{"lzo", nil, "", `unknown output compression "lzo"`},
	}
	for _, tt := range tests {
		got, err := CompressorFor(tt.name)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CompressorFor(%q) error = %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want || got.Extension() != tt.ext {
			t.Errorf("CompressorFor(%q) = %v, %v", tt.name, got, err)
		}
	}
	if _, err := Bzip2.NewWriter(io.Discard); err == nil {
		t.Error("bzip2 has a writer")
	}
}

func compressBytes(t testing.TB, c Codec, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := c.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decompress(c Codec, data []byte) ([]byte, error) {
	r, err := c.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestCompressionRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	inputs := map[string][]byte{
		"empty":  nil,
		"byte":   {'x'},
		"text":   fixtureText(),
		"random": random,
	}
	for _, c := range []Codec{Gzip, Zstd, None} {
		for name, data := range inputs {
			z := compressBytes(t, c, data)
			got, err := decompress(c, z)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s %s: round trip gave %d bytes, %v; want %d", c.Name(), name, len(got), err, len(data))
			}
		}
	}
}

func TestReadToolFiles(t *testing.T) {
	text := fixtureText()
	for _, f := range []struct {
		file string
		want []byte
	}{
		{"lines.txt.gz", text}, {"lines.txt.bz2", text}, {"lines.txt.zst", text},
		{"concat.txt.gz", []byte("first\nsecond\n")},
		{"concat.txt.bz2", []byte("first\nsecond\n")},
		{"concat.txt.zst", []byte("first\nsecond\n")},
	} {
		data, err := os.ReadFile("testdata/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := CodecFor(f.file)
		if !ok {
			t.Fatalf("no codec for %s", f.file)
		}
		got, err := decompress(c, data)
		if err != nil || !bytes.Equal(got, f.want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", f.file, len(got), err, len(f.want))
		}
	}
}

func TestEmptyCompressedFile(t *testing.T) {
	for _, c := range []Codec{Gzip, Bzip2, Zstd} {
		got, err := decompress(c, nil)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: empty file gave %q, %v", c.Name(), got, err)
		}
	}
}

// compressedSamples returns, per codec, a compressed stream of one
// member/frame and its content.
func compressedSamples(t *testing.T) []struct {
	c    Codec
	z    []byte
	text []byte
} {
	text := fixtureText()
	bz, err := os.ReadFile("testdata/lines.txt.bz2")
	if err != nil {
		t.Fatal(err)
	}
	return []struct {
		c    Codec
		z    []byte
		text []byte
	}{
		{Gzip, compressBytes(t, Gzip, text), text},
		{Zstd, compressBytes(t, Zstd, text), text},
		{Bzip2, bz, text},
	}
}

// TestTruncatedStreams cuts streams at many lengths: every cut must be an
// error that says the stream is truncated or corrupt.
func TestTruncatedStreams(t *testing.T) {
	for _, s := range compressedSamples(t) {
		t.Run(s.c.Name(), func(t *testing.T) {
			var lengths []int
			for n := 1; n < len(s.z); n++ {
				if n < 64 || n > len(s.z)-64 || n%97 == 0 {
					lengths = append(lengths, n)
				}
			}
			truncated := 0
			for _, n := range lengths {
				got, err := decompressWithin(t, s.c, s.z[:n])
				if err == nil {
					t.Fatalf("cut at %d of %d bytes: no error (%d bytes out)", n, len(s.z), len(got))
				}
				if !errors.Is(err, ErrCorruptStream) || !strings.HasPrefix(err.Error(), s.c.Name()+": ") {
					t.Fatalf("cut at %d: error %v does not name the codec and wrap ErrCorruptStream", n, err)
				}
				if errors.Is(err, io.ErrUnexpectedEOF) {
					truncated++
				}
			}
			// Most cuts are reported as truncation (a few land where the
			// decoder sees a bad header first).
			if truncated < len(lengths)*9/10 {
				t.Errorf("only %d of %d cuts wrap io.ErrUnexpectedEOF", truncated, len(lengths))
			}
			t.Logf("%d cuts, %d reported as truncated; e.g. %v", len(lengths), truncated, func() error { _, err := decompress(s.c, s.z[:len(s.z)/2]); return err }())
		})
	}
}

// TestCorruptStreams flips bytes: each flip must give an error or,
// where the byte is not covered by a checksum (a gzip header's time
// stamp), the same output.
func TestCorruptStreams(t *testing.T) {
	for _, s := range compressedSamples(t) {
		t.Run(s.c.Name(), func(t *testing.T) {
			errs := 0
			positions := 0
			flips := 300
			if s.c == Bzip2 {
				flips = 80 // the standard library's bzip2 is slow, more so under -race
			}
			for pos := 0; pos < len(s.z); pos += max(1, len(s.z)/flips) {
				positions++
				z := bytes.Clone(s.z)
				z[pos] ^= 0x55
				got, err := decompressWithin(t, s.c, z)
				if err != nil {
					errs++
					if !errors.Is(err, ErrCorruptStream) {
						t.Fatalf("flip at %d: %v does not wrap ErrCorruptStream", pos, err)
					}
					continue
				}
				if !bytes.Equal(got, s.text) {
					t.Fatalf("flip at %d: no error but different output (%d bytes)", pos, len(got))
				}
			}
			if errs == 0 {
				t.Error("no flip was detected")
			}
			t.Logf("%d flips, %d errors", positions, errs)
		})
	}
}

// decompressWithin fails the test if decompression takes too long (a
// hang on corrupt input).
func decompressWithin(t *testing.T, c Codec, z []byte) ([]byte, error) {
	t.Helper()
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := decompress(c, z)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: decompression of %d bytes hangs", c.Name(), len(z))
		return nil, nil
	}
}

type failingReader struct {
	r     io.Reader
	after int
	err   error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, f.err
	}
	p = p[:min(len(p), f.after)]
	n, err := f.r.Read(p)
	f.after -= n
	return n, err
}

// TestSourceErrorIsNotCorruption: an error of the file under the
// decompressor is passed on as itself, not as corrupt data.
func TestSourceErrorIsNotCorruption(t *testing.T) {
	boom := errors.New("connection reset")
	for _, s := range compressedSamples(t) {
		r, err := s.c.NewReader(&failingReader{r: bytes.NewReader(s.z), after: len(s.z) / 2, err: boom})
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(r)
		if !errors.Is(err, boom) {
			t.Errorf("%s: %v does not wrap the source error", s.c.Name(), err)
		}
		if s.c != Bzip2 && errors.Is(err, ErrCorruptStream) {
			t.Errorf("%s: source error reported as corruption: %v", s.c.Name(), err)
		}
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestStuckSourceDoesNotHang(t *testing.T) {
	for _, c := range []Codec{Gzip, Bzip2, Zstd} {
		done := make(chan error, 1)
		go func() {
			r, err := c.NewReader(stuckReader{})
			if err == nil {
				_, err = io.ReadAll(r)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, io.ErrNoProgress) {
				t.Errorf("%s: %v", c.Name(), err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s hangs on a reader that returns nothing", c.Name())
		}
	}
}

func TestNotCompressed(t *testing.T) {
	for _, c := range []Codec{Gzip, Bzip2, Zstd} {
		_, err := decompress(c, []byte("plain text, not compressed\n"))
		if !errors.Is(err, ErrCorruptStream) || !strings.Contains(err.Error(), c.Name()) {
			t.Errorf("%s on plain text: %v", c.Name(), err)
		}
	}
}
