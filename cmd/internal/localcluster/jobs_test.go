package localcluster_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	pb "github.com/gomr/gomr/primary/primarypb"
)

func gutenberg(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(ct.SharedData(t, "gutenberg-mr"), "*.txt"))
	if err != nil || len(files) != 7 {
		t.Fatalf("gutenberg texts: %v %v", files, err)
	}
	return files
}

func TestWordCountAndInvertedIndexOnGutenberg(t *testing.T) {
	files := gutenberg(t)
	counts := map[string]int{}
	lowerCounts := map[string]int{}
	docs := map[string]map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			for _, w := range ct.Words(line) {
				counts[w]++
				lowerCounts[strings.ToLower(w)]++
				if docs[w] == nil {
					docs[w] = map[string]bool{}
				}
				docs[w][filepath.Base(f)] = true
			}
		}
	}
	wantCount := func(m map[string]int) []string {
		var out []string
		for w, n := range m {
			out = append(out, w+"\t"+strconv.Itoa(n))
		}
		slices.Sort(out)
		return out
	}
	var wantIndex []string
	for w, set := range docs {
		var names []string
		for d := range set {
			names = append(names, d)
		}
		slices.Sort(names)
		wantIndex = append(wantIndex, fmt.Sprintf("%s\t%d\t%s", w, len(names), strings.Join(names, ",")))
	}
	slices.Sort(wantIndex)

	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core", "task"), Slots: 2})
	cl := c.Client()
	out := t.TempDir()
	for _, reducers := range []int32{1, 10} {
		for _, tc := range []struct {
			job  string
			opts map[string]string
			want []string
		}{
			{"wordcount", nil, wantCount(counts)},
			{"invertedindex", nil, wantIndex},
		} {
			t.Run(fmt.Sprintf("%s/%d-reducers", tc.job, reducers), func(t *testing.T) {
				dir := filepath.Join(out, fmt.Sprintf("%s-%d", tc.job, reducers))
				// 4 KiB splits cut lines and words everywhere.
				st := ct.RunStep(t, cl, &pb.StepSpec{Job: tc.job, Options: tc.opts, Inputs: files, Output: dir, Reducers: reducers, SplitSize: 4 << 10})
				ct.MustComplete(t, st)
				if st.MapsTotal < 700 {
					t.Fatalf("only %d splits at 4 KiB", st.MapsTotal)
				}
				ct.CheckRanOnce(t, st)
				ct.DiffLines(t, ct.OutputLines(t, dir, int(reducers)), tc.want)
			})
		}
	}
	t.Run("wordcount/lower", func(t *testing.T) {
		dir := filepath.Join(out, "lower")
		st := ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Options: map[string]string{"lower": "true"}, Inputs: []string{filepath.Dir(files[0]) + "/*.txt"}, Output: dir, Reducers: 3, SplitSize: 64 << 10})
		ct.MustComplete(t, st)
		ct.DiffLines(t, ct.OutputLines(t, dir, 3), wantCount(lowerCounts))
	})
}

// combinedLog is an independent parser for the oracle: a regular
// expression for Apache's combined and common formats.
var combinedLog = regexp.MustCompile(`^(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?$`)

func TestLogAggOnApacheLogs(t *testing.T) {
	path := filepath.Join(ct.SharedData(t, "apache-access-logs"), "apache_logs")
	lines := ct.ReadLines(t, path)
	type entry struct{ fields map[string]string }
	var entries []map[string]string
	var bytesOf []int64
	var malformed []int
	for i, l := range lines {
		m := combinedLog.FindStringSubmatch(l)
		if m == nil {
			malformed = append(malformed, i+1)
			continue
		}
		ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
		if err != nil {
			t.Fatal(err)
		}
		ts = ts.UTC()
		method, p := "-", "-"
		if f := strings.Fields(m[3]); len(f) == 2 || len(f) == 3 {
			method, p, _ = f[0], f[1], 0
			p, _, _ = strings.Cut(p, "?")
		}
		entries = append(entries, map[string]string{
			"host": m[1], "status": m[4], "method": method, "path": p,
			"minute": ts.Format("2006-01-02T15:04"), "hour": ts.Format("2006-01-02T15"), "day": ts.Format("2006-01-02"),
		})
		n, _ := strconv.ParseInt(m[5], 10, 64)
		bytesOf = append(bytesOf, n)
	}
	if !slices.Equal(malformed, []int{8899}) {
		t.Fatalf("oracle finds malformed lines %v, want [8899]", malformed)
	}
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core", "task"), Slots: 2})
	cl := c.Client()
	for i, groupBy := range []string{"status", "method,status", "path", "host", "hour", "day,status", "minute", "status,method,path,host,day"} {
		t.Run(groupBy, func(t *testing.T) {
			fields := strings.Split(groupBy, ",")
			reqs, sizes := map[string]int64{}, map[string]int64{}
			for j, e := range entries {
				var parts []string
				for _, f := range fields {
					parts = append(parts, e[f])
				}
				k := strings.Join(parts, "|")
				reqs[k]++
				sizes[k] += bytesOf[j]
			}
			var want []string
			for k, n := range reqs {
				want = append(want, fmt.Sprintf("%s\t%d\t%d", k, n, sizes[k]))
			}
			slices.Sort(want)
			dir := filepath.Join(t.TempDir(), fmt.Sprint("out", i))
			st := ct.RunStep(t, cl, &pb.StepSpec{Job: "logagg", Options: map[string]string{"group-by": groupBy}, Inputs: []string{path}, Output: dir, Reducers: 3, SplitSize: 64 << 10})
			ct.MustComplete(t, st)
			ct.CheckRanOnce(t, st)
			ct.DiffLines(t, ct.OutputLines(t, dir, 3), want)
			if st.Counters["MALFORMED_RECORDS"] != 1 || st.Counters["MAP_INPUT_RECORDS"] != int64(len(lines)) {
				t.Fatalf("counters %v", st.Counters)
			}
			rejects, _ := filepath.Glob(filepath.Join(dir, "_rejects", "part-m-*"))
			var got []string
			for _, r := range rejects {
				got = append(got, ct.ReadLines(t, r)...)
			}
			wantReject := path + "\t8899\tuser-agent: missing closing quote\t" + lines[8898]
			if len(got) != 1 || got[0] != wantReject {
				t.Fatalf("rejects %q, want %q", got, wantReject)
			}
		})
	}
}
