package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

// grepCorpus writes a few files of random words and returns their folder
// and their lines.
func grepCorpus(t *testing.T) (string, []string) {
	t.Helper()
	words := []string{"running", "sing", "ring", "king", "thing", "bring", "Sing", "ing", "dog", "ping-pong",
		"singing", "kingdom", "swing", "ringing", "ölçing", "a1b2", "c33", "x", "4", "ding-dong"}
	r := rand.New(rand.NewPCG(3, 4))
	dir := filepath.Join(t.TempDir(), "in")
	var lines []string
	for f := range 3 {
		var b strings.Builder
		for range 150 {
			var l []string
			for range r.IntN(9) {
				// Skewed, so counts differ and also tie.
				l = append(l, words[min(r.IntN(len(words)), r.IntN(len(words)))])
			}
			line := strings.Join(l, " ")
			lines = append(lines, line)
			b.WriteString(line + "\n")
		}
		p := filepath.Join(dir, fmt.Sprintf("f%d.txt", f))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, lines
}

// wantGrep counts the matches of re's group in lines, sorted as grep's
// output is.
func wantGrep(re *regexp.Regexp, group int, lines []string) []string {
	counts := map[string]int{}
	for _, l := range lines {
		for _, m := range re.FindAllStringSubmatchIndex(l, -1) {
			if m[2*group] >= 0 {
				counts[l[m[2*group]:m[2*group+1]]]++
			}
		}
	}
	type mc struct {
		m string
		n int
	}
	var all []mc
	for m, n := range counts {
		all = append(all, mc{m, n})
	}
	slices.SortFunc(all, func(a, b mc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.m, b.m)) })
	var out []string
	for _, x := range all {
		out = append(out, fmt.Sprintf("%s\t%d", x.m, x.n))
	}
	return out
}

func TestGrep(t *testing.T) {
	dir, lines := grepCorpus(t)
	files, err := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	splits, err := mapreduce.PlanSplits(files, 500)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Lookup("grep")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		regex, group string
		groupIndex   int
	}{
		{`\w*ing\b`, "", 0},
		{`(\w+?)ing\b`, "1", 1},
		{`(?P<stem>\w+?)(?P<tail>ing|ong|dom)\b`, "tail", 2},
		{`([a-z])\d|\d`, "1", 1}, // the group does not always take part
	} {
		opts := map[string]string{"regex": tc.regex}
		if tc.group != "" {
			opts["group"] = tc.group
		}
		want := wantGrep(regexp.MustCompile(tc.regex), tc.groupIndex, lines)
		if len(want) < 3 {
			t.Fatalf("%s: only %d matches in the corpus", tc.regex, len(want))
		}
		for _, reducers := range []int{1, 3} {
			job, err := d.Build(opts)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			c, err := mapreduce.RunSequential(context.Background(), job, splits, mapreduce.SequentialOptions{
				Reducers: reducers, SortBufferBytes: 1 << 10, Output: out,
			})
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(out, mapreduce.PartName('r', 0)))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if !slices.Equal(got, want) {
				t.Errorf("grep %q group %q, %d reducers:\n%s\nwant:\n%s", tc.regex, tc.group, reducers, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for p := 1; p < reducers; p++ {
				if b, err := os.ReadFile(filepath.Join(out, mapreduce.PartName('r', p))); err != nil || len(b) != 0 {
					t.Errorf("part %d: %q, %v; want it empty", p, b, err)
				}
			}
			if c.Get(mapreduce.CombineInputRecords) == 0 || c.Get(mapreduce.ReduceInputRecords) >= c.Get(mapreduce.MapOutputRecords) {
				t.Errorf("the combiner did not combine: %v", c.Map())
			}
		}
	}
}

func TestGrepBadOptions(t *testing.T) {
	d, _ := Lookup("grep")
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{}, "--regex is required"},
		{map[string]string{"regex": "a(b"}, `--regex "a(b"`},
		{map[string]string{"regex": `a\`}, `--regex "a\\"`},
		{map[string]string{"regex": "(?<=a)b"}, `--regex "(?<=a)b"`}, // RE2 has no lookbehind
		{map[string]string{"regex": "a(b)", "group": "2"}, "has 1 capture groups"},
		{map[string]string{"regex": "a(b)", "group": "-1"}, "--group -1"},
		{map[string]string{"regex": "a(b)", "group": "nope"}, `--group "nope"`},
	} {
		_, err := d.Build(tc.opts)
		if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%v) = %v; want ErrBadOption mentioning %q", tc.opts, err, tc.want)
		}
	}
}

func TestStreamingRegistered(t *testing.T) {
	d, err := Lookup("streaming")
	if err != nil {
		t.Fatal(err)
	}
	if !d.MapOnly || len(d.Options) != 5 {
		t.Errorf("streaming: MapOnly %v, options %+v", d.MapOnly, d.Options)
	}
	if _, err := d.Build(map[string]string{"reducer": "cat"}); !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "--mapper") {
		t.Errorf("streaming without a mapper: %v", err)
	}
	if _, err := d.Build(map[string]string{"mapper": "cat", "cmdenv": "x"}); !errors.Is(err, ErrBadOption) {
		t.Errorf("streaming with a bad cmdenv: %v", err)
	}
	job, err := d.Build(map[string]string{"mapper": "cat", "reducer": "aggregate"})
	if err != nil || job.Mapper == nil || job.Reducer == nil || job.Combiner == nil {
		t.Errorf("streaming aggregate: %+v, %v", job, err)
	}
}
