package hdfs

import (
	"errors"
	"fmt"
	"hash/crc32"
)

// ChunkSize is the number of bytes one checksum covers (HDFS's default
// dfs.bytes-per-checksum).
const ChunkSize = 512

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrChecksum is returned when data does not match its checksums.
var ErrChecksum = errors.New("checksum mismatch")

// ChecksumError names where verification failed.
type ChecksumError struct {
	// Offset is the byte offset of the first byte of the corrupt chunk.
	Offset int64
	Err    error
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("chunk at byte offset %d: %v", e.Offset, e.Err)
}

func (e *ChecksumError) Unwrap() error { return e.Err }

// Checksummer computes chunk checksums of the bytes written to it. The zero
// value is ready to use.
type Checksummer struct {
	sums    []uint32
	partial uint32 // CRC of the bytes of the current, incomplete chunk
	filled  int    // bytes in the current chunk
	total   int64
}

// Write adds p to the checksummed stream. It never fails.
func (c *Checksummer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(ChunkSize-c.filled, len(p))
		c.partial = crc32.Update(c.partial, castagnoli, p[:take])
		c.filled += take
		p = p[take:]
		if c.filled == ChunkSize {
			c.sums = append(c.sums, c.partial)
			c.partial, c.filled = 0, 0
		}
	}
	c.total += int64(n)
	return n, nil
}

// Sums returns one checksum per ChunkSize bytes written, the last covering
// the final partial chunk if there is one.
func (c *Checksummer) Sums() []uint32 {
	if c.filled > 0 {
		return append(append([]uint32(nil), c.sums...), c.partial)
	}
	return append([]uint32(nil), c.sums...)
}

// Len returns the number of bytes written.
func (c *Checksummer) Len() int64 { return c.total }

// Verifier checks a stream against known chunk checksums as it is written.
// Bytes written before a corrupt chunk's end have not been verified; callers
// that must not use unverified data keep it until Close returns nil.
type Verifier struct {
	want []uint32
	c    Checksummer
	err  error
}

// NewVerifier returns a verifier for a stream whose chunk checksums are want.
func NewVerifier(want []uint32) *Verifier { return &Verifier{want: want} }

// Write verifies every chunk p completes and fails on the first mismatch.
func (v *Verifier) Write(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	before := len(v.c.sums)
	v.c.Write(p)
	for i := before; i < len(v.c.sums); i++ {
		if i >= len(v.want) || v.c.sums[i] != v.want[i] {
			v.err = &ChecksumError{Offset: int64(i) * ChunkSize, Err: ErrChecksum}
			return 0, v.err
		}
	}
	return len(p), nil
}

// Close verifies the final partial chunk and that the stream had exactly as
// many chunks as expected.
func (v *Verifier) Close() error {
	if v.err != nil {
		return v.err
	}
	got := v.c.Sums()
	for i := len(v.c.sums); i < len(got) || i < len(v.want); i++ {
		if i >= len(got) || i >= len(v.want) || got[i] != v.want[i] {
			v.err = &ChecksumError{Offset: int64(i) * ChunkSize, Err: ErrChecksum}
			return v.err
		}
	}
	return nil
}
