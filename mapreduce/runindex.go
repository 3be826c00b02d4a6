package mapreduce

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/gomr/gomr/hdfs"
)

// runIndexMagic begins a run's index file: the format's name and version.
// The index is binary, not text: a 64 MiB run has 131,072 chunk
// checksums, and its index is read each time one of its segments is
// fetched.
const runIndexMagic = "gomr run index 1\n"

// encodeRunIndex encodes a run's segments: after the magic, the number of
// segments, then each segment's partition, offset, length, raw length,
// records, codec (length and bytes) and checksum count as uvarints,
// followed by its checksums as little-endian uint32s.
func encodeRunIndex(segs []Segment) []byte {
	size := len(runIndexMagic) + binary.MaxVarintLen64
	for _, s := range segs {
		size += 7*binary.MaxVarintLen64 + len(s.Codec) + 4*len(s.Sums)
	}
	b := make([]byte, 0, size)
	b = append(b, runIndexMagic...)
	b = binary.AppendUvarint(b, uint64(len(segs)))
	for _, s := range segs {
		for _, v := range []int64{int64(s.Partition), s.Offset, s.Length, s.RawLength, s.Records} {
			b = binary.AppendUvarint(b, uint64(v))
		}
		b = binary.AppendUvarint(b, uint64(len(s.Codec)))
		b = append(b, s.Codec...)
		b = binary.AppendUvarint(b, uint64(len(s.Sums)))
		for _, sum := range s.Sums {
			b = binary.LittleEndian.AppendUint32(b, sum)
		}
	}
	return b
}

// indexDecoder reads the fields of a run index, keeping the first error
// with the offset where it occurred.
type indexDecoder struct {
	b   []byte
	off int
	err error
}

func (d *indexDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at offset %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

// uvarint reads a uvarint of at most max.
func (d *indexDecoder) uvarint(what string, max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("%s: truncated or overflowing varint", what)
		return 0
	}
	if v > max {
		d.fail("%s %d is out of range", what, v)
		return 0
	}
	d.off += n
	return v
}

// bytes reads n bytes.
func (d *indexDecoder) bytes(what string, n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("%s: %d bytes, only %d left", what, n, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p
}

// decodeRunIndex decodes an index written by encodeRunIndex.
func decodeRunIndex(b []byte) ([]Segment, error) {
	if len(b) < len(runIndexMagic) || string(b[:len(runIndexMagic)]) != runIndexMagic {
		return nil, fmt.Errorf("not a run index (no %q header)", runIndexMagic[:len(runIndexMagic)-1])
	}
	d := &indexDecoder{b: b, off: len(runIndexMagic)}
	const maxInt = 1<<63 - 1
	n := d.uvarint("segment count", uint64(len(b))) // each segment takes at least a byte
	segs := make([]Segment, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var s Segment
		s.Partition = int(d.uvarint("partition", 1<<31))
		s.Offset = int64(d.uvarint("offset", maxInt))
		s.Length = int64(d.uvarint("length", maxInt))
		s.RawLength = int64(d.uvarint("raw length", maxInt))
		s.Records = int64(d.uvarint("records", maxInt))
		s.Codec = string(d.bytes("codec", d.uvarint("codec length", 64)))
		sums := d.bytes("checksums", 4*d.uvarint("checksum count", uint64(len(b))/4))
		if d.err == nil {
			if want := (s.Length + hdfs.ChunkSize - 1) / hdfs.ChunkSize; int64(len(sums)/4) != want {
				d.fail("segment %d of %d bytes has %d checksums, want %d", i, s.Length, len(sums)/4, want)
			}
			s.Sums = make([]uint32, len(sums)/4)
			for j := range s.Sums {
				s.Sums[j] = binary.LittleEndian.Uint32(sums[4*j:])
			}
		}
		segs = append(segs, s)
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d bytes after the last segment", len(b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	return segs, nil
}

// writeRunIndex writes a run's index file.
func writeRunIndex(path string, segs []Segment) error {
	if err := os.WriteFile(path, encodeRunIndex(segs), 0o644); err != nil {
		return fmt.Errorf("write run index: %w", err)
	}
	return nil
}

// readRunIndex reads a run's index file.
func readRunIndex(path string) ([]Segment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read run index: %w", err)
	}
	segs, err := decodeRunIndex(b)
	if err != nil {
		return nil, fmt.Errorf("decode run index %s: %w", path, err)
	}
	return segs, nil
}
