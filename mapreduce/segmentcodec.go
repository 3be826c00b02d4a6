package mapreduce

import (
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// MapOutputCodecs are the codecs a map task can compress its output
// with, as Hadoop's mapreduce.map.output.compress.codec: s2 (Snappy's
// faster successor, the cheapest on CPU) and zstd (at its fastest level,
// smaller output).
var MapOutputCodecs = []string{"s2", "zstd"}

// CheckMapOutputCodec refuses a codec that is neither "" (none) nor one
// of MapOutputCodecs.
func CheckMapOutputCodec(codec string) error {
	if codec == "" || slices.Contains(MapOutputCodecs, codec) {
		return nil
	}
	return fmt.Errorf("map output codec %q: want none, s2 or zstd", codec)
}

// s2BlockSize is the block size of s2 segments. A reduce reads every
// segment at once in its final merge, holding a block of each twice
// (compressed and not): at s2's default of 1 MiB, a reduce of 160 map
// outputs held 320 MiB; at 64 KiB it holds 20 MiB, for about 1% less
// compression.
const s2BlockSize = 64 << 10

// segmentEncoder compresses one segment at a time into a stream.
type segmentEncoder interface {
	io.WriteCloser
	Reset(w io.Writer)
}

func newSegmentEncoder(codec string) (segmentEncoder, error) {
	switch codec {
	case "s2":
		return s2.NewWriter(nil, s2.WriterConcurrency(1), s2.WriterBlockSize(s2BlockSize)), nil
	case "zstd":
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		return enc, nil
	}
	return nil, CheckMapOutputCodec(codec)
}

// segmentDecoder decompresses one segment's stream.
type segmentDecoder interface {
	io.Reader
	Close()
}

// s2Decoder gives an s2.Reader the Close of a segmentDecoder.
type s2Decoder struct{ *s2.Reader }

func (s2Decoder) Close() {}

// zstdDecoder reads a zstd stream.
type zstdDecoder struct{ *zstd.Decoder }

func newSegmentDecoder(codec string, r io.Reader) (segmentDecoder, error) {
	switch codec {
	case "s2":
		return s2Decoder{s2.NewReader(r, s2.ReaderMaxBlockSize(s2BlockSize))}, nil
	case "zstd":
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd decoder: %w", err)
		}
		return zstdDecoder{dec}, nil
	}
	return nil, fmt.Errorf("unknown codec %q", codec)
}
