package streaming

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"cat", []string{"cat"}},
		{"  python3   mapper.py\t-x \n", []string{"python3", "mapper.py", "-x"}},
		{`bash -c 'echo "$HOME" | wc -l'`, []string{"bash", "-c", `echo "$HOME" | wc -l`}},
		{`echo hi; touch /tmp/x`, []string{"echo", "hi;", "touch", "/tmp/x"}},
		{`a "b c" 'd e' f\ g`, []string{"a", "b c", "d e", "f g"}},
		{`'a'b"c"`, []string{"abc"}},
		{`x '' ""`, []string{"x", "", ""}},
		{`"a\"b\\c\$d\e"`, []string{`a"b\c$d\e`}},
		{`'it'\''s'`, []string{"it's"}},
		{"a\\\nb c \\\n d", []string{"ab", "c", "d"}},
		{`$VAR *.txt > out 2>&1 & # not a comment`, []string{"$VAR", "*.txt", ">", "out", "2>&1", "&", "#", "not", "a", "comment"}},
		{`"tab	in quotes"`, []string{"tab\tin quotes"}},
		{"naïve 漢字", []string{"naïve", "漢字"}},
	} {
		got, err := SplitCommand(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "   ", `a 'b`, `a "b`, `a\`, `"a\"`} {
		if got, err := SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q) = %q, want an error", bad, got)
		}
	}
}

func TestJavaDouble(t *testing.T) {
	tenth := 0.1
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1, "1.0"}, {3.25, "3.25"}, {-2.5, "-2.5"},
		{100, "100.0"}, {0.001, "0.001"}, {0.0001, "1.0E-4"}, {1.5e-5, "1.5E-5"}, {9999999, "9999999.0"},
		{1e7, "1.0E7"}, {1.25e10, "1.25E10"}, {123456.789, "123456.789"}, {tenth + 2*tenth, "0.30000000000000004"}, {0.3, "0.3"}, {3e-4, "3.0E-4"},
		{math.MaxFloat64, "1.7976931348623157E308"}, {5e-324, "4.9E-324"}, {1e-323, "9.9E-324"},
		{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
		{0.816496580927726, "0.816496580927726"}, {2.0 / 3, "0.6666666666666666"},
	} {
		if got := string(appendJavaDouble(nil, tc.f)); got != tc.want {
			t.Errorf("appendJavaDouble(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestHistogramReport(t *testing.T) {
	h := &histogram{}
	h.reset()
	for _, v := range []string{"a", "b\t4", "a", "c", "d\t10", "a\t2"} {
		if err := h.add([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// counts a=4 b=4 c=1 d=10: sorted 1 4 4 10, median counts[2] = 4,
	// average 4.75, sd sqrt((3.75²+0.75²+0.75²+5.25²)/4) = sqrt(10.6875).
	if got := string(h.report(nil)); got != "4\t1\t4\t10\t4.75\t3.2691742076555053" {
		t.Errorf("report %q", got)
	}
	var combined []string
	h.combined(func(v []byte) error { combined = append(combined, string(v)); return nil })
	if want := []string{"a\t4", "b\t4", "c\t1", "d\t10"}; !slices.Equal(combined, want) {
		t.Errorf("combined %q, want %q", combined, want)
	}
}

func TestStderrTail(t *testing.T) {
	s := &stderrSink{}
	for i := range 30 {
		s.keep([]byte(strings.Repeat("x", i)+"\n"), true)
	}
	tail := s.tailText()
	if n := strings.Count(tail, "\n\t"); n != errorTailLines {
		t.Errorf("%d lines in the tail", n)
	}
	if !strings.HasSuffix(tail, "\n\t"+strings.Repeat("x", 29)) {
		t.Errorf("tail %q", tail)
	}
	s = &stderrSink{}
	for range 1000 {
		s.keep([]byte(strings.Repeat("y", 300)+"\n"), true)
	}
	if len(s.tail) > 2*stderrTailBytes || len(s.tailText()) > errorTailBytes+errorTailLines*2 {
		t.Errorf("tail kept %d bytes, quoted %d", len(s.tail), len(s.tailText()))
	}
}

type pair struct {
	key, value string
	nilValue   bool
}

type recorder struct{ pairs []pair }

func (r *recorder) Emit(key, value []byte) error {
	r.pairs = append(r.pairs, pair{string(key), string(value), value == nil})
	return nil
}

// TestLinesWithoutTab checks the contract with the text writer: a line
// without a tab is emitted with a nil value, a line ending in a tab with an
// empty one.
func TestLinesWithoutTab(t *testing.T) {
	job := build(t, map[string]string{"mapper": "cat"})
	tc := &mapreduce.TaskContext{Counters: mapreduce.NewCounters(), Info: mapreduce.TaskInfo{Kind: "m"}}
	m := job.Mapper.(*mapper)
	if err := m.Setup(tc); err != nil {
		t.Fatal(err)
	}
	var out recorder
	for _, l := range []string{"a\tb", "c", "d\t", "", "e\tf\tg"} {
		if err := m.Map(tc, mapreduce.Record{Line: []byte(l)}, &out); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Cleanup(tc, &out); err != nil {
		t.Fatal(err)
	}
	want := []pair{{"a", "b", false}, {"c", "", true}, {"d", "", false}, {"", "", true}, {"e", "f\tg", false}}
	if !slices.Equal(out.pairs, want) {
		t.Errorf("pairs %+v, want %+v", out.pairs, want)
	}
}
