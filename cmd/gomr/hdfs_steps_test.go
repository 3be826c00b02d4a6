package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/mapreduce"
)

// TestHDFSWordCount runs word count with the CLI on three core workers
// over files put on HDFS (64 KiB blocks, so 24 maps): the output equals,
// byte for byte, the sequential reference run over the same local files
// (and the word count oracle); at least 90% of the maps ran on a core
// worker holding their block (DATA_LOCAL_MAPS of `step describe --format
// json`); and a step writing to hdfs:///out commits it exactly once: its
// part files and _SUCCESS, nothing else, each part equal to the
// reference's.
func TestHDFSWordCount(t *testing.T) {
	h := startHDFS(t, ct.Options{Workers: ct.Roles("core", "core", "core")})
	const reducers = 3
	dir, inputs := ct.GenerateText(t, 3, 448<<10, 21)
	h.must("hdfs", "mkdir", "/in")
	h.must(append(append([]string{"hdfs", "put"}, inputs...), "/in")...)
	ref := ct.Reference(t, "wordcount", dir, reducers)
	var maps int64 // one per block
	for _, f := range inputs {
		maps += int64(len(h.blocks("/in/" + filepath.Base(f))))
	}

	// run submits a word count with the CLI, waits for it and returns its
	// counters.
	run := func(input, output string) map[string]int64 {
		t.Helper()
		id := strings.TrimSpace(h.must("step", "add", "--job", "wordcount", "--input", input, "--output", output,
			"--reducers", fmt.Sprint(reducers), "--no-speculation"))
		h.must("step", "wait", id)
		var st struct {
			Id       string
			State    string
			Counters map[string]int64
		}
		if err := json.Unmarshal([]byte(h.must("step", "describe", id, "--format", "json")), &st); err != nil {
			t.Fatal(err)
		}
		if st.State != "COMPLETED" {
			t.Fatalf("step %s over %s: %s", st.Id, input, st.State)
		}
		return st.Counters
	}
	fromHDFS := filepath.Join(t.TempDir(), "from-hdfs")
	counters := run("hdfs:///in", fromHDFS)
	ct.CheckOutput(t, fromHDFS, ref)
	ct.DiffLines(t, ct.PartLines(t, fromHDFS), ct.WordCounts(t, inputs...))
	checkLocality(t, counters, maps)

	counters = run("hdfs:///in", "hdfs:///out")
	checkLocality(t, counters, maps)
	var ls []jsonStatus
	if err := json.Unmarshal([]byte(h.must("hdfs", "ls", "-R", "/out", "--format", "json")), &ls); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ls {
		names = append(names, strings.TrimPrefix(s.Path, "/out/"))
	}
	want := []string{mapreduce.SuccessFile}
	for i := range reducers {
		want = append(want, fmt.Sprintf("part-r-%05d", i))
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("hdfs:///out holds %v, want exactly %v", names, want)
	}
	var m mapreduce.Manifest
	if err := json.Unmarshal(h.cat("/out/"+mapreduce.SuccessFile), &m); err != nil {
		t.Fatalf("_SUCCESS: %v", err)
	}
	if len(m.Files) != reducers {
		t.Fatalf("_SUCCESS lists %d files, want %d: %+v", len(m.Files), reducers, m.Files)
	}
	for _, f := range m.Files {
		part := h.get("/out/" + f.Name)
		refPart, err := os.ReadFile(filepath.Join(ref, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, "hdfs:///out/"+f.Name, part, refPart)
		if f.Size != int64(len(part)) {
			t.Errorf("_SUCCESS says %s has %d bytes; it has %d", f.Name, f.Size, len(part))
		}
	}
}

// checkLocality checks that a step over HDFS input ran maps maps, at
// least 90% of them on a core worker holding their block.
func checkLocality(t *testing.T, c map[string]int64, maps int64) {
	t.Helper()
	if c["LAUNCHED_MAPS"] != maps || c["DATA_LOCAL_MAPS"]+c["OTHER_LOCAL_MAPS"] != maps {
		t.Fatalf("%d maps launched, %d data-local and %d not, want %d maps: %v", c["LAUNCHED_MAPS"], c["DATA_LOCAL_MAPS"], c["OTHER_LOCAL_MAPS"], maps, c)
	}
	t.Logf("%d of %d maps data-local (%.0f%%)", c["DATA_LOCAL_MAPS"], maps, 100*float64(c["DATA_LOCAL_MAPS"])/float64(maps))
	if 10*c["DATA_LOCAL_MAPS"] < 9*maps {
		t.Fatalf("%d of %d maps were data-local, want at least 90%%", c["DATA_LOCAL_MAPS"], maps)
	}
}
