package jobs

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// MalformedRecords counts access-log lines logagg could not parse.
const MalformedRecords = "MALFORMED_RECORDS"

// logAggFields are the names --group-by accepts, in documentation order.
var logAggFields = []string{"status", "method", "path", "host", "minute", "hour", "day"}

func logAgg() *Definition {
	return &Definition{
		Name: "logagg",
		Summary: "aggregate Apache/Nginx common or combined access logs; lines key<TAB>requests<TAB>bytes " +
			"(unparsable lines are counted in MALFORMED_RECORDS and copied to _rejects/)",
		Options: []Option{{
			Name:    "group-by",
			Usage:   "comma list of " + strings.Join(logAggFields, ", ") + " (times in UTC; a composite key joins fields with |)",
			Default: "status",
		}},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			fields, err := parseGroupBy(opts["group-by"])
			if err != nil {
				return nil, err
			}
			return &mapreduce.Job{
				Mapper:   &logAggMapper{fields: fields},
				Combiner: pairSum{combine: true},
				Reducer:  pairSum{},
			}, nil
		},
	}
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
	m.key = m.key[:0]
	for i, f := range m.fields {
		if i > 0 {
			m.key = append(m.key, '|')
		}
		m.key = appendField(m.key, f, &e)
	}
	m.value = binary.AppendUvarint(m.value[:0], 1)
	m.value = binary.AppendUvarint(m.value, uint64(e.bytes))
	return out.Emit(m.key, m.value)
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
