package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
)

// writeGameLog writes JSON lines of game sessions: a player, a time (an
// RFC 3339 string, or Unix seconds as a number), integer session seconds
// and fractional purchases, nested stats; and, at known places, lines
// logagg must reject. It returns the lines and the 1-based numbers of the
// bad ones.
func writeGameLog(t testing.TB, path string, n int, seed uint64) ([]string, map[int]bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	start := time.Date(2024, 5, 1, 23, 57, 0, 0, time.UTC)
	var lines []string
	bad := map[int]bool{}
	for i := range n {
		at := start.Add(time.Duration(i*1700+rng.IntN(1000)) * time.Millisecond)
		var ts string
		if i%3 == 0 {
			ts = strconv.FormatInt(at.Unix(), 10)
		} else {
			ts = strconv.Quote(at.In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano))
		}
		player := fmt.Sprintf("p%d", rng.IntN(7))
		if i%11 == 0 {
			player = "p|" + player // a '|' in the only free group field
		}
		line := fmt.Sprintf(`{"ts":%s,"player":%q,"session_seconds":%d,"purchases":%d.%02d,"stats":{"level":%d}}`,
			ts, player, rng.IntN(4000), rng.IntN(50), rng.IntN(100), rng.IntN(9))
		switch i % 53 {
		case 7:
			line = line[:len(line)/2] // cut: not JSON
		case 19:
			line = strings.Replace(line, `"player"`, `"gamer"`, 1) // no player
		case 31:
			line = strings.Replace(line, `"session_seconds":`, `"session_seconds":"x`, 1)
			line = strings.Replace(line, `,"purchases"`, `","purchases"`, 1) // a string, not a number
		case 43:
			line = strings.Replace(line, `"ts":`, `"time":`, 1) // no time
		}
		lines = append(lines, line)
		if i%53 == 7 || i%53 == 19 || i%53 == 31 || i%53 == 43 {
			bad[len(lines)] = true
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return lines, bad
}

// TestLogAggJSONExact runs logagg on JSON lines grouped by a field and the
// minute of the time field, summing an integer and a fractional field,
// and checks the output against a computation with encoding/json and
// exact big.Float sums: same groups, counts and sums (the double sum the
// correctly rounded exact sum), every bad line rejected and counted. The
// typed outputs hold the same rows, with int64 and double columns.
func TestLogAggJSONExact(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	la, badA := writeGameLog(t, a, 1500, 1)
	lb, badB := writeGameLog(t, b, 900, 2)

	type group struct {
		count   int64
		seconds int64
		buys    *big.Float
	}
	groups := map[string]*group{}
	for _, f := range []struct {
		lines []string
		bad   map[int]bool
	}{{la, badA}, {lb, badB}} {
		for i, l := range f.lines {
			if f.bad[i+1] {
				continue
			}
			dec := json.NewDecoder(strings.NewReader(l))
			dec.UseNumber()
			var obj struct {
				TS       json.RawMessage `json:"ts"`
				Player   string          `json:"player"`
				Seconds  int64           `json:"session_seconds"`
				Purchase json.Number     `json:"purchases"`
			}
			if err := dec.Decode(&obj); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			var at time.Time
			if obj.TS[0] == '"' {
				var s string
				json.Unmarshal(obj.TS, &s)
				at, _ = time.Parse(time.RFC3339Nano, s)
			} else {
				sec, _ := strconv.ParseInt(string(obj.TS), 10, 64)
				at = time.Unix(sec, 0)
			}
			key := obj.Player + "|" + at.UTC().Format("2006-01-02T15:04")
			g := groups[key]
			if g == nil {
				g = &group{buys: new(big.Float).SetPrec(2000)}
				groups[key] = g
			}
			x, _, err := big.ParseFloat(string(obj.Purchase), 10, 53, big.ToNearestEven)
			if err != nil {
				t.Fatal(err)
			}
			g.count++
			g.seconds += obj.Seconds
			g.buys.Add(g.buys, x)
		}
	}
	var want []string
	for k, g := range groups {
		sum, _ := g.buys.Float64()
		want = append(want, fmt.Sprintf("%s\t%d\t%d\t%s", k, g.count, g.seconds, strconv.FormatFloat(sum, 'g', -1, 64)))
	}
	slices.Sort(want)
	if len(want) < 50 {
		t.Fatalf("only %d groups", len(want))
	}

	opts := map[string]string{"time-field": "ts", "group-by": "player,minute", "sum": "session_seconds,purchases"}
	base := stepRun{job: "logagg", opts: opts, formats: Formats{Input: "jsonl"}, inputs: []string{dir}, splitSize: 16 << 10, reducers: 3}
	out, c, prepared := base.run(t)
	if prepared["sum"] != "session_seconds:int64,purchases:double" {
		t.Errorf("prepared --sum %q, want the types inferred from the input", prepared["sum"])
	}
	got := textLines(t, out)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("line %d: got %q, want %q (%d lines, want %d)", i, got[i], want[i], len(got), len(want))
			}
		}
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	nbad := int64(len(badA) + len(badB))
	if c.Get(MalformedRecords) != nbad || c.Get(mapreduce.RejectedRecords) != nbad {
		t.Errorf("MALFORMED_RECORDS %d, REJECTED_RECORDS %d; want %d", c.Get(MalformedRecords), c.Get(mapreduce.RejectedRecords), nbad)
	}
	var wantRows [][]string
	for _, l := range want {
		key, value, _ := strings.Cut(l, "\t")
		i := strings.LastIndexByte(key, '|')
		wantRows = append(wantRows, append([]string{key[:i], key[i+1:]}, strings.Split(value, "\t")...))
	}
	for _, f := range []string{"csv", "jsonl", "parquet"} {
		r := base
		r.opts = prepared
		r.formats.Output = f
		out, _, _ := r.run(t)
		names, rows := outputRows(t, out, f)
		if want := []string{"player", "minute", "count", "session_seconds", "purchases"}; !slices.Equal(names, want) {
			t.Errorf("%s: columns %q, want %q", f, names, want)
		}
		if !slices.Equal(sortedRows(rows), sortedRows(wantRows)) {
			t.Errorf("%s: rows differ from the text output", f)
		}
	}
	// The Parquet columns are typed.
	r := base
	r.opts, r.formats.Output = prepared, "parquet"
	out, _, _ = r.run(t)
	pb, _ := os.ReadFile(outputParts(t, out)[0])
	pf, err := format.OpenParquet(bytes.NewReader(pb), int64(len(pb)))
	if err != nil {
		t.Fatal(err)
	}
	if s := pf.Schema().String(); s != "player:string?,minute:string?,count:int64,session_seconds:int64,purchases:double" {
		t.Errorf("Parquet schema %s", s)
	}
}

// TestLogAggJSONTypedSums checks an explicit int64 sum refuses a
// fractional value (a counted reject), a double sum is exact whatever the
// order (1e16 + 1 - 1e16 is 1, not 0), and numeric times in milliseconds.
func TestLogAggJSONTypedSums(t *testing.T) {
	in := filepath.Join(t.TempDir(), "x.jsonl")
	lines := []string{
		`{"t":1714608000000,"k":"a","n":1,"x":1e16}`,
		`{"t":1714608001000,"k":"a","n":2,"x":1}`,
		`{"t":1714608002000,"k":"a","n":3,"x":-1e16}`,
		`{"t":1714608062000,"k":"a","n":4.5,"x":0.1}`,
		`{"t":1714608063000,"k":true,"n":5,"x":0.2}`,
		`{"t":1714608064000,"k":null,"n":6,"x":0.7}`,
		`{"t":1714608065000,"k":[1],"n":6,"x":0.7}`,
	}
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	r := stepRun{job: "logagg", opts: map[string]string{"time-field": "t", "time-unit": "ms", "group-by": "k,minute", "sum": "n:int64,x:double"},
		formats: Formats{Input: "jsonl"}, inputs: []string{in}, reducers: 1}
	out, c, _ := r.run(t)
	got := textLines(t, out)
	want := []string{
		"a|2024-05-02T00:00\t3\t6\t1",
		"true|2024-05-02T00:01\t1\t5\t0.2",
		"|2024-05-02T00:01\t1\t6\t0.7",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if c.Get(MalformedRecords) != 2 {
		t.Errorf("MALFORMED_RECORDS %d, want 2 (the fraction in an int64 sum, an array key)", c.Get(MalformedRecords))
	}
	// Shewchuk's sum, against an exact one.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var p []float64
		exact := new(big.Float).SetPrec(4000)
		for range 50 {
			x := math.Ldexp(rng.Float64()-0.5, rng.IntN(200)-100)
			p = addPartial(p, x)
			exact.Add(exact, big.NewFloat(x))
		}
		if want, _ := exact.Float64(); roundPartials(p) != want {
			t.Fatalf("sum %v, want %v", roundPartials(p), want)
		}
	}
}
