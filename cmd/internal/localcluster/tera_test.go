package localcluster_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// teraSpec prepares a step of a tera job on the client, as gomr step add
// does, and returns its spec.
func teraSpec(t *testing.T, job string, inputs []string, output string, reducers int, opts map[string]string) *pb.StepSpec {
	t.Helper()
	def, err := jobs.Lookup(job)
	if err != nil {
		t.Fatal(err)
	}
	cs := &jobs.ClientStep{FileSystems: mapreduce.LocalFileSystems(), Staging: filepath.Join(t.TempDir(), "staging"),
		Inputs: inputs, Output: output, Reducers: reducers, SplitSize: 64 << 10, Options: opts}
	if err := def.PrepareClient(context.Background(), cs); err != nil {
		t.Fatalf("prepare %s: %v", job, err)
	}
	return &pb.StepSpec{Job: job, Inputs: cs.Inputs, Output: output, Reducers: int32(reducers), Options: cs.Options, SplitSize: 64 << 10}
}

func TestTeraGenSortValidateOnACluster(t *testing.T) {
	const rows = 4000
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "task"), Slots: 2})
	cl := c.Client()
	dir := t.TempDir()

	gen := filepath.Join(dir, "gen")
	st := ct.RunStep(t, cl, teraSpec(t, jobs.TeraGenJob, nil, gen, 0, map[string]string{"rows": "4000", "maps": "3"}))
	ct.MustComplete(t, st)
	var want bytes.Buffer
	sum, err := jobs.WriteTeraRecords(&want, 0, rows)
	if err != nil {
		t.Fatal(err)
	}
	var generated []byte
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join(gen, mapreduce.PartName('m', i)))
		if err != nil {
			t.Fatal(err)
		}
		generated = append(generated, b...)
	}
	if !bytes.Equal(generated, want.Bytes()) {
		t.Fatalf("teragen's 3 map tasks wrote %d bytes that are not one sequential generation's %d", len(generated), want.Len())
	}
	if st.Counters[jobs.TeraGenChecksum] != int64(sum.Lo) {
		t.Fatalf("CHECKSUM counter %d, want %d", st.Counters[jobs.TeraGenChecksum], int64(sum.Lo))
	}

	sorted := filepath.Join(dir, "sorted")
	spec := teraSpec(t, jobs.TeraSortJob, []string{gen}, sorted, 3, nil)
	if n := strings.Count(spec.Options["split-points"], ",") + 1; n != 2 {
		t.Fatalf("split points %q: want 2 for 3 reducers", spec.Options["split-points"])
	}
	st = ct.RunStep(t, cl, spec)
	ct.MustComplete(t, st)
	if st.MapsTotal < 4 || st.Counters[mapreduce.ReduceOutputRecords] != rows {
		t.Fatalf("terasort: %d maps, counters %v", st.MapsTotal, st.Counters)
	}
	var lines bytes.Buffer
	if err := jobs.TeraRecordsToLines(bytes.NewReader(want.Bytes()), &lines); err != nil {
		t.Fatal(err)
	}
	ls := strings.SplitAfter(lines.String(), "\n")
	slices.Sort(ls)
	if err := jobs.CheckTeraSortOutput(context.Background(), mapreduce.LocalFileSystems(), sorted, strings.NewReader(strings.Join(ls, ""))); err != nil {
		t.Fatalf("terasort's output is not the sorted records: %v", err)
	}

	report := filepath.Join(dir, "report")
	st = ct.RunStep(t, cl, teraSpec(t, jobs.TeraValidateJob, []string{sorted}, report, 1, map[string]string{"generated": gen}))
	ct.MustComplete(t, st)
	got, err := os.ReadFile(filepath.Join(report, "part-r-00000"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "checksum\t"+sum.String()+"\n" {
		t.Fatalf("teravalidate wrote %q, want the checksum line of %s alone", got, sum)
	}
}
