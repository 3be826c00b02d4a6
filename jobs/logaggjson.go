package jobs

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
)

// logagg on JSON lines.
//
// Each line is a JSON object (format.ParseJSONLine). A group value is the
// field's string, its number as written, true or false, or the empty
// text for null (a null in typed output); minute, hour and day are the
// --time-field's time in UTC, formatted as for access logs. A --sum field
// must hold a JSON number: an int64 column sums integers exactly (a
// number with a fraction or exponent, or beyond int64, is rejected), a
// double column sums exactly too (Shewchuk's algorithm: the result is the
// correctly rounded sum whatever the order the values arrive in, so a
// step's output does not depend on its splits). A line that is not a
// JSON object, lacks a field, or holds a value of the wrong kind is
// rejected: counted in MALFORMED_RECORDS and copied to _rejects/.

// sumColumn is one --sum field.
type sumColumn struct {
	field string
	typ   format.Type // Int64 or Double
	typed bool        // given as NAME:TYPE (else inferred at submission)
}

// logAggJSON is logagg's parsed options for JSON lines.
type logAggJSON struct {
	groups    []string
	timeField string
	unit      time.Duration
	sums      []sumColumn
}

// logAggSampleLines is how many lines of each input file logagg reads at
// submission to type its untyped --sum fields.
const logAggSampleLines = 10000

func parseLogAggJSON(opts map[string]string) (*logAggJSON, error) {
	c := &logAggJSON{timeField: strings.TrimSpace(opts["time-field"])}
	for f := range strings.SplitSeq(opts["group-by"], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, fmt.Errorf("%w: --group-by: empty field name", ErrBadOption)
		}
		if slices.Contains(c.groups, f) {
			return nil, fmt.Errorf("%w: --group-by: field %q given twice", ErrBadOption, f)
		}
		if slices.Contains(timeFields, f) && c.timeField == "" {
			return nil, fmt.Errorf("%w: --group-by %s needs --time-field, the JSON field holding each line's time", ErrBadOption, f)
		}
		c.groups = append(c.groups, f)
	}
	switch u := opts["time-unit"]; u {
	case "s", "":
		c.unit = time.Second
	case "ms":
		c.unit = time.Millisecond
	case "us":
		c.unit = time.Microsecond
	case "ns":
		c.unit = time.Nanosecond
	default:
		return nil, fmt.Errorf("%w: --time-unit %q: want s, ms, us or ns", ErrBadOption, u)
	}
	if s := strings.TrimSpace(opts["sum"]); s != "" {
		for part := range strings.SplitSeq(s, ",") {
			name, typ, typed := strings.Cut(strings.TrimSpace(part), ":")
			col := sumColumn{field: strings.TrimSpace(name), typ: format.Double, typed: typed}
			if col.field == "" {
				return nil, fmt.Errorf("%w: --sum: empty field name", ErrBadOption)
			}
			if typed {
				t, err := format.ParseType(strings.TrimSpace(typ))
				if err != nil || (t != format.Int64 && t != format.Double) {
					return nil, fmt.Errorf("%w: --sum %s: type %q: want int64 or double", ErrBadOption, col.field, typ)
				}
				col.typ = t
			}
			if slices.ContainsFunc(c.sums, func(o sumColumn) bool { return o.field == col.field }) {
				return nil, fmt.Errorf("%w: --sum: field %q given twice", ErrBadOption, col.field)
			}
			c.sums = append(c.sums, col)
		}
	}
	return c, nil
}

// sumOption writes the --sum option back with every type.
func (c *logAggJSON) sumOption() string {
	parts := make([]string, len(c.sums))
	for i, s := range c.sums {
		parts[i] = s.field + ":" + s.typ.String()
	}
	return strings.Join(parts, ",")
}

// rows is the typed output: the group columns, count, then the sums.
func (c *logAggJSON) rows() (*mapreduce.RowSchema, error) {
	values := format.Schema{{Name: "count", Type: format.Int64}}
	for _, s := range c.sums {
		values = append(values, format.Column{Name: s.field, Type: s.typ})
	}
	return groupRows(c.groups, values)
}

func buildLogAggJSON(opts map[string]string) (*mapreduce.Job, error) {
	c, err := parseLogAggJSON(opts)
	if err != nil {
		return nil, err
	}
	return &mapreduce.Job{
		Mapper:   &jsonAggMapper{c: c},
		Combiner: jsonAggSum{c: c, combine: true},
		Reducer:  jsonAggSum{c: c},
	}, nil
}

// prepareLogAgg types the untyped --sum fields of a JSON lines step from
// the first lines of each input file: int64 when every value seen is an
// integer that fits, else double.
func prepareLogAgg(ctx context.Context, in PrepareInput, opts map[string]string, f Formats) (map[string]string, error) {
	if json, err := logAggJSONInput(f); err != nil || !json {
		return nil, err
	}
	c, err := parseLogAggJSON(opts)
	if err != nil {
		return nil, err
	}
	var untyped []int
	for i, s := range c.sums {
		if !s.typed {
			untyped = append(untyped, i)
		}
	}
	if len(untyped) == 0 {
		return nil, nil
	}
	files, err := in.List()
	if err != nil {
		return nil, err
	}
	isInt := make([]bool, len(c.sums))
	for _, i := range untyped {
		isInt[i] = true
	}
	for _, file := range files {
		n := 0
		s := mapreduce.Split{File: file.Path, Doc: file.Doc, Length: file.Size, FileSize: file.Size, ModTime: file.ModTime}
		err := mapreduce.ReadRecords(ctx, in.FileSystems, s, mapreduce.JSONLInput, in.MaxLineBytes, func(rec mapreduce.Record) bool {
			obj, err := format.ParseJSONLine(rec.Line)
			if err == nil {
				for _, i := range untyped {
					if v, ok := format.Field(obj, c.sums[i].field); ok {
						if num, ok := v.(json.Number); ok {
							if _, err := strconv.ParseInt(string(num), 10, 64); err != nil {
								isInt[i] = false
							}
						}
					}
				}
			}
			n++
			return n < logAggSampleLines
		})
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", file.Path, err)
		}
	}
	for _, i := range untyped {
		c.sums[i].typ = format.Double
		if isInt[i] {
			c.sums[i].typ = format.Int64
		}
	}
	return map[string]string{"sum": c.sumOption()}, nil
}

// jsonAggMapper emits (group key, count 1 and the line's sums).
type jsonAggMapper struct {
	c     *logAggJSON
	key   []byte
	value []byte
}

func (m *jsonAggMapper) Map(tc *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	reject := func(reason string) error {
		tc.Counters.Add(MalformedRecords, 1)
		return tc.Reject(rec, reason)
	}
	obj, err := format.ParseJSONLine(rec.Line)
	if err != nil {
		return reject(err.Error())
	}
	var t time.Time
	if slices.ContainsFunc(m.c.groups, func(g string) bool { return slices.Contains(timeFields, g) }) {
		if t, err = m.c.timeOf(obj); err != nil {
			return reject(err.Error())
		}
	}
	m.key = m.key[:0]
	for i, g := range m.c.groups {
		if i > 0 {
			m.key = append(m.key, '|')
		}
		switch g {
		case "minute":
			m.key = t.AppendFormat(m.key, "2006-01-02T15:04")
			continue
		case "hour":
			m.key = t.AppendFormat(m.key, "2006-01-02T15")
			continue
		case "day":
			m.key = t.AppendFormat(m.key, "2006-01-02")
			continue
		}
		v, ok := format.Field(obj, g)
		if !ok {
			return reject(fmt.Sprintf("no field %q", g))
		}
		switch x := v.(type) {
		case nil:
		case string:
			m.key = append(m.key, x...)
		case json.Number:
			m.key = append(m.key, x...)
		case bool:
			m.key = strconv.AppendBool(m.key, x)
		default:
			return reject(fmt.Sprintf("field %q is an object or array, not a value to group by", g))
		}
	}
	m.value = binary.AppendUvarint(m.value[:0], 1)
	for _, s := range m.c.sums {
		v, ok := format.Field(obj, s.field)
		if !ok {
			return reject(fmt.Sprintf("no field %q", s.field))
		}
		num, ok := v.(json.Number)
		if !ok {
			return reject(fmt.Sprintf("field %q is not a number", s.field))
		}
		if s.typ == format.Int64 {
			n, err := strconv.ParseInt(string(num), 10, 64)
			if err != nil {
				return reject(fmt.Sprintf("field %q: %s is not an int64 (sum it as a double with --sum %s:double)", s.field, num, s.field))
			}
			m.value = binary.AppendVarint(m.value, n)
			continue
		}
		x, err := strconv.ParseFloat(string(num), 64)
		if err != nil || math.IsInf(x, 0) {
			return reject(fmt.Sprintf("field %q: %s is beyond the range of a double", s.field, num))
		}
		m.value = appendPartials(m.value, []float64{x})
	}
	return out.Emit(m.key, m.value)
}

// timeOf returns the time of a line: its --time-field, an RFC 3339
// string (or another form format.ParseValue reads as a timestamp) or a
// number of --time-unit since the Unix epoch; in UTC.
func (c *logAggJSON) timeOf(obj map[string]any) (time.Time, error) {
	v, ok := format.Field(obj, c.timeField)
	if !ok {
		return time.Time{}, fmt.Errorf("no field %q", c.timeField)
	}
	switch x := v.(type) {
	case string:
		ts, err := format.ParseValue(format.Timestamp, x)
		if err != nil || ts == nil {
			return time.Time{}, fmt.Errorf("field %q: %q is not a time", c.timeField, x)
		}
		return ts.(time.Time).UTC(), nil
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			if c.unit > 1 && (n > math.MaxInt64/int64(c.unit) || n < math.MinInt64/int64(c.unit)) {
				return time.Time{}, fmt.Errorf("field %q: %s is out of range", c.timeField, x)
			}
			return time.Unix(0, n*int64(c.unit)).UTC(), nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		ns := f * float64(c.unit)
		if err != nil || math.IsInf(ns, 0) || ns >= math.MaxInt64 || ns < math.MinInt64 {
			return time.Time{}, fmt.Errorf("field %q: %s is not a time", c.timeField, x)
		}
		return time.Unix(0, int64(ns)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("field %q is neither a string nor a number", c.timeField)
}

// jsonAggSum adds up (count, sums...) values. As a combiner it emits the
// totals in the same encoding — uvarint count, then per sum a varint
// (int64) or a list of partials (double) — and as a reducer
// count<TAB>sum<TAB>..., each formatted by format.FormatValue.
type jsonAggSum struct {
	c       *logAggJSON
	combine bool
}

func (j jsonAggSum) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	var count uint64
	ints := make([]int64, len(j.c.sums))
	parts := make([][]float64, len(j.c.sums))
	for values.Next() {
		v := values.Value()
		n, k := binary.Uvarint(v)
		if k <= 0 {
			return fmt.Errorf("key %q: corrupt count", key)
		}
		count += n
		v = v[k:]
		for i, s := range j.c.sums {
			if s.typ == format.Int64 {
				x, k := binary.Varint(v)
				if k <= 0 {
					return fmt.Errorf("key %q: corrupt sum of %s", key, s.field)
				}
				sum := ints[i] + x
				if (x > 0 && sum < ints[i]) || (x < 0 && sum > ints[i]) {
					return fmt.Errorf("key %q: the sum of %s overflows int64 (sum it as a double with --sum %s:double)", key, s.field, s.field)
				}
				ints[i] = sum
				v = v[k:]
				continue
			}
			var err error
			if parts[i], v, err = addEncodedPartials(parts[i], v); err != nil {
				return fmt.Errorf("key %q: sum of %s: %w", key, s.field, err)
			}
		}
	}
	if j.combine {
		b := binary.AppendUvarint(nil, count)
		for i, s := range j.c.sums {
			if s.typ == format.Int64 {
				b = binary.AppendVarint(b, ints[i])
			} else {
				b = appendPartials(b, parts[i])
			}
		}
		return out.Emit(key, b)
	}
	b := strconv.AppendUint(nil, count, 10)
	for i, s := range j.c.sums {
		b = append(b, '\t')
		if s.typ == format.Int64 {
			b = strconv.AppendInt(b, ints[i], 10)
			continue
		}
		total := roundPartials(parts[i])
		if math.IsInf(total, 0) || math.IsNaN(total) {
			return fmt.Errorf("key %q: the sum of %s overflows a double", key, s.field)
		}
		b = format.AppendValue(b, format.Double, total)
	}
	return out.Emit(key, b)
}

// appendPartials encodes a list of partial sums: a uvarint count, then
// each float64's bits, little-endian.
func appendPartials(b []byte, p []float64) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	for _, x := range p {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// addEncodedPartials adds the partials encoded at the start of b to p and
// returns the rest of b.
func addEncodedPartials(p []float64, b []byte) ([]float64, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k)/8 {
		return nil, nil, fmt.Errorf("corrupt partial sums")
	}
	b = b[k:]
	for range n {
		p = addPartial(p, math.Float64frombits(binary.LittleEndian.Uint64(b)))
		b = b[8:]
	}
	return p, b, nil
}

// addPartial adds x to the partial sums p exactly (Shewchuk's algorithm,
// as Python's math.fsum): the partials are non-overlapping, in increasing
// magnitude, and their exact sum is the exact sum of everything added.
func addPartial(p []float64, x float64) []float64 {
	i := 0
	for _, y := range p {
		if math.Abs(x) < math.Abs(y) {
			x, y = y, x
		}
		hi := x + y
		lo := y - (hi - x)
		if lo != 0 {
			p[i] = lo
			i++
		}
		x = hi
	}
	return append(p[:i], x)
}

// roundPartials returns the exact sum of the partials rounded to the
// nearest float64 (ties to even), as math.fsum does.
func roundPartials(p []float64) float64 {
	n := len(p)
	if n == 0 {
		return 0
	}
	n--
	hi := p[n]
	lo := 0.0
	for n > 0 {
		x := hi
		n--
		y := p[n]
		hi = x + y
		lo = y - (hi - x)
		if lo != 0 {
			break
		}
	}
	if n > 0 && ((lo < 0 && p[n-1] < 0) || (lo > 0 && p[n-1] > 0)) {
		y := lo * 2
		x := hi + y
		if y == x-hi {
			hi = x
		}
	}
	return hi
}
