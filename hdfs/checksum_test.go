package hdfs

import (
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestChecksumsMatchPerChunkCRC32C(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 10*ChunkSize + 7} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		// Written in uneven pieces.
		var c Checksummer
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(700))
			c.Write(rest[:k])
			rest = rest[k:]
		}
		var want []uint32
		for off := 0; off < n; off += ChunkSize {
			want = append(want, crc32.Checksum(data[off:min(off+ChunkSize, n)], crc32.MakeTable(crc32.Castagnoli)))
		}
		got := c.Sums()
		if len(got) != len(want) || c.Len() != int64(n) {
			t.Fatalf("%d bytes: %d sums, want %d", n, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%d bytes: chunk %d sum %08x, want %08x", n, i, got[i], want[i])
			}
		}
		v := NewVerifier(got)
		if _, err := v.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := v.Close(); err != nil {
			t.Fatalf("%d bytes: good data refused: %v", n, err)
		}
	}
}

func TestVerifierNamesTheCorruptChunk(t *testing.T) {
	data := make([]byte, 5*ChunkSize+100)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var c Checksummer
	c.Write(data)
	sums := c.Sums()
	for _, bad := range []int{0, 3*ChunkSize + 17, len(data) - 1} {
		corrupt := append([]byte(nil), data...)
		corrupt[bad] ^= 1
		v := NewVerifier(sums)
		_, err := v.Write(corrupt)
		if err == nil {
			err = v.Close()
		}
		var ce *ChecksumError
		if !errors.As(err, &ce) || !errors.Is(err, ErrChecksum) || ce.Offset != int64(bad/ChunkSize*ChunkSize) {
			t.Fatalf("byte %d flipped: got %v", bad, err)
		}
	}
	// Truncated and extended streams fail too.
	for _, n := range []int{len(data) - 1, 4 * ChunkSize} {
		v := NewVerifier(sums)
		v.Write(data[:n])
		if err := v.Close(); !errors.Is(err, ErrChecksum) {
			t.Fatalf("%d of %d bytes accepted", n, len(data))
		}
	}
	v := NewVerifier(sums)
	v.Write(append(append([]byte(nil), data...), 'x'))
	if err := v.Close(); !errors.Is(err, ErrChecksum) {
		t.Fatal("an extra byte was accepted")
	}
}
