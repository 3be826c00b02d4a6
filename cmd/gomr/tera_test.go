package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/jobs"
)

// TestTeraSortWithTheCLIOnHDFS runs the sort benchmark as a user does,
// with gomr step add on HDFS: teragen (no --input; its control files
// staged in HDFS by the client), terasort (the client samples
// hdfs:///gen; 64 KiB blocks cut records, which belong to the split they
// start in) and teravalidate --generated. The records are teragen's, the
// sorted output is their order, and the report is one checksum line with
// the generated data's sum. A step of a file that is not whole records is
// refused with its name and offset.
func TestTeraSortWithTheCLIOnHDFS(t *testing.T) {
	h := startHDFS(t, ct.Options{Workers: ct.Roles("core", "core")})
	const rows = 6000 // 600,000 bytes: 10 blocks of 64 KiB
	wait := func(args ...string) {
		t.Helper()
		id := strings.TrimSpace(h.must(append([]string{"step", "add"}, args...)...))
		out, errOut, code := h.run("step", "wait", id)
		if code != 0 {
			t.Fatalf("step %s (%s): exit %d\n%s\n%s\n%s", id, strings.Join(args, " "), code, out, errOut, h.must("step", "describe", id))
		}
	}
	wait("--job", "teragen", "--rows", fmt.Sprint(rows), "--maps", "2", "--output", "hdfs:///gen")
	var want bytes.Buffer
	sum, err := jobs.WriteTeraRecords(&want, 0, rows)
	if err != nil {
		t.Fatal(err)
	}
	gen := append(h.get("/gen/part-m-00000"), h.get("/gen/part-m-00001")...)
	checkSame(t, "teragen's parts", gen, want.Bytes())

	wait("--job", "terasort", "--input", "hdfs:///gen", "--output", "hdfs:///sorted", "--reducers", "3")
	describe := h.must("step", "list")
	if !strings.Contains(describe, "terasort") {
		t.Fatalf("step list: %s", describe)
	}
	var lines bytes.Buffer
	if err := jobs.TeraRecordsToLines(bytes.NewReader(want.Bytes()), &lines); err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if err := jobs.TeraLinesToRecords(bytes.NewReader(sortLinesC(t, lines.Bytes())), &back); err != nil {
		t.Fatal(err)
	}
	var sorted []byte
	for i := range 3 {
		sorted = append(sorted, h.get(fmt.Sprintf("/sorted/part-r-%05d", i))...)
	}
	checkSame(t, "terasort's parts", sorted, back.Bytes())

	report := filepath.Join(t.TempDir(), "report")
	wait("--job", "teravalidate", "--input", "hdfs:///sorted", "--generated", "hdfs:///gen", "--output", report)
	got, err := os.ReadFile(filepath.Join(report, "part-r-00000"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "checksum\t"+sum.String()+"\n" {
		t.Fatalf("teravalidate wrote %q, want the checksum line of %s alone", got, sum)
	}

	h.put(want.Bytes()[:250], "/short.bin")
	refusal := h.fails([]string{"/short.bin", "byte offset 200", "truncated record"},
		"step", "add", "--job", "terasort", "--input", "hdfs:///short.bin", "--output", "hdfs:///short-sorted", "--reducers", "2")
	t.Logf("a 250-byte input: %s", strings.TrimSpace(refusal))
}

// sortLinesC sorts lines with LC_ALL=C sort(1)'s order (bytewise).
func sortLinesC(t *testing.T, b []byte) []byte {
	t.Helper()
	ls := strings.SplitAfter(string(b), "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	slices.Sort(ls)
	return []byte(strings.Join(ls, ""))
}
