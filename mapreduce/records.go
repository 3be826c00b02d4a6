package mapreduce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gomr/gomr/mapreduce/format"
)

// The input formats a step may name (StepSpec input_format). Whatever the
// format, a file whose name ends in .gz, .bz2 or .zst is decompressed as
// it is read, and read whole by one map task.
const (
	// TextInput reads lines (the default; "" means text).
	TextInput = "text"
	// CSVInput reads an RFC 4180 CSV file: its first line is the header
	// row, every later line one row (see csvReader).
	CSVInput = "csv"
	// JSONLInput reads JSON lines: one JSON object per line, handed to the
	// mapper as the record's Line (jobs parse it with
	// format.ParseJSONLine). The engine reads it as text.
	JSONLInput = "jsonl"
	// ParquetInput reads the rows of a Parquet file's row groups; a split
	// owns the row groups that start inside it.
	ParquetInput = "parquet"
)

// InputFormats lists the input formats, the default first.
var InputFormats = []string{TextInput, CSVInput, JSONLInput, ParquetInput, TeraInput}

// MalformedRecords counts input records that could not be parsed: CSV
// rows the engine rejected, and lines a job could not parse (logagg).
const MalformedRecords = "MALFORMED_RECORDS"

// CheckInputFormat refuses an input format gomr does not know.
func CheckInputFormat(name string) error {
	if name == "" || slices.Contains(InputFormats, name) {
		return nil
	}
	return fmt.Errorf("unknown input format %q (known: %s)", name, strings.Join(InputFormats, ", "))
}

// recordReader reads the records a split owns, in one input format.
type recordReader interface {
	// readRecord stores the next record in *rec, or returns io.EOF after
	// the last. A record that cannot be read but does not stop the split
	// (a CSV row with the wrong number of fields) comes with a
	// *badRecordError: it is counted and copied to the task's rejects.
	// After any other error *rec is unspecified. Filling the caller's
	// record, rather than returning one, spares a map task copying every
	// record through the call.
	readRecord(rec *Record) error
	// Progress returns the fraction of the split read, in [0, 1].
	Progress() float64
	// BytesRead returns the input bytes the records took.
	BytesRead() int64
	// LineNumber returns the 1-based line (or Parquet row) number of a
	// record in its file.
	LineNumber(rec Record) (int64, error)
	Close() error
	// source is the file read, for its counters and locality.
	source() File
}

// badRecordError marks a record the reader rejects, with the reason.
type badRecordError struct{ reason string }

func (e *badRecordError) Error() string { return e.reason }

// openRecords opens the reader of a split in an input format.
func openRecords(ctx context.Context, fss *FileSystems, s Split, inputFormat string, maxLine int) (recordReader, error) {
	switch inputFormat {
	case "", TextInput, JSONLInput:
		return OpenSplit(ctx, fss, s, maxLine)
	case CSVInput:
		return openCSV(ctx, fss, s, maxLine)
	case ParquetInput:
		return openParquet(ctx, fss, s)
	case TeraInput:
		return openFixed(ctx, fss, s, TeraRecordBytes)
	}
	return nil, CheckInputFormat(inputFormat)
}

// ReadRecords reads the records of a split in an input format, as a map
// task does, and calls fn with each until fn returns false. Rows a map
// task would reject are skipped. The primary samples input with it (a
// CSV file's first rows, to infer a schema).
func ReadRecords(ctx context.Context, fss *FileSystems, s Split, inputFormat string, maxLine int, fn func(Record) bool) error {
	rr, err := openRecords(ctx, fss, s, inputFormat, maxLine)
	if err != nil {
		return err
	}
	defer rr.Close()
	var rec Record
	for {
		err := rr.readRecord(&rec)
		var bad *badRecordError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &bad):
			continue
		case err != nil:
			return err
		}
		if !fn(rec) {
			return nil
		}
	}
}

// csvReader reads a CSV split: RFC 4180 records of one line each, the
// first line of the file being the header row.
//
// The header is read from the file's start whatever the split (a split
// that does not start at offset 0 reads it first); a UTF-8 byte order
// mark before it is dropped. A header that is not valid UTF-8 or not
// valid CSV fails the task with an *InputError: no row of the file can be
// read without it. Every later line is a row, handed to the mapper with
// the header as its Schema (nullable string columns) and its fields as
// Values (an empty field is nil).
//
// A row that is not valid UTF-8, is not valid CSV, or has another number
// of fields than the header is rejected: counted in MALFORMED_RECORDS and
// REJECTED_RECORDS and copied to the task's rejects with its file, line
// and reason; the task goes on. Rows must lie on one line: a quoted field
// that holds a line break cannot be told apart, inside a split, from a
// line that starts in the middle of a quoted field, so it is refused
// (each line of such a record is rejected, the first saying why) rather
// than read one way in one split and another way in the next.
type csvReader struct {
	*LineReader
	schema format.Schema
	fields []string
	values []format.Value
}

func openCSV(ctx context.Context, fss *FileSystems, s Split, maxLine int) (*csvReader, error) {
	lr, err := OpenSplit(ctx, fss, s, maxLine)
	if err != nil {
		return nil, err
	}
	cr := &csvReader{LineReader: lr}
	if s.Offset == 0 {
		// The split owns the header row: read it first.
		err = cr.readHeader(lr)
	} else {
		var hr *LineReader
		hr, err = OpenSplit(ctx, fss, Split{File: s.File, Doc: s.Doc, Offset: 0, Length: 1, FileSize: s.FileSize, ModTime: s.ModTime}, maxLine)
		if err == nil {
			err = cr.readHeader(hr)
			hr.Close()
		}
	}
	if err != nil {
		lr.Close()
		return nil, err
	}
	return cr, nil
}

// readHeader reads the header row, the first line of the file.
func (cr *csvReader) readHeader(lr *LineReader) error {
	rec, err := lr.Next()
	if err == io.EOF {
		return nil // an empty file: no header, no rows
	}
	if err != nil {
		return err
	}
	line := rec.Line
	if len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
		line = line[3:]
	}
	if !utf8.Valid(line) {
		return &InputError{File: rec.File, Line: 1, Offset: 0, Err: fmt.Errorf("CSV header row is not valid UTF-8 (at byte %d)", invalidUTF8At(line))}
	}
	names, err := format.ParseCSVLine(line, nil)
	if err != nil {
		return &InputError{File: rec.File, Line: 1, Offset: 0, Err: fmt.Errorf("CSV header row: %w", err)}
	}
	cr.schema = make(format.Schema, len(names))
	for i, n := range names {
		cr.schema[i] = format.Column{Name: n, Type: format.String, Nullable: true}
	}
	return nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// readRecord stores the next row of the split in *rec.
func (cr *csvReader) readRecord(rec *Record) error {
	err := cr.LineReader.readRecord(rec)
	if err != nil {
		return err
	}
	if !utf8.Valid(rec.Line) {
		return &badRecordError{fmt.Sprintf("CSV row is not valid UTF-8 (at byte %d of the line)", invalidUTF8At(rec.Line))}
	}
	cr.fields, err = format.ParseCSVLine(rec.Line, cr.fields)
	if err != nil {
		if errors.Is(err, format.ErrMultiLineRecord) {
			return &badRecordError{"CSV row spans lines (a quoted field is not closed on its line): rows must be one line each"}
		}
		return &badRecordError{err.Error()}
	}
	if len(cr.fields) != len(cr.schema) {
		return &badRecordError{fmt.Sprintf("CSV row has %d fields, the header has %d", len(cr.fields), len(cr.schema))}
	}
	cr.values = cr.values[:0]
	for _, f := range cr.fields {
		if f == "" {
			cr.values = append(cr.values, nil)
		} else {
			cr.values = append(cr.values, f)
		}
	}
	rec.Schema, rec.Values = cr.schema, cr.values
	return nil
}

// parquetReader reads the rows of the row groups a split owns: those whose
// first byte (their first column chunk) lies inside the split, as
// Hadoop's ParquetInputFormat assigns them. A truncated or corrupt file
// is an *InputError naming the file (and the row group's offset).
type parquetReader struct {
	split  Split
	f      File
	pf     *format.ParquetFile
	groups []format.RowGroupInfo // owned, in file order
	first  []int64               // row number in the file of each owned group's first row
	gi     int                   // next group to open
	rows   *format.ParquetRows
	cur    format.RowGroupInfo
	row    int64 // row number in the file of the next row
	total  int64 // rows owned
	read   int64
	bytes  int64
	line   []byte
	done   bool
}

func openParquet(ctx context.Context, fss *FileSystems, s Split) (*parquetReader, error) {
	if c, ok := format.CodecFor(s.File); ok {
		return nil, &InputError{File: s.File, Offset: -1, Err: fmt.Errorf("a Parquet file cannot be read through %s (Parquet compresses its column chunks itself)", c.Name())}
	}
	f, err := openSplitFile(ctx, fss, s)
	if err != nil {
		return nil, err
	}
	size := s.FileSize
	if size <= 0 {
		info, err := f.Info(ctx)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("stat %s: %w", s.File, err)
		}
		size = info.Size
	}
	pf, err := format.OpenParquet(f, size)
	if err != nil {
		f.Close()
		return nil, parquetError(s.File, -1, err)
	}
	pr := &parquetReader{split: s, f: f, pf: pf}
	var row int64
	for _, g := range pf.RowGroups() {
		if g.Rows > 0 && g.Offset >= s.Offset && g.Offset < s.Offset+s.Length {
			pr.groups = append(pr.groups, g)
			pr.first = append(pr.first, row)
			pr.total += g.Rows
		}
		row += g.Rows
	}
	return pr, nil
}

// parquetError describes an error reading a Parquet file: a file that is
// not Parquet, corrupt or unsupported is an *InputError.
func parquetError(file string, offset int64, err error) error {
	if errors.Is(err, format.ErrCorruptParquet) || errors.Is(err, format.ErrNotParquet) || errors.Is(err, format.ErrUnsupportedParquet) {
		return &InputError{File: file, Offset: offset, Err: err}
	}
	if offset < 0 {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return fmt.Errorf("read %s at byte offset %d: %w", file, offset, err)
}

// readRecord stores the next row of the owned row groups in *rec.
func (pr *parquetReader) readRecord(rec *Record) error {
	for {
		if pr.done {
			return io.EOF
		}
		if pr.rows == nil {
			if pr.gi == len(pr.groups) {
				pr.done = true
				continue
			}
			pr.cur, pr.row = pr.groups[pr.gi], pr.first[pr.gi]
			pr.gi++
			rows, err := pr.pf.ReadRowGroup(pr.cur.Index)
			if err != nil {
				return parquetError(pr.split.File, pr.cur.Offset, err)
			}
			pr.rows = rows
			pr.bytes += pr.cur.Size
		}
		values, err := pr.rows.Next()
		if err == io.EOF {
			pr.rows.Close()
			pr.rows = nil
			continue
		}
		if err != nil {
			return parquetError(pr.split.File, pr.cur.Offset, err)
		}
		schema := pr.pf.Schema()
		pr.line = pr.line[:0]
		for i, v := range values {
			if i > 0 {
				pr.line = append(pr.line, '\t')
			}
			pr.line = format.AppendValue(pr.line, schema[i].Type, v)
		}
		*rec = Record{File: pr.split.File, Doc: pr.split.Doc, Offset: pr.cur.Offset, Line: pr.line, Schema: schema, Values: values, lineInSplit: pr.row}
		pr.row++
		pr.read++
		return nil
	}
}

// Progress returns the fraction of the owned rows read.
func (pr *parquetReader) Progress() float64 {
	if pr.total == 0 {
		return 1
	}
	return float64(pr.read) / float64(pr.total)
}

// BytesRead returns the stored (compressed) bytes of the row groups read.
func (pr *parquetReader) BytesRead() int64 { return pr.bytes }

// LineNumber returns the 1-based row number of rec in its file.
func (pr *parquetReader) LineNumber(rec Record) (int64, error) { return rec.lineInSplit + 1, nil }

// Close releases the row group being read and the file.
func (pr *parquetReader) Close() error {
	if pr.rows != nil {
		pr.rows.Close()
		pr.rows = nil
	}
	return pr.f.Close()
}

func (pr *parquetReader) source() File { return pr.f }
