package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrJSON is wrapped by every error about a JSON line that is not one
// JSON object.
var ErrJSON = errors.New("invalid JSON line")

// JSONError is an error in a JSON line, with the byte offset (from 0) in
// the line where the problem was found.
type JSONError struct {
	Offset int64
	Err    error
}

func (e *JSONError) Error() string {
	return fmt.Sprintf("JSON: byte %d of the line: %v", e.Offset, e.Err)
}

// Unwrap returns the underlying error, which wraps ErrJSON.
func (e *JSONError) Unwrap() error { return e.Err }

// ParseJSONLine parses one line of a JSON lines file as a JSON object. A
// trailing "\n" or "\r\n" is ignored, as is white space around the object.
// Numbers are kept exactly, as json.Number (their text); nested objects
// are map[string]any and arrays []any. Invalid JSON, a value that is not
// an object, and anything after the object are *JSONError naming the
// byte offset.
func ParseJSONLine(line []byte) (map[string]any, error) {
	line = trimEOL(line)
	first := 0
	for first < len(line) && isJSONSpace(line[first]) {
		first++
	}
	if first == len(line) {
		return nil, &JSONError{Offset: int64(first), Err: fmt.Errorf("%w: empty line (want a JSON object)", ErrJSON)}
	}
	if line[first] != '{' {
		return nil, &JSONError{Offset: int64(first), Err: fmt.Errorf("%w: the line holds %s, not an object", ErrJSON, jsonKind(line[first]))}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, &JSONError{Offset: max(se.Offset-1, 0), Err: fmt.Errorf("%w: %v", ErrJSON, se)}
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return nil, &JSONError{Offset: int64(len(line)), Err: fmt.Errorf("%w: the object is not closed before the end of the line", ErrJSON)}
		}
		return nil, &JSONError{Offset: dec.InputOffset(), Err: fmt.Errorf("%w: %v", ErrJSON, err)}
	}
	rest := dec.InputOffset()
	for i := rest; i < int64(len(line)); i++ {
		if !isJSONSpace(line[i]) {
			return nil, &JSONError{Offset: i, Err: fmt.Errorf("%w: text after the object (one object per line)", ErrJSON)}
		}
	}
	return obj, nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func jsonKind(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return fmt.Sprintf("%q, which starts no JSON value", c)
}

// Field returns the value at a dotted path in a parsed JSON object:
// "a.b" is the field b of the object in field a, and a step that is a
// decimal number indexes an array ("items.0.id"). At each level a key
// that holds the rest of the path literally, dots and all, is preferred,
// so {"a.b": 1} answers "a.b" too. It reports false when the path leads
// nowhere.
func Field(obj map[string]any, path string) (any, bool) {
	if v, ok := obj[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		v, ok := obj[path[:i]]
		if !ok {
			continue
		}
		if v, ok := fieldIn(v, path[i+1:]); ok {
			return v, true
		}
	}
	return nil, false
}

func fieldIn(v any, path string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return Field(x, path)
	case []any:
		step, rest, more := strings.Cut(path, ".")
		n, err := strconv.Atoi(step)
		if err != nil || n < 0 || n >= len(x) || strconv.Itoa(n) != step {
			return nil, false
		}
		if !more {
			return x[n], true
		}
		return fieldIn(x[n], rest)
	}
	return nil, false
}

// JSONLWriter writes rows of a schema as JSON lines: one object per row,
// with the columns as fields in schema order, numbers as JSON numbers
// (doubles in the shortest form that reads back exactly), booleans as
// JSON booleans, timestamps as RFC 3339 strings in UTC with nanoseconds
// as needed, and nulls as null. It buffers: call Flush at the end.
type JSONLWriter struct {
	w      *bufio.Writer
	schema Schema
	keys   [][]byte // `"name":` per column
	buf    []byte
	err    error
}

// NewJSONLWriter returns a writer of rows of schema to w.
func NewJSONLWriter(w io.Writer, schema Schema) (*JSONLWriter, error) {
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("JSON lines writer: %w", err)
	}
	jw := &JSONLWriter{w: bufio.NewWriterSize(w, 64<<10), schema: schema}
	for _, c := range schema {
		k := appendJSONString(nil, c.Name)
		jw.keys = append(jw.keys, append(k, ':'))
	}
	return jw, nil
}

// WriteRow writes one row, checked by Schema.CheckRow.
func (jw *JSONLWriter) WriteRow(row []Value) error {
	if jw.err != nil {
		return jw.err
	}
	if err := jw.schema.CheckRow(row); err != nil {
		return fmt.Errorf("JSON lines writer: %w", err)
	}
	b := append(jw.buf[:0], '{')
	for i, c := range jw.schema {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, jw.keys[i]...)
		b = appendJSONValue(b, c.Type, row[i])
	}
	b = append(b, '}', '\n')
	jw.buf = b
	if _, err := jw.w.Write(b); err != nil {
		jw.err = fmt.Errorf("JSON lines writer: %w", err)
		return jw.err
	}
	return nil
}

// Flush writes any buffered lines to the underlying writer.
func (jw *JSONLWriter) Flush() error {
	if jw.err != nil {
		return jw.err
	}
	if err := jw.w.Flush(); err != nil {
		jw.err = fmt.Errorf("JSON lines writer: %w", err)
	}
	return jw.err
}

func appendJSONValue(b []byte, t Type, v Value) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, x)
	case time.Time:
		b = append(b, '"')
		b = x.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...) // unreachable: CheckRow refuses them
		}
	}
	return AppendValue(b, t, v)
}

// appendJSONString appends s as a JSON string, escaping what JSON needs
// and U+2028/U+2029 (as encoding/json does), and replacing invalid UTF-8
// with U+FFFD. HTML characters are not escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
