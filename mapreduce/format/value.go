package format

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Value is one value of a row: nil for null, else the Go type of its
// column's Type — string (String), int64 (Int64), float64 (Double), bool
// (Boolean) or time.Time (Timestamp, in UTC). No other Go type is a
// Value; CheckValue tells.
type Value = any

// ErrNull is wrapped by the error for a null (an empty field) in a column
// that is not nullable.
var ErrNull = errors.New("null in a non-nullable column")

// ErrValue is wrapped by every error about a value that does not fit its
// type: text that does not parse, or a Go value of the wrong type.
var ErrValue = errors.New("invalid value")

// The instants a Timestamp can hold: int64 nanoseconds since the Unix
// epoch, as Parquet stores them.
var (
	minTimestamp = time.Unix(0, math.MinInt64).UTC()
	maxTimestamp = time.Unix(0, math.MaxInt64).UTC()
)

// ParseValue parses the text of one field (of a CSV or text file, or of a
// job's output pair) as a value of type t. The rules are exact, and no
// white space is trimmed:
//
//   - The empty text is null (nil) for every type; Column.Parse refuses it
//     for a column that is not nullable. An empty string is therefore not
//     a distinct value in text formats.
//   - String: the text itself.
//   - Int64: decimal digits with an optional sign (strconv.ParseInt base
//     10); "1.0", "1e3", "0x10" and values outside the int64 range are
//     errors.
//   - Double: a decimal number with optional sign, fraction and exponent
//     ("5", "-0.25", "1e-3", ".5"), rounded to the nearest float64 as
//     strconv.ParseFloat does (so a tiny value becomes 0 or subnormal).
//     NaN, Inf, Infinity, hexadecimal floats and numbers beyond the
//     float64 range are errors: every double is finite, so it has a JSON
//     form and orders totally.
//   - Boolean: "true" or "false" in any case. "1"/"0", "t"/"f" and
//     "yes"/"no" are errors, so a column of 0s and 1s stays an int64
//     column.
//   - Timestamp: RFC 3339 ("2006-01-02T15:04:05Z", with an optional
//     fraction of up to 9 digits and a Z or ±hh:mm offset; T and Z may be
//     lower case), the same with a space for the T and the offset optional
//     ("2006-01-02 15:04:05[.fff]", UTC when no offset is given), or a date
//     alone ("2006-01-02", midnight UTC). The result is in UTC; instants
//     outside 1677-09-21..2262-04-11 (int64 nanoseconds) and a fraction of
//     more than 9 digits are errors, as are leap seconds (:60).
func ParseValue(t Type, text string) (Value, error) {
	if text == "" {
		return nil, nil
	}
	switch t {
	case String:
		return text, nil
	case Int64:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("%w: int64 %q is out of range [%d, %d]", ErrValue, text, int64(math.MinInt64), int64(math.MaxInt64))
			}
			return nil, fmt.Errorf("%w: %q is not an int64 (want decimal digits with an optional sign)", ErrValue, text)
		}
		return n, nil
	case Double:
		return parseDouble(text)
	case Boolean:
		switch {
		case strings.EqualFold(text, "true"):
			return true, nil
		case strings.EqualFold(text, "false"):
			return false, nil
		}
		return nil, fmt.Errorf("%w: %q is not a boolean (want true or false)", ErrValue, text)
	case Timestamp:
		ts, err := parseTimestamp(text)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a timestamp: %v", ErrValue, text, err)
		}
		return ts, nil
	}
	return nil, fmt.Errorf("%w: cannot parse a value of %v", ErrValue, t)
}

func parseDouble(text string) (Value, error) {
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E', c == '+', c == '-':
		default:
			return nil, fmt.Errorf("%w: %q is not a double (want a decimal number; NaN and Inf are not accepted)", ErrValue, text)
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%w: double %q is beyond the float64 range", ErrValue, text)
		}
		return nil, fmt.Errorf("%w: %q is not a double (want a decimal number)", ErrValue, text)
	}
	return f, nil
}

// parseTimestamp reads the three timestamp forms of ParseValue, strictly.
func parseTimestamp(s string) (time.Time, error) {
	p := tsParser{s: s}
	year := p.digits(4, "year")
	p.expect('-', "'-' after the year")
	month := p.digits(2, "month")
	p.expect('-', "'-' after the month")
	day := p.digits(2, "day")
	if p.err != nil {
		return time.Time{}, p.err
	}
	hour, minute, sec, nsec := 0, 0, 0, 0
	offset := 0
	if p.i < len(s) {
		sep := s[p.i]
		if sep != 'T' && sep != 't' && sep != ' ' {
			return time.Time{}, fmt.Errorf("want T or a space after the date at byte %d", p.i)
		}
		p.i++
		hour = p.digits(2, "hour")
		p.expect(':', "':' after the hour")
		minute = p.digits(2, "minute")
		p.expect(':', "':' after the minute")
		sec = p.digits(2, "second")
		if p.err == nil && p.i < len(s) && s[p.i] == '.' {
			p.i++
			start := p.i
			for p.i < len(s) && s[p.i] >= '0' && s[p.i] <= '9' {
				p.i++
			}
			n := p.i - start
			switch {
			case n == 0:
				return time.Time{}, fmt.Errorf("no digits after the decimal point at byte %d", start)
			case n > 9:
				return time.Time{}, fmt.Errorf("fraction of %d digits is finer than nanoseconds", n)
			}
			v, _ := strconv.Atoi(s[start:p.i])
			for range 9 - n {
				v *= 10
			}
			nsec = v
		}
		if p.err != nil {
			return time.Time{}, p.err
		}
		switch {
		case p.i == len(s):
			if sep != ' ' {
				return time.Time{}, errors.New("RFC 3339 needs a time zone (Z or ±hh:mm); write a space instead of T for UTC without one")
			}
		case s[p.i] == 'Z' || s[p.i] == 'z':
			p.i++
		case s[p.i] == '+' || s[p.i] == '-':
			sign := 1
			if s[p.i] == '-' {
				sign = -1
			}
			p.i++
			oh := p.digits(2, "offset hours")
			p.expect(':', "':' in the offset")
			om := p.digits(2, "offset minutes")
			if p.err == nil && (oh > 23 || om > 59) {
				return time.Time{}, fmt.Errorf("offset %s is out of range", s[p.i-6:p.i])
			}
			offset = sign * (oh*3600 + om*60)
		default:
			return time.Time{}, fmt.Errorf("unexpected %q at byte %d (want a fraction or a time zone)", s[p.i], p.i)
		}
		if p.err != nil {
			return time.Time{}, p.err
		}
	}
	if p.i != len(s) {
		return time.Time{}, fmt.Errorf("unexpected text %q after the timestamp", s[p.i:])
	}
	switch {
	case month < 1 || month > 12:
		return time.Time{}, fmt.Errorf("month %d is out of range", month)
	case day < 1 || day > daysIn(year, month):
		return time.Time{}, fmt.Errorf("day %d is out of range for %04d-%02d", day, year, month)
	case hour > 23:
		return time.Time{}, fmt.Errorf("hour %d is out of range", hour)
	case minute > 59:
		return time.Time{}, fmt.Errorf("minute %d is out of range", minute)
	case sec > 59:
		return time.Time{}, fmt.Errorf("second %d is out of range (leap seconds are not supported)", sec)
	}
	ts := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	if ts.Before(minTimestamp) || ts.After(maxTimestamp) {
		return time.Time{}, fmt.Errorf("outside the range of int64 nanoseconds (%s to %s)", minTimestamp.Format(time.RFC3339Nano), maxTimestamp.Format(time.RFC3339Nano))
	}
	return ts, nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// tsParser reads fixed-width fields; the first problem sticks in err.
type tsParser struct {
	s   string
	i   int
	err error
}

func (p *tsParser) digits(n int, what string) int {
	if p.err != nil {
		return 0
	}
	if p.i+n > len(p.s) {
		p.err = fmt.Errorf("want %d digits of %s at byte %d, the text ends", n, what, p.i)
		return 0
	}
	v := 0
	for k := range n {
		c := p.s[p.i+k]
		if c < '0' || c > '9' {
			p.err = fmt.Errorf("want %d digits of %s at byte %d", n, what, p.i)
			return 0
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v
}

func (p *tsParser) expect(c byte, what string) {
	if p.err != nil {
		return
	}
	if p.i >= len(p.s) || p.s[p.i] != c {
		p.err = fmt.Errorf("want %s at byte %d", what, p.i)
		return
	}
	p.i++
}

// FormatValue returns the text of a value such that ParseValue(t, text)
// gives the value back exactly: nil as the empty text, int64 in decimal,
// float64 in the shortest form that reads back to the same bits
// (strconv 'g', precision -1, so "1e+21" or "0.1"), bool as true or false,
// and time.Time in RFC 3339 in UTC with as many fraction digits as it
// needs (time.RFC3339Nano). The one value that does not come back is the
// empty string, which reads back as null.
//
// FormatValue expects a value that passed CheckValue(t, v); for a Go value
// of another type it returns fmt.Sprint(v).
func FormatValue(t Type, v Value) string {
	return string(AppendValue(nil, t, v))
}

// AppendValue appends FormatValue(t, v) to dst.
func AppendValue(dst []byte, t Type, v Value) []byte {
	switch x := v.(type) {
	case nil:
		return dst
	case string:
		return append(dst, x...)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(dst, x)
	case time.Time:
		return x.UTC().AppendFormat(dst, time.RFC3339Nano)
	}
	return fmt.Append(dst, v)
}

// CheckValue reports whether v is a valid value of type t: nil, or the Go
// type of t (see Value) with a finite float64 and a time.Time within the
// Timestamp range (any location; writers store it in UTC).
func CheckValue(t Type, v Value) error {
	if v == nil {
		return nil
	}
	ok := false
	switch x := v.(type) {
	case string:
		ok = t == String
	case int64:
		ok = t == Int64
	case float64:
		if t == Double && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return fmt.Errorf("%w: double %v is not finite", ErrValue, x)
		}
		ok = t == Double
	case bool:
		ok = t == Boolean
	case time.Time:
		if t == Timestamp && (x.Before(minTimestamp) || x.After(maxTimestamp)) {
			return fmt.Errorf("%w: timestamp %s is outside the range of int64 nanoseconds", ErrValue, x.Format(time.RFC3339Nano))
		}
		ok = t == Timestamp
	}
	if !ok {
		return fmt.Errorf("%w: a %T is not a value of %v (want %s)", ErrValue, v, t, goTypeName(t))
	}
	return nil
}

func goTypeName(t Type) string {
	switch t {
	case String:
		return "string"
	case Int64:
		return "int64"
	case Double:
		return "float64"
	case Boolean:
		return "bool"
	case Timestamp:
		return "time.Time"
	}
	return "nothing: the type is invalid"
}

// Parse parses the text of one field of the column (see ParseValue); the
// empty text is an error wrapping ErrNull unless the column is nullable.
// Errors name the column.
func (c Column) Parse(text string) (Value, error) {
	if text == "" && !c.Nullable {
		return nil, fmt.Errorf("column %s: %w (empty field)", c.Name, ErrNull)
	}
	v, err := ParseValue(c.Type, text)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", c.Name, err)
	}
	return v, nil
}

// Check reports whether v is a valid value of the column: CheckValue, and
// not nil unless the column is nullable. Errors name the column.
func (c Column) Check(v Value) error {
	if v == nil && !c.Nullable {
		return fmt.Errorf("column %s: %w", c.Name, ErrNull)
	}
	if err := CheckValue(c.Type, v); err != nil {
		return fmt.Errorf("column %s: %w", c.Name, err)
	}
	return nil
}

// ParseRow parses one row of text fields, one per column, appending the
// values to row[:0] (row may be nil) and returning it. A row with the
// wrong number of fields is a *FieldCountError.
func (s Schema) ParseRow(fields []string, row []Value) ([]Value, error) {
	if len(fields) != len(s) {
		return nil, &FieldCountError{Fields: len(fields), Want: len(s)}
	}
	row = row[:0]
	for i, c := range s {
		v, err := c.Parse(fields[i])
		if err != nil {
			return nil, err
		}
		row = append(row, v)
	}
	return row, nil
}

// CheckRow reports whether row has one valid value per column.
func (s Schema) CheckRow(row []Value) error {
	if len(row) != len(s) {
		return fmt.Errorf("%w: row has %d values, the schema has %d columns", ErrValue, len(row), len(s))
	}
	for i, c := range s {
		if err := c.Check(row[i]); err != nil {
			return err
		}
	}
	return nil
}

// FieldCountError is the error for a row with the wrong number of fields.
type FieldCountError struct {
	Fields int // fields in the row
	Want   int // fields in the header (or columns in the schema)
}

func (e *FieldCountError) Error() string {
	return fmt.Sprintf("row has %d fields, the header has %d", e.Fields, e.Want)
}
