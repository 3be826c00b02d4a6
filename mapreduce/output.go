package mapreduce

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gomr/gomr/mapreduce/format"
)

// PartName returns a part file's name: part-r-00003 for reduce partition 3,
// part-m-00003 for map task 3 of a map-only step.
func PartName(kind byte, index int) string {
	return fmt.Sprintf("part-%c-%05d", kind, index)
}

// TextWriter writes pairs as "key<TAB>value" lines to a file of a task's
// output; Close completes the file. It is the OutputWriter of text
// output.
type TextWriter struct {
	name    string
	f       FileWriter
	w       *bufio.Writer
	bytes   int64
	records int64
	closed  bool
}

// NewTextWriter writes lines to f, a file named name (for errors).
func NewTextWriter(f FileWriter, name string) *TextWriter {
	return &TextWriter{name: name, f: f, w: bufio.NewWriterSize(f, 256<<10)}
}

// Emit writes one line: key<TAB>value, or the key alone when value is
// nil (as Hadoop's TextOutputFormat writes a null value).
func (t *TextWriter) Emit(key, value []byte) error {
	t.w.Write(key)
	if value != nil {
		t.w.WriteByte('\t')
		t.w.Write(value)
		t.bytes++
	}
	if err := t.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	t.bytes += int64(len(key) + len(value) + 1)
	t.records++
	return nil
}

// Bytes returns the bytes written so far.
func (t *TextWriter) Bytes() int64 { return t.bytes }

// Records returns the lines written so far.
func (t *TextWriter) Records() int64 { return t.records }

// Close flushes and completes the file.
func (t *TextWriter) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	if err := t.w.Flush(); err != nil {
		t.f.Abort()
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	return t.f.Close()
}

// Abort discards the file unless Close already succeeded.
func (t *TextWriter) Abort() {
	if t.closed {
		return
	}
	t.closed = true
	t.f.Abort()
}

// OutputWriter writes a task's output pairs to one part file: Emit takes
// each pair, Close completes the file (Abort discards it). TextWriter is
// the text implementation; OutputFormat.Create makes the writer of a
// step's output format.
type OutputWriter interface {
	Emitter
	// Bytes returns the bytes written to the file so far (after
	// compression; exact once Close returned): BYTES_WRITTEN.
	Bytes() int64
	// Records returns the records written so far.
	Records() int64
	// Close flushes and completes the file.
	Close() error
	// Abort discards the file unless Close already succeeded.
	Abort()
}

// RowEmitter is implemented by the writers of typed output formats (CSV,
// JSON lines, Parquet): a map-only job whose records are already rows
// (csv2parquet) writes them with EmitRow instead of as pairs.
type RowEmitter interface {
	// EmitRow writes one row of the output schema.
	EmitRow(row []format.Value) error
}

// The output formats a step may name (StepSpec output_format).
const (
	// TextOutput writes "key<TAB>value" lines (the default; "" too).
	TextOutput = "text"
	// JSONLOutput writes a JSON object per pair, its fields the columns of
	// the job's output schema.
	JSONLOutput = "jsonl"
	// CSVOutput writes a header row with the schema's column names, then a
	// CSV row per pair.
	CSVOutput = "csv"
	// ParquetOutput writes a Parquet file of the schema's columns.
	ParquetOutput = "parquet"
)

// OutputFormats lists the output formats, the default first.
var OutputFormats = []string{TextOutput, JSONLOutput, CSVOutput, ParquetOutput, TeraOutput}

// ErrOutputRow is wrapped by the error for an output pair that does not
// fit the job's output schema. Re-running the task cannot cure it.
var ErrOutputRow = errors.New("output pair does not fit the job's output schema")

// RowSchema is the typed form of a job's output: its schema, and how an
// output pair becomes a row of it.
type RowSchema struct {
	// Schema is the columns of the rows.
	Schema format.Schema
	// KeyColumns is how many of the first columns the pair's key holds;
	// the value holds the rest (see format.RowFromPair).
	KeyColumns int
	// Row, when set, converts a pair instead of format.RowFromPair (for a
	// key whose fields need more than a split on '|').
	Row func(key, value []byte) ([]format.Value, error)
}

// FromPair converts an output pair into a row of the schema.
func (rs *RowSchema) FromPair(key, value []byte) ([]format.Value, error) {
	if rs.Row != nil {
		return rs.Row(key, value)
	}
	return format.RowFromPair(rs.Schema, rs.KeyColumns, key, value)
}

// OutputFormat says how a step's part files are written: in which format,
// compressed how, and with which typed schema. The zero value writes
// uncompressed text.
//
// Part files are named part-r-NNNNN (part-m-NNNNN for a map-only step)
// with the format's extension (.csv, .jsonl, .parquet; none for text) and
// the codec's (.gz, .zst) after it, so part-r-00000.csv.gz. A Parquet
// file compresses its column chunks itself: there Compress picks their
// codec (gzip or zstd; snappy, as Spark and Hive, when it is none) and the
// name stays .parquet.
type OutputFormat struct {
	// Name is TextOutput (also ""), JSONLOutput, CSVOutput or
	// ParquetOutput.
	Name string
	// Compress is none (also ""), gzip or zstd.
	Compress string
	// Rows is the job's typed output, which every format but text needs.
	Rows *RowSchema
	// RowGroupBytes and RowGroupRows bound a Parquet row group (see
	// format.ParquetOptions; DefaultRowGroupBytes when both are 0).
	RowGroupBytes, RowGroupRows int64
}

// DefaultRowGroupBytes is the size of the Parquet row groups a step
// writes unless its job says otherwise: 64 MiB of values, the default
// split size, so that a later step reads each row group in a map task of
// its own.
const DefaultRowGroupBytes = format.DefaultRowGroupBytes

// Validate checks the format's names, and that a typed format has a
// schema.
func (o OutputFormat) Validate() error {
	if o.Name != "" && !slices.Contains(OutputFormats, o.Name) {
		return fmt.Errorf("unknown output format %q (known: %s)", o.Name, strings.Join(OutputFormats, ", "))
	}
	if _, err := format.CompressorFor(o.Compress); err != nil {
		return err
	}
	if o.typed() {
		if o.Rows == nil {
			return fmt.Errorf("%s output needs a typed output schema, and the job has none: use text output", o.Name)
		}
		if err := o.Rows.Schema.Validate(); err != nil {
			return fmt.Errorf("output schema: %w", err)
		}
		if o.Rows.KeyColumns < 0 || o.Rows.KeyColumns > len(o.Rows.Schema) {
			return fmt.Errorf("output schema: %d key columns for %d columns", o.Rows.KeyColumns, len(o.Rows.Schema))
		}
	}
	if o.RowGroupBytes < 0 || o.RowGroupRows < 0 {
		return fmt.Errorf("negative row group size")
	}
	return nil
}

func (o OutputFormat) typed() bool {
	return o.Name != "" && o.Name != TextOutput && o.Name != TeraOutput
}

// Extension returns the suffix of the format's part files: ".csv.gz",
// ".jsonl", ".parquet", ".zst", or "" for uncompressed text.
func (o OutputFormat) Extension() string {
	codec, err := format.CompressorFor(o.Compress)
	if err != nil {
		codec = format.None
	}
	switch o.Name {
	case ParquetOutput:
		return ".parquet"
	case JSONLOutput, CSVOutput:
		return "." + o.Name + codec.Extension()
	}
	return codec.Extension()
}

// PartName returns the name of a part file of the format: PartName(kind,
// index) and the format's extension.
func (o OutputFormat) PartName(kind byte, index int) string {
	return PartName(kind, index) + o.Extension()
}

// Create makes the part file name in out and returns its writer.
func (o OutputFormat) Create(ctx context.Context, out TaskOutput, name string) (OutputWriter, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	f, err := out.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	w, err := o.NewWriter(f, name)
	if err != nil {
		f.Abort()
		return nil, err
	}
	return w, nil
}

// NewWriter returns the writer of the format on f, a file named name (for
// errors). On error f is left to the caller.
func (o OutputFormat) NewWriter(f FileWriter, name string) (OutputWriter, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	codec, _ := format.CompressorFor(o.Compress)
	if o.Name == TeraOutput {
		return newFixedWriter(f, name, codec, TeraRecordBytes)
	}
	if !o.typed() {
		if codec == format.None {
			return NewTextWriter(f, name), nil
		}
		cf, err := newCodecFile(f, codec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &compressedText{TextWriter: NewTextWriter(cf, name), file: cf}, nil
	}
	rw := &rowWriter{name: name, rows: o.Rows}
	if o.Name == ParquetOutput {
		// Parquet compresses its column chunks: the file is written as is.
		cf, _ := newCodecFile(f, format.None)
		parquetCodec := "snappy"
		if codec != format.None {
			parquetCodec = codec.Name()
		}
		pw, err := format.NewParquetWriter(cf, o.Rows.Schema, format.ParquetOptions{RowGroupBytes: o.RowGroupBytes, RowGroupRows: o.RowGroupRows, Compression: parquetCodec})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rw.file, rw.enc = cf, pw
		return rw, nil
	}
	cf, err := newCodecFile(f, codec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	rw.file = cf
	switch o.Name {
	case CSVOutput:
		cw, err := format.NewCSVWriter(cf, o.Rows.Schema)
		if err == nil {
			err = cw.WriteHeader()
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rw.enc = flushEncoder{cw}
	case JSONLOutput:
		jw, err := format.NewJSONLWriter(cf, o.Rows.Schema)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rw.enc = flushEncoder{jw}
	}
	return rw, nil
}

// rowEncoder writes rows of a schema in one format; Close ends the
// format's stream (it does not close the file).
type rowEncoder interface {
	WriteRow(row []format.Value) error
	Close() error
}

// flushEncoder is the rowEncoder of the buffered text formats.
type flushEncoder struct {
	w interface {
		WriteRow(row []format.Value) error
		Flush() error
	}
}

func (e flushEncoder) WriteRow(row []format.Value) error { return e.w.WriteRow(row) }
func (e flushEncoder) Close() error                      { return e.w.Flush() }

// rowWriter writes pairs as rows of a typed output format.
type rowWriter struct {
	name    string
	rows    *RowSchema
	file    *codecFile
	enc     rowEncoder
	records int64
	closed  bool
}

// Emit converts the pair to a row of the schema and writes it.
func (rw *rowWriter) Emit(key, value []byte) error {
	row, err := rw.rows.FromPair(key, value)
	if err != nil {
		return fmt.Errorf("write %s: %w: %w", rw.name, ErrOutputRow, err)
	}
	return rw.EmitRow(row)
}

// EmitRow writes one row.
func (rw *rowWriter) EmitRow(row []format.Value) error {
	if err := rw.enc.WriteRow(row); err != nil {
		if rw.rows.Schema.CheckRow(row) != nil {
			return fmt.Errorf("write %s: %w: %w", rw.name, ErrOutputRow, err)
		}
		return fmt.Errorf("write %s: %w", rw.name, err)
	}
	rw.records++
	return nil
}

// Bytes returns the bytes written to the file.
func (rw *rowWriter) Bytes() int64 { return rw.file.n }

// Records returns the rows written.
func (rw *rowWriter) Records() int64 { return rw.records }

// Close ends the format (a Parquet footer), the compression, and the file.
func (rw *rowWriter) Close() error {
	if rw.closed {
		return nil
	}
	rw.closed = true
	if err := rw.enc.Close(); err != nil {
		rw.file.Abort()
		return fmt.Errorf("write %s: %w", rw.name, err)
	}
	if err := rw.file.Close(); err != nil {
		return fmt.Errorf("write %s: %w", rw.name, err)
	}
	return nil
}

// Abort discards the file unless Close already succeeded.
func (rw *rowWriter) Abort() {
	if rw.closed {
		return
	}
	rw.closed = true
	rw.file.Abort()
}

// compressedText is a TextWriter whose file is compressed: its Bytes are
// the compressed bytes.
type compressedText struct {
	*TextWriter
	file *codecFile
}

func (c *compressedText) Bytes() int64 { return c.file.n }

// codecFile is a FileWriter that compresses what is written to it into
// another and counts the bytes that reach it.
type codecFile struct {
	f  FileWriter
	z  io.WriteCloser // nil: no compression
	n  int64
	ok bool
}

func newCodecFile(f FileWriter, codec format.Codec) (*codecFile, error) {
	cf := &codecFile{f: f}
	if codec != format.None {
		z, err := codec.NewWriter(countWriter{cf})
		if err != nil {
			return nil, err
		}
		cf.z = z
	}
	return cf, nil
}

// countWriter writes to a codecFile's file, counting.
type countWriter struct{ cf *codecFile }

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.cf.f.Write(p)
	c.cf.n += int64(n)
	return n, err
}

func (cf *codecFile) Write(p []byte) (int, error) {
	if cf.z != nil {
		return cf.z.Write(p)
	}
	return countWriter{cf}.Write(p)
}

// Close ends the compressed stream and completes the file.
func (cf *codecFile) Close() error {
	if cf.z != nil {
		if err := cf.z.Close(); err != nil {
			cf.f.Abort()
			return err
		}
	}
	if err := cf.f.Close(); err != nil {
		return err
	}
	cf.ok = true
	return nil
}

// Abort discards the file.
func (cf *codecFile) Abort() {
	if !cf.ok {
		cf.f.Abort()
	}
}
