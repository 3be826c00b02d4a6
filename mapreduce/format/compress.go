package format

import (
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Codec is a compression format of files. Input files pick theirs by
// name suffix (CodecFor); a step's output picks one by name
// (CompressorFor).
type Codec interface {
	// Name is the codec's name: gzip, bzip2, zstd or none.
	Name() string
	// Extension is the file name suffix of the codec (".gz", ".bz2",
	// ".zst"; "" for none).
	Extension() string
	// Splittable reports whether a compressed file can be cut into
	// several splits. None of gomr's codecs can: as in Hadoop, a gzip,
	// bzip2 or zstd file is one split read from its start, whatever its
	// size (Hadoop splits bzip2 at block markers; gomr does not). zstd
	// could be split only if written as independent seekable frames with
	// a seek table, which gomr does not write or read. Only none is
	// splittable.
	Splittable() bool
	// NewReader returns a reader of the decompressed bytes of r. The
	// reader's errors name the codec and what is wrong (a truncated
	// stream wraps io.ErrUnexpectedEOF); an empty input is an empty
	// stream. Close releases the decompressor, not r.
	NewReader(r io.Reader) (io.ReadCloser, error)
	// NewWriter returns a writer compressing into w; Close ends the
	// stream (it does not close w). bzip2 has no writer.
	NewWriter(w io.Writer) (io.WriteCloser, error)
}

// The codecs.
var (
	// Gzip is gzip (RFC 1952), through klauspost/compress; concatenated
	// members are read as one stream, as gzip -d does.
	Gzip Codec = gzipCodec{}
	// Bzip2 is bzip2, read through the standard library, which has no
	// compressor: it is an input format only.
	Bzip2 Codec = bzip2Codec{}
	// Zstd is Zstandard (RFC 8878), through klauspost/compress.
	Zstd Codec = zstdCodec{}
	// None is no compression.
	None Codec = noneCodec{}
)

// ErrCorruptStream is wrapped by every error about a compressed stream
// that is corrupt or truncated.
var ErrCorruptStream = errors.New("corrupt compressed stream")

// zstdMaxWindow bounds the window a zstd frame may ask for (128 MiB, the
// zstd tool's default limit), so a corrupt header cannot claim gigabytes.
const zstdMaxWindow = 128 << 20

// CodecFor returns the codec of a file by its name's suffix (.gz, .bz2,
// .zst, in any case) and true, or None and false for any other name.
func CodecFor(path string) (Codec, bool) {
	lower := strings.ToLower(path)
	for _, c := range []Codec{Gzip, Bzip2, Zstd} {
		if strings.HasSuffix(lower, c.Extension()) {
			return c, true
		}
	}
	return None, false
}

// CompressorFor returns the codec for compressing output by name: gzip,
// zstd, or none (or ""), in any case. bzip2 is refused, as there is no
// bzip2 compressor.
func CompressorFor(name string) (Codec, error) {
	switch strings.ToLower(name) {
	case "gzip":
		return Gzip, nil
	case "zstd":
		return Zstd, nil
	case "none", "":
		return None, nil
	case "bzip2":
		return nil, errors.New("output compression bzip2 is not supported (gomr reads bzip2 but cannot write it); choose gzip, zstd or none")
	}
	return nil, fmt.Errorf("unknown output compression %q (choose gzip, zstd or none)", name)
}

type gzipCodec struct{}

func (gzipCodec) Name() string      { return "gzip" }
func (gzipCodec) Extension() string { return ".gz" }
func (gzipCodec) Splittable() bool  { return false }

func (c gzipCodec) NewReader(r io.Reader) (io.ReadCloser, error) {
	return openStream(c.Name(), r, func(br *bufio.Reader) (io.Reader, func() error, error) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	})
}

func (gzipCodec) NewWriter(w io.Writer) (io.WriteCloser, error) {
	return gzip.NewWriterLevel(w, gzip.DefaultCompression)
}

type bzip2Codec struct{}

func (bzip2Codec) Name() string      { return "bzip2" }
func (bzip2Codec) Extension() string { return ".bz2" }
func (bzip2Codec) Splittable() bool  { return false }

func (c bzip2Codec) NewReader(r io.Reader) (io.ReadCloser, error) {
	return openStream(c.Name(), r, func(br *bufio.Reader) (io.Reader, func() error, error) {
		return bzip2.NewReader(br), nil, nil
	})
}

func (bzip2Codec) NewWriter(io.Writer) (io.WriteCloser, error) {
	return nil, errors.New("bzip2: no compressor (gomr reads bzip2 but cannot write it)")
}

type zstdCodec struct{}

func (zstdCodec) Name() string      { return "zstd" }
func (zstdCodec) Extension() string { return ".zst" }
func (zstdCodec) Splittable() bool  { return false }

func (c zstdCodec) NewReader(r io.Reader) (io.ReadCloser, error) {
	return openStream(c.Name(), r, func(br *bufio.Reader) (io.Reader, func() error, error) {
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, err
		}
		return zr, func() error { zr.Close(); return nil }, nil
	})
}

func (zstdCodec) NewWriter(w io.Writer) (io.WriteCloser, error) {
	return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
}

type noneCodec struct{}

func (noneCodec) Name() string      { return "none" }
func (noneCodec) Extension() string { return "" }
func (noneCodec) Splittable() bool  { return true }

func (noneCodec) NewReader(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(r), nil }

func (noneCodec) NewWriter(w io.Writer) (io.WriteCloser, error) { return nopWriteCloser{w}, nil }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// openStream opens a decompressor on r, which reads an empty input as an
// empty stream, and wraps its errors.
func openStream(codec string, r io.Reader, open func(*bufio.Reader) (io.Reader, func() error, error)) (io.ReadCloser, error) {
	src := &sourceReader{r: r}
	br := bufio.NewReaderSize(src, 64<<10)
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF {
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, fmt.Errorf("%s: read compressed input: %w", codec, err)
	}
	s := &stream{codec: codec, src: src}
	var dr io.Reader
	var closeFn func() error
	err := s.guard(func() (err error) {
		dr, closeFn, err = open(br)
		return err
	})
	if err != nil {
		return nil, s.wrap(err)
	}
	s.r, s.close = dr, closeFn
	return s, nil
}

// stream is a decompressing reader whose errors name the codec and how
// far it got; a decompressor panic becomes an error, and a decompressor
// that stops making progress is an error instead of a hang.
type stream struct {
	codec string
	src   *sourceReader
	r     io.Reader
	close func() error
	out   int64 // decompressed bytes returned
	err   error
}

// maxEmptyReads is how many (0, nil) reads in a row count as no progress.
const maxEmptyReads = 100

func (s *stream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for range maxEmptyReads {
		var n int
		var err error
		if gerr := s.guard(func() error { n, err = s.r.Read(p); return nil }); gerr != nil {
			err = gerr
		}
		s.out += int64(n)
		if err == io.EOF {
			s.err = io.EOF
			return n, io.EOF
		}
		if err != nil {
			s.err = s.wrap(err)
			return n, s.err
		}
		if n > 0 {
			return n, nil
		}
	}
	s.err = s.wrap(io.ErrNoProgress)
	return 0, s.err
}

func (s *stream) Close() error {
	if s.close == nil {
		return nil
	}
	c := s.close
	s.close = nil
	return c()
}

// guard runs f, turning a panic of the decompressor into an error.
func (s *stream) guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decompressor failed: %v", r)
		}
	}()
	return f()
}

// sourceReader remembers the last error of the compressed input other
// than io.EOF, so that a failing file is not reported as corrupt data.
type sourceReader struct {
	r   io.Reader
	err error
}

func (sr *sourceReader) Read(p []byte) (int, error) {
	n, err := sr.r.Read(p)
	if err != nil && err != io.EOF {
		sr.err = err
	}
	return n, err
}

// wrap describes a decompression error: truncated or corrupt, and where;
// or an error reading the compressed input itself.
func (s *stream) wrap(err error) error {
	if s.src.err != nil && errors.Is(err, s.src.err) {
		return fmt.Errorf("%s: read compressed input after %d decompressed bytes: %w", s.codec, s.out, err)
	}
	var what string
	var ce flate.CorruptInputError
	var se bzip2.StructuralError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		what = "truncated stream (it ends before its end marker)"
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, zstd.ErrCRCMismatch):
		what = "checksum mismatch (the data is corrupt)"
	case errors.Is(err, gzip.ErrHeader), errors.Is(err, zstd.ErrMagicMismatch):
		what = "not a " + s.codec + " stream or a corrupt header"
	case errors.Is(err, zstd.ErrWindowSizeExceeded):
		what = fmt.Sprintf("frame asks for a window larger than the %d MiB limit", zstdMaxWindow>>20)
	case errors.Is(err, io.ErrNoProgress):
		what = "decompressor makes no progress"
	case errors.As(err, &ce), errors.As(err, &se):
		what = "corrupt data"
	default:
		what = "corrupt or unreadable stream"
	}
	return fmt.Errorf("%s: %s after %d decompressed bytes: %w: %w", s.codec, what, s.out, ErrCorruptStream, err)
}
