package pagecache

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestWriterWritesEveryByte writes 3.5 windows in writes of odd sizes
// that straddle the windows' ends, behind, and reads the file back.
func TestWriterWritesEveryByte(t *testing.T) {
	want := make([]byte, 7*Window/2)
	rand.NewChaCha8([32]byte{7}).Read(want)
	f, err := os.Create(filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f)
	for rest, rng := want, rand.New(rand.NewPCG(1, 1)); len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(3<<20))
		if m, err := w.Write(rest[:n]); err != nil || m != n {
			t.Fatalf("wrote %d of %d bytes: %v", m, n, err)
		}
		rest = rest[n:]
	}
	w.Close()
	if w.started == 0 || w.started%Window != 0 || w.started > 3*Window || w.dropped != max(0, w.started-2*Window) {
		t.Errorf("writeback started up to %d and cache dropped up to %d, in 3.5 windows of %d", w.started, w.dropped, Window)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, not the %d written", len(got), len(want))
	}
}

// TestWriterReportsWriteErrors writes to a file opened read-only.
func TestWriterReportsWriteErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	os.WriteFile(path, nil, 0o644)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := NewWriter(f).Write([]byte("x")); err == nil {
		t.Fatal("a write to a read-only file succeeded")
	}
}
