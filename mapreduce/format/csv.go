package format

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrCSV is wrapped by every CSV syntax error.
var ErrCSV = errors.New("malformed CSV")

// ErrMultiLineRecord is wrapped by the error ParseCSVLine returns for a
// quoted field that does not close on its line: the file has records that
// span lines, which only a reader of the whole file (CSVReader) can read,
// so such a file must be read unsplit.
var ErrMultiLineRecord = errors.New("CSV record spans lines (a quoted field holds a line break); the file must be read unsplit, with CSVReader")

// ErrRecordTooLong is wrapped by the error for a CSV record longer than
// CSVReader.MaxRecordBytes.
var ErrRecordTooLong = errors.New("CSV record longer than the record limit")

// DefaultMaxRecordBytes is CSVReader's default record limit (1 MiB, the
// line limit of text splits).
const DefaultMaxRecordBytes = 1 << 20

// CSVError is a CSV syntax error with its position. Errors of ParseCSVLine
// carry the byte offset in the line (from 0) and no line number; errors of
// CSVReader carry the 1-based line number where the record starts and the
// byte offset of the problem in the input.
type CSVError struct {
	Line   int64 // 0 for ParseCSVLine
	Offset int64
	Err    error
}

func (e *CSVError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("CSV record at line %d: byte offset %d: %v", e.Line, e.Offset, e.Err)
	}
	return fmt.Sprintf("CSV: byte %d of the line: %v", e.Offset, e.Err)
}

// Unwrap returns the underlying error (wrapping ErrCSV, ErrMultiLineRecord
// or ErrRecordTooLong).
func (e *CSVError) Unwrap() error { return e.Err }

// ParseCSVLine parses one CSV record (RFC 4180) that lies on one line,
// appending its fields to fields[:0] (which may be nil) and returning
// them. A trailing "\n" or "\r\n" is ignored. Fields are separated by
// commas; a field that starts with a double quote is quoted, may hold
// commas, and writes a double quote as two (""); nothing may follow its
// closing quote but a comma or the end. A double quote inside an unquoted
// field is an error, and nothing is trimmed: spaces belong to the field.
// An empty line is one empty field.
//
// A quoted field still open at the end of the line is an error wrapping
// ErrMultiLineRecord. Errors are *CSVError naming the byte of the line.
func ParseCSVLine(line []byte, fields []string) ([]string, error) {
	line = trimEOL(line)
	fields, off, err := parseCSV(string(line), fields[:0], false)
	if err != nil {
		return nil, &CSVError{Offset: int64(off), Err: err}
	}
	return fields, nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// parseCSV splits one record; multiline allows line breaks inside quoted
// fields. On error it returns the offset of the problem.
func parseCSV(s string, fields []string, multiline bool) ([]string, int, error) {
	var unq []byte // scratch for quoted fields with "" escapes
	pos := 0
	for {
		if pos < len(s) && s[pos] == '"' {
			start := pos
			i := pos + 1
			unq = unq[:0]
			escaped := false
			for {
				j := strings.IndexByte(s[i:], '"')
				if j < 0 {
					if !multiline {
						return nil, start, fmt.Errorf("quoted field starting at byte %d is not closed on its line: %w", start, ErrMultiLineRecord)
					}
					return nil, start, fmt.Errorf("%w: quoted field starting at byte %d is not closed before the end of the input", ErrCSV, start)
				}
				j += i
				if j+1 < len(s) && s[j+1] == '"' {
					unq = append(unq, s[i:j+1]...)
					escaped = true
					i = j + 2
					continue
				}
				var field string
				if escaped {
					field = string(append(unq, s[i:j]...))
				} else {
					field = s[start+1 : j]
				}
				if !multiline {
					if k := strings.IndexByte(field, '\n'); k >= 0 {
						return nil, start, fmt.Errorf("quoted field starting at byte %d holds a line break: %w", start, ErrMultiLineRecord)
					}
				}
				fields = append(fields, field)
				pos = j + 1
				if pos < len(s) && s[pos] != ',' {
					return nil, pos, fmt.Errorf("%w: %q after the closing quote of the field starting at byte %d (want a comma or the end of the record)", ErrCSV, s[pos], start)
				}
				break
			}
		} else {
			end := strings.IndexByte(s[pos:], ',')
			if end < 0 {
				end = len(s)
			} else {
				end += pos
			}
			field := s[pos:end]
			if k := strings.IndexByte(field, '"'); k >= 0 {
				return nil, pos + k, fmt.Errorf("%w: double quote inside an unquoted field (at byte %d); quote the whole field and double the quote", ErrCSV, pos+k)
			}
			if k := strings.IndexByte(field, '\n'); k >= 0 {
				return nil, pos + k, fmt.Errorf("%w: line break inside an unquoted field (at byte %d)", ErrCSV, pos+k)
			}
			fields = append(fields, field)
			pos = end
		}
		if pos >= len(s) {
			return fields, 0, nil
		}
		pos++ // the comma
	}
}

// CheckFieldCount returns a *FieldCountError when a record does not have
// as many fields as the header.
func CheckFieldCount(fields []string, headerFields int) error {
	if len(fields) != headerFields {
		return &FieldCountError{Fields: len(fields), Want: headerFields}
	}
	return nil
}

// CSVReader reads CSV records (RFC 4180) from a stream, including records
// whose quoted fields hold line breaks, which ParseCSVLine refuses: it is
// for files read whole (unsplittable reads). Apart from the line breaks
// its rules are ParseCSVLine's, so a file without multi-line records reads
// the same either way.
type CSVReader struct {
	// MaxRecordBytes is the longest record accepted
	// (DefaultMaxRecordBytes when <= 0).
	MaxRecordBytes int
	// FieldsPerRecord is the number of fields every record must have; 0
	// (the default) takes it from the first record (the header), and a
	// negative value checks nothing. A record with another count is an
	// error wrapping a *FieldCountError.
	FieldsPerRecord int

	r      *bufio.Reader
	line   int64 // lines consumed
	offset int64 // bytes consumed
	rec    []byte
	err    error
}

// NewCSVReader returns a reader of the CSV records of r.
func NewCSVReader(r io.Reader) *CSVReader {
	return &CSVReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Read returns the fields of the next record, or io.EOF after the last.
// Errors are *CSVError (syntax, record too long, wrong field count) or the
// reader's errors wrapped with the line they were met at; after an error,
// Read returns it again.
func (cr *CSVReader) Read() ([]string, error) {
	if cr.err != nil {
		return nil, cr.err
	}
	fields, err := cr.read()
	if err != nil {
		cr.err = err
	}
	return fields, err
}

func (cr *CSVReader) read() ([]string, error) {
	limit := cr.MaxRecordBytes
	if limit <= 0 {
		limit = DefaultMaxRecordBytes
	}
	startLine, startOffset := cr.line+1, cr.offset
	cr.rec = cr.rec[:0]
	quotes := 0
	for {
		chunk, err := cr.r.ReadSlice('\n')
		cr.rec = append(cr.rec, chunk...)
		quotes += bytes.Count(chunk, []byte{'"'})
		cr.offset += int64(len(chunk))
		if len(cr.rec) > limit+2 {
			return nil, &CSVError{Line: startLine, Offset: startOffset, Err: fmt.Errorf("%w (%d bytes)", ErrRecordTooLong, limit)}
		}
		switch {
		case err == nil:
			cr.line++
			if quotes%2 == 0 {
				return cr.parse(startLine, startOffset)
			}
		case err == bufio.ErrBufferFull:
		case err == io.EOF:
			if len(cr.rec) == 0 {
				return nil, io.EOF
			}
			cr.line++
			return cr.parse(startLine, startOffset)
		default:
			return nil, fmt.Errorf("read CSV at line %d (byte offset %d): %w", cr.line+1, cr.offset, err)
		}
	}
}

func (cr *CSVReader) parse(line, offset int64) ([]string, error) {
	fields, off, err := parseCSV(string(trimEOL(cr.rec)), nil, true)
	if err != nil {
		return nil, &CSVError{Line: line, Offset: offset + int64(off), Err: err}
	}
	switch {
	case cr.FieldsPerRecord == 0:
		cr.FieldsPerRecord = len(fields)
	case cr.FieldsPerRecord > 0 && len(fields) != cr.FieldsPerRecord:
		return nil, &CSVError{Line: line, Offset: offset, Err: &FieldCountError{Fields: len(fields), Want: cr.FieldsPerRecord}}
	}
	return fields, nil
}

// Line returns the number of lines consumed so far.
func (cr *CSVReader) Line() int64 { return cr.line }

// CSVWriter writes CSV records, quoting a field only when it holds a
// comma, a double quote or a line break, and ending records with "\n". It
// buffers: call Flush at the end.
type CSVWriter struct {
	w      *bufio.Writer
	schema Schema
	buf    []byte
	err    error
}

// NewCSVWriter returns a writer of rows of schema to w. The schema may be
// nil for a writer used only with WriteFields.
func NewCSVWriter(w io.Writer, schema Schema) (*CSVWriter, error) {
	if schema != nil {
		if err := schema.Validate(); err != nil {
			return nil, fmt.Errorf("CSV writer: %w", err)
		}
	}
	return &CSVWriter{w: bufio.NewWriterSize(w, 64<<10), schema: schema}, nil
}

// WriteHeader writes the column names of the schema as a record.
func (cw *CSVWriter) WriteHeader() error {
	if cw.schema == nil {
		return errors.New("CSV writer: no schema to write a header of")
	}
	names := make([]string, len(cw.schema))
	for i, c := range cw.schema {
		names[i] = c.Name
	}
	return cw.WriteFields(names)
}

// WriteRow writes one row of the schema: each value checked (see
// Schema.CheckRow) and formatted by FormatValue, a null as an empty field.
func (cw *CSVWriter) WriteRow(row []Value) error {
	if cw.err != nil {
		return cw.err
	}
	if cw.schema == nil {
		return errors.New("CSV writer: WriteRow needs a schema")
	}
	if err := cw.schema.CheckRow(row); err != nil {
		return fmt.Errorf("CSV writer: %w", err)
	}
	b := cw.buf[:0]
	var scratch []byte
	for i, c := range cw.schema {
		if i > 0 {
			b = append(b, ',')
		}
		if c.Type == String {
			s, _ := row[i].(string)
			b = appendCSVField(b, s)
			continue
		}
		scratch = AppendValue(scratch[:0], c.Type, row[i])
		b = appendCSVField(b, string(scratch))
	}
	return cw.writeLine(b)
}

// WriteFields writes one record of text fields.
func (cw *CSVWriter) WriteFields(fields []string) error {
	if cw.err != nil {
		return cw.err
	}
	b := cw.buf[:0]
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, f)
	}
	return cw.writeLine(b)
}

func (cw *CSVWriter) writeLine(b []byte) error {
	b = append(b, '\n')
	cw.buf = b
	if _, err := cw.w.Write(b); err != nil {
		cw.err = fmt.Errorf("CSV writer: %w", err)
		return cw.err
	}
	return nil
}

// Flush writes any buffered records to the underlying writer.
func (cw *CSVWriter) Flush() error {
	if cw.err != nil {
		return cw.err
	}
	if err := cw.w.Flush(); err != nil {
		cw.err = fmt.Errorf("CSV writer: %w", err)
	}
	return cw.err
}

// appendCSVField appends a field, quoted only if it must be.
func appendCSVField(b []byte, f string) []byte {
	if !strings.ContainsAny(f, ",\"\r\n") {
		return append(b, f...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(f, '"')
		if i < 0 {
			break
		}
		b = append(b, f[:i+1]...)
		b = append(b, '"')
		f = f[i+1:]
	}
	b = append(b, f...)
	return append(b, '"')
}
