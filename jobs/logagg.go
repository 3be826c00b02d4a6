package jobs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
)

// MalformedRecords counts input lines logagg could not parse: access-log
// lines, or JSON lines that are not valid JSON or lack a field.
const MalformedRecords = mapreduce.MalformedRecords

// logAggFields are the names --group-by accepts for access logs, in
// documentation order.
var logAggFields = []string{"status", "method", "path", "host", "minute", "hour", "day"}

// timeFields are the group-by names derived from an entry's time.
var timeFields = []string{"minute", "hour", "day"}

// logAgg aggregates access logs (text input, the default) or JSON lines
// (--input-format jsonl). For access logs the output is
// key<TAB>requests<TAB>bytes. For JSON lines, --group-by names any fields
// of the objects (a dotted path reaches into nested objects, see
// format.Field) and minute, hour or day of the --time-field, and the
// output is key<TAB>count<TAB>sum... with one sum per --sum field. A
// composite key joins the group values with '|' either way. See
// logaggjson.go for the JSON rules.
func logAgg() *Definition {
	return &Definition{
		Name: "logagg",
		Summary: "aggregate Apache/Nginx common or combined access logs, or JSON lines (--input-format jsonl); lines key<TAB>requests<TAB>bytes " +
			"(JSON: key<TAB>count<TAB>sums...; unparsable lines are counted in MALFORMED_RECORDS and copied to _rejects/)",
		Options: []Option{{
			Name:    "group-by",
			Usage:   "comma list of " + strings.Join(logAggFields, ", ") + " (times in UTC; a composite key joins fields with |); for JSON lines, any fields and minute, hour, day of --time-field",
			Default: "status",
		}, {
			Name:  "time-field",
			Usage: "JSON lines: the field holding each line's time (an RFC 3339 string, or a number of --time-unit since the Unix epoch), for minute, hour and day",
		}, {
			Name:    "time-unit",
			Usage:   "JSON lines: the unit of a numeric --time-field: s, ms, us or ns",
			Default: "s",
		}, {
			Name:  "sum",
			Usage: "JSON lines: comma list of numeric fields to sum, each NAME or NAME:int64 or NAME:double (an untyped field is int64 if the input's first lines hold only integers there, else double)",
		}},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			if jsonOptions(opts) {
				return buildLogAggJSON(opts)
			}
			return buildLogAggText(opts)
		},
		typed: &typedFormats{
			buildFor: func(opts map[string]string, f Formats) (*mapreduce.Job, error) {
				json, err := logAggJSONInput(f)
				if err != nil {
					return nil, err
				}
				if json {
					return buildLogAggJSON(opts)
				}
				return buildLogAggText(opts)
			},
			rows: func(opts map[string]string, f Formats) (*mapreduce.RowSchema, error) {
				json, err := logAggJSONInput(f)
				if err != nil {
					return nil, err
				}
				if json {
					c, err := parseLogAggJSON(opts)
					if err != nil {
						return nil, err
					}
					return c.rows()
				}
				fields, err := parseGroupBy(opts["group-by"])
				if err != nil {
					return nil, err
				}
				return groupRows(fields, format.Schema{{Name: "requests", Type: format.Int64}, {Name: "bytes", Type: format.Int64}})
			},
			prepare: prepareLogAgg,
		},
	}
}

// logAggJSONInput tells whether a step's input is JSON lines (else access
// logs).
func logAggJSONInput(f Formats) (bool, error) {
	switch f.Input {
	case "", mapreduce.TextInput:
		return false, nil
	case mapreduce.JSONLInput:
		return true, nil
	}
	return false, fmt.Errorf("%w: logagg reads access logs (text input) or JSON lines (jsonl), not %s", ErrBadOption, f.Input)
}

// jsonOptions reports whether options only make sense for JSON lines: a
// --time-field or --sum, or a --group-by field that access logs lack.
// Build, which is not told the input format, builds the JSON job then.
func jsonOptions(opts map[string]string) bool {
	if opts["time-field"] != "" || opts["sum"] != "" {
		return true
	}
	for f := range strings.SplitSeq(opts["group-by"], ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(logAggFields, f) {
			return true
		}
	}
	return false
}

func buildLogAggText(opts map[string]string) (*mapreduce.Job, error) {
	if opts["time-field"] != "" || opts["sum"] != "" {
		return nil, fmt.Errorf("%w: --time-field and --sum are for JSON lines input (--input-format jsonl)", ErrBadOption)
	}
	fields, err := parseGroupBy(opts["group-by"])
	if err != nil {
		return nil, err
	}
	return &mapreduce.Job{
		Mapper:   &logAggMapper{fields: fields},
		Combiner: pairSum{combine: true},
		Reducer:  pairSum{},
	}, nil
}

func parseGroupBy(s string) ([]string, error) {
	var fields []string
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(logAggFields, f) {
			return nil, fmt.Errorf("%w: --group-by: unknown field %q (fields: %s)", ErrBadOption, f, strings.Join(logAggFields, ", "))
		}
		if slices.Contains(fields, f) {
			return nil, fmt.Errorf("%w: --group-by: field %q given twice", ErrBadOption, f)
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// groupRows is the typed output of a logagg key: a nullable string column
// per group field (an empty group value is a null), then the value
// columns. The status and the time buckets never hold '|', the other
// fields may: a key that splits into more parts than it has fields is
// read by giving the extra parts to its only field that may hold '|';
// with two such fields it is ambiguous, and an error (ErrOutputRow).
func groupRows(fields []string, values format.Schema) (*mapreduce.RowSchema, error) {
	schema := make(format.Schema, 0, len(fields)+len(values))
	free := -1 // the group column that takes extra parts
	ambiguous := false
	for i, f := range fields {
		schema = append(schema, format.Column{Name: f, Type: format.String, Nullable: true})
		if f != "status" && !slices.Contains(timeFields, f) {
			ambiguous = ambiguous || free >= 0
			free = i
		}
	}
	schema = append(schema, values...)
	if err := schema.Validate(); err != nil {
		return nil, err
	}
	keys := len(fields)
	rowOf := func(key, value []byte) ([]format.Value, error) {
		parts := strings.Split(string(key), "|")
		if len(parts) > keys {
			if free < 0 || ambiguous {
				return nil, &format.PairError{Key: string(key), Err: fmt.Errorf("the key has %d '|'-separated parts for %d group fields, and which field holds the extra '|' is ambiguous", len(parts), keys)}
			}
			extra := len(parts) - keys
			joined := strings.Join(parts[free:free+extra+1], "|")
			parts = append(append(parts[:free:free], joined), parts[free+extra+1:]...)
		}
		if len(parts) != keys {
			return nil, &format.PairError{Key: string(key), Err: fmt.Errorf("the key has %d '|'-separated parts for %d group fields", len(parts), keys)}
		}
		row, err := format.RowFromPair(schema[keys:], 0, nil, value)
		if err != nil {
			var pe *format.PairError
			if errors.As(err, &pe) {
				pe.Key = string(key)
			}
			return nil, err
		}
		out := make([]format.Value, 0, len(schema))
		for _, p := range parts {
			if p == "" {
				out = append(out, nil)
			} else {
				out = append(out, p)
			}
		}
		return append(out, row...), nil
	}
	return &mapreduce.RowSchema{Schema: schema, KeyColumns: keys, Row: rowOf}, nil
}

type logAggMapper struct {
	fields []string
	key    []byte
	value  []byte
}

func (m *logAggMapper) Map(tc *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	e, err := parseAccessLine(rec.Line)
	if err != nil {
		tc.Counters.Add(MalformedRecords, 1)
		return tc.Reject(rec, err.Error())
	}
	key := m.key[:0]
	for i, f := range m.fields {
		if i > 0 {
			key = append(key, '|')
		}
		key = appendField(key, f, &e)
	}
	value := binary.AppendUvarint(binary.AppendUvarint(m.value[:0], 1), uint64(e.bytes))
	m.key, m.value = key, value
	return out.Emit(key, value)
}

func appendField(b []byte, field string, e *accessEntry) []byte {
	t := e.time.UTC()
	switch field {
	case "status":
		return strconv.AppendInt(b, int64(e.status), 10)
	case "method":
		return append(b, e.method...)
	case "path":
		return append(b, e.path...)
	case "host":
		return append(b, e.host...)
	case "minute":
		return t.AppendFormat(b, "2006-01-02T15:04")
	case "hour":
		return t.AppendFormat(b, "2006-01-02T15")
	case "day":
		return t.AppendFormat(b, "2006-01-02")
	}
	panic("logagg: unvalidated field " + field)
}

// pairSum adds (requests, bytes) pairs encoded as two varints. As a
// combiner it emits the sums in the same encoding; as a reducer it emits
// "requests<TAB>bytes".
type pairSum struct{ combine bool }

// Fold adds a (requests, bytes) pair to a running pair, in place (as a
// combiner only: the result stays in the varint encoding). It makes
// pairSum a mapreduce.Folder; as a mapreduce.UvarintSums (UvarintFields)
// the map task's hash table adds the pairs as integers without it.
func (pairSum) Fold(acc, value []byte) ([]byte, error) {
	r1, n1 := binary.Uvarint(acc)
	b1, m1 := binary.Uvarint(acc[max(n1, 0):])
	r2, n2 := binary.Uvarint(value)
	b2, m2 := binary.Uvarint(value[max(n2, 0):])
	if n1 <= 0 || m1 <= 0 || n2 <= 0 || m2 <= 0 {
		return nil, fmt.Errorf("corrupt request or byte count")
	}
	return binary.AppendUvarint(binary.AppendUvarint(acc[:0], r1+r2), b1+b2), nil
}

// UvarintFields makes pairSum a mapreduce.UvarintSums of two fields,
// requests and bytes: a map task's hash table keeps each key's pair as
// integers and encodes it only when it writes a run.
func (pairSum) UvarintFields() int { return 2 }

func (p pairSum) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	var requests, bytes uint64
	for values.Next() {
		v := values.Value()
		r, n := binary.Uvarint(v)
		if n <= 0 {
			return fmt.Errorf("key %q: corrupt request count", key)
		}
		b, m := binary.Uvarint(v[n:])
		if m <= 0 {
			return fmt.Errorf("key %q: corrupt byte count", key)
		}
		requests += r
		bytes += b
	}
	if p.combine {
		v := binary.AppendUvarint(nil, requests)
		return out.Emit(key, binary.AppendUvarint(v, bytes))
	}
	v := strconv.AppendUint(nil, requests, 10)
	v = append(v, '\t')
	return out.Emit(key, strconv.AppendUint(v, bytes, 10))
}
