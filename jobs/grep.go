package jobs

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/gomr/gomr/mapreduce"
)

// grepJob is Hadoop's Grep example: it counts the matches of a regular
// expression and lists them most frequent first. Hadoop runs two jobs (a
// count, then a sort by count); gomr does it in one step: the counts are
// combined and reduced as wordcount's are, a partitioner sends every match
// to partition 0, and that one reducer keeps the counts and writes them,
// sorted, when its task ends. The whole output is part-r-00000 (the other
// part files of a step with more reducers are empty), in the reducer's
// memory until then: one entry per distinct match.
func grepJob() *Definition {
	return &Definition{
		Name:    "grep",
		Summary: "count the matches of a regular expression (Hadoop's grep); lines match<TAB>count, most frequent first, all in part-r-00000",
		Options: []Option{
			{Name: "regex", Usage: "the regular expression (Go RE2 syntax; required)"},
			{Name: "group", Usage: "the capture group to count, by number or name (0: the whole match)", Default: "0"},
		},
		// Typed output: a row (match, count) per match; an empty match
		// (of an expression that matches the empty string) is a null.
		typed: &typedFormats{rows: pairRows("match:string? | count:int64")},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			expr := opts["regex"]
			if expr == "" {
				return nil, fmt.Errorf("%w: --regex is required", ErrBadOption)
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("%w: --regex %q: %v", ErrBadOption, expr, err)
			}
			group, err := strconv.Atoi(opts["group"])
			if err != nil {
				if group = re.SubexpIndex(opts["group"]); group < 0 {
					return nil, fmt.Errorf("%w: --group %q: neither a group number nor the name of a group of --regex %q", ErrBadOption, opts["group"], expr)
				}
			}
			if group < 0 || group > re.NumSubexp() {
				return nil, fmt.Errorf("%w: --group %d: --regex %q has %d capture groups", ErrBadOption, group, expr, re.NumSubexp())
			}
			return &mapreduce.Job{
				Mapper:      &grepMapper{re: re, group: group},
				Combiner:    sumCombiner{},
				Reducer:     &grepReducer{},
				Partitioner: func([]byte, int) int { return 0 },
			}, nil
		},
	}
}

// grepMapper emits every non-overlapping match of its expression in a line
// (or of its capture group, when the group took part in the match) with
// the count 1.
type grepMapper struct {
	re    *regexp.Regexp
	group int
}

func (m *grepMapper) Map(_ *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	if m.group == 0 {
		for _, loc := range m.re.FindAllIndex(rec.Line, -1) {
			if err := out.Emit(rec.Line[loc[0]:loc[1]], one); err != nil {
				return err
			}
		}
		return nil
	}
	for _, loc := range m.re.FindAllSubmatchIndex(rec.Line, -1) {
		if s, e := loc[2*m.group], loc[2*m.group+1]; s >= 0 {
			if err := out.Emit(rec.Line[s:e], one); err != nil {
				return err
			}
		}
	}
	return nil
}

type grepCount struct {
	match string
	n     uint64
}

// grepReducer sums each match's counts and, at the end of its task, writes
// them by count descending, then match ascending.
type grepReducer struct {
	counts []grepCount
	setup  bool
}

func (r *grepReducer) Setup(*mapreduce.TaskContext) error {
	r.counts, r.setup = r.counts[:0], true
	return nil
}

func (r *grepReducer) Reduce(key []byte, values *mapreduce.Values, _ mapreduce.Emitter) error {
	if !r.setup {
		// Its output is written in Cleanup: without Setup, nothing would be.
		return fmt.Errorf("grep reducer: the task did not call Setup: a wrapper around the reducer must pass on mapreduce.TaskLifecycle")
	}
	n, err := sumValues(key, values)
	if err != nil {
		return err
	}
	r.counts = append(r.counts, grepCount{string(key), n})
	return nil
}

func (r *grepReducer) Cleanup(_ *mapreduce.TaskContext, out mapreduce.Emitter) error {
	slices.SortFunc(r.counts, func(a, b grepCount) int {
		return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.match, b.match))
	})
	var buf []byte
	for _, c := range r.counts {
		buf = strconv.AppendUint(buf[:0], c.n, 10)
		if err := out.Emit([]byte(c.match), buf); err != nil {
			return err
		}
	}
	r.counts, r.setup = r.counts[:0], false
	return nil
}
