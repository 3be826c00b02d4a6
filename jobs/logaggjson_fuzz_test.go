package jobs

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
)

// epochMinute is the Unix epoch as logagg writes a minute.
const epochMinute = "1970-01-01T00:00"

// fuzzPairs collects the pairs a mapper emits.
type fuzzPairs struct{ keys, values [][]byte }

func (p *fuzzPairs) Emit(key, value []byte) error {
	p.keys = append(p.keys, append([]byte(nil), key...))
	p.values = append(p.values, append([]byte(nil), value...))
	return nil
}

// FuzzLogAggJSONLine checks logagg's JSON lines mapper on arbitrary lines,
// grouped by a field and the minute of a time field (in each time unit)
// and summing an int64 and a double field: it never panics and never
// fails the task; each line either emits exactly one pair, whose key has
// a part per group field and whose value starts with a count of 1, or is
// rejected, counted once in MALFORMED_RECORDS and REJECTED_RECORDS; a
// numeric time never wraps to the other side of the epoch.
func FuzzLogAggJSONLine(f *testing.F) {
	for _, seed := range []struct {
		line string
		unit byte
	}{
		{`{"ts":"2024-05-01T18:57:00.123-05:00","player":"p3","session_seconds":1200,"purchases":12.34,"stats":{"level":4}}`, 0},
		{`{"ts":1714607820,"player":"p|p1","session_seconds":7,"purchases":0.5,"stats":{"level":0}}`, 0},
		{`{"ts":1714607820123,"player":null,"session_seconds":-7,"purchases":1e300}`, 1},
		{`{"ts":1.5e9,"player":true,"session_seconds":0,"purchases":-0.0}`, 2},
		{`{"ts":9223372036854775807,"player":"x","session_seconds":1,"purchases":1}`, 3},
		{`{"ts":9223372036854775807,"player":"x","session_seconds":1,"purchases":1}`, 0},
		{`{"ts":9.3e18,"player":"x","session_seconds":1,"purchases":1}`, 3},
		{`{"ts":9.223372036854775807e18,"player":"x","session_seconds":1,"purchases":1}`, 3},
		{`{"ts":-9.223372036854775808e18,"player":"x","session_seconds":1,"purchases":1}`, 3},
		{`{"ts":"2024-05-01T18:57:00Z","player":"x","session_seconds":1.5,"purchases":1}`, 0},
		{`{"ts":"2024-05-01T18:57:00Z","player":[1],"session_seconds":1,"purchases":1}`, 0},
		{`{"ts":"2024-05-01T18:57:00Z","player":"x","session_seconds":1,"purchases":1e999}`, 0},
		{`{"ts":"2024-05-01T18:57:00Z","gamer":"x","session_seconds":1,"purchases":1}`, 0},
		{`{"ts":"yesterday","player":"x","session_seconds":1,"purchases":1}`, 0},
		{`{"ts":"2024-05-01T18:57:00Z","player":"x","session_seconds":"x","purchases":1}`, 0},
		{`{"ts":1714607820,"player":"p1","session_seconds":7,"purcha`, 0},
		{`{"a":1} {"b":2}`, 0},
		{`[1,2]`, 0},
		{"", 0},
		{"   \r", 0},
	} {
		f.Add([]byte(seed.line), seed.unit)
	}
	units := []string{"s", "ms", "us", "ns"}
	f.Fuzz(func(t *testing.T, line []byte, unit byte) {
		c, err := parseLogAggJSON(map[string]string{
			"group-by":   "player,minute",
			"time-field": "ts",
			"time-unit":  units[int(unit)%len(units)],
			"sum":        "session_seconds:int64,purchases:double",
		})
		if err != nil {
			t.Fatal(err)
		}
		m := &jsonAggMapper{c: c}
		tc := &mapreduce.TaskContext{Counters: mapreduce.NewCounters()}
		var out fuzzPairs
		if err := m.Map(tc, mapreduce.Record{File: "f.jsonl", Line: line}, &out); err != nil {
			t.Fatalf("Map(%q) failed the task: %v", line, err)
		}
		malformed, rejected := tc.Counters.Get(MalformedRecords), tc.Counters.Get(mapreduce.RejectedRecords)
		switch {
		case len(out.keys) == 0:
			if malformed != 1 || rejected != 1 {
				t.Fatalf("Map(%q) emitted nothing; MALFORMED_RECORDS %d, REJECTED_RECORDS %d, want 1 and 1", line, malformed, rejected)
			}
		case len(out.keys) == 1:
			if malformed != 0 || rejected != 0 {
				t.Fatalf("Map(%q) emitted a pair and counted a reject", line)
			}
			if parts := strings.Count(string(out.keys[0]), "|") + 1; parts < len(c.groups) {
				t.Fatalf("Map(%q): key %q has %d parts for %d group fields", line, out.keys[0], parts, len(c.groups))
			}
			if n, k := binary.Uvarint(out.values[0]); k <= 0 || n != 1 {
				t.Fatalf("Map(%q): value %x does not start with a count of 1", line, out.values[0])
			}
			// A numeric time keeps its side of the epoch: one that does
			// not fit in int64 nanoseconds is rejected, never wrapped.
			obj, _ := format.ParseJSONLine(line)
			if num, ok := obj["ts"].(json.Number); ok {
				x, _ := strconv.ParseFloat(string(num), 64)
				key := string(out.keys[0])
				minute := key[strings.LastIndexByte(key, '|')+1:]
				if (x > 0 && minute < epochMinute) || (x < 0 && minute > epochMinute) {
					t.Fatalf("Map(%q): time %s falls in minute %s", line, num, minute)
				}
			}
		default:
			t.Fatalf("Map(%q) emitted %d pairs", line, len(out.keys))
		}
	})
}
