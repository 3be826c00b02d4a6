package localcluster_test

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/jobs/streaming"
	"github.com/gomr/gomr/primary"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc/codes"
)

// TestDataRootsConfineSteps submits steps naming paths outside the data
// roots to an in-process cluster: each is refused with InvalidArgument,
// naming the path and the roots, as is an output overlapping a running
// step's input; a word count under the roots completes.
func TestDataRootsConfineSteps(t *testing.T) {
	roots := []string{os.TempDir(), "hdfs:///data", "s3://gomr/allowed"}
	given := strings.Join(roots, ", ")
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), Slots: 2,
		TunePrimary: func(pc *primary.Config) { pc.DataRoots = roots }})
	cl := c.Client()
	dir := t.TempDir()
	in := tinyInput(t)
	if err := os.Symlink("/etc", filepath.Join(dir, "etc-link")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	suffix := "; steps may read and write only under the data roots (primary --data-roots): " + given
	for _, tc := range []struct{ input, output, want string }{
		{"/etc/shadow", out, "input /etc/shadow is outside them"},
		{"/tmp/x/../../etc/shadow", out, "input /tmp/x/../../etc/shadow has a '..' component"},
		{filepath.Join(dir, "etc-link", "shadow"), out, "input " + filepath.Join(dir, "etc-link", "shadow") + " resolves through symlinks to /etc/shadow, outside them"},
		{"hdfs:///x/../../y", out, "input hdfs:///x/../../y has a '..' component"},
		{"hdfs:///etc", out, "input hdfs:///etc is outside them"},
		{"s3://other-bucket/x", out, "input s3://other-bucket/x is outside them"},
		{in, "/etc/gomr-out", "output /etc/gomr-out is outside them"},
	} {
		st := submitErr(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{tc.input}, Output: tc.output, Reducers: 1})
		if want := "invalid request: " + tc.want + suffix; st.Code() != codes.InvalidArgument || st.Message() != want {
			t.Errorf("input %s, output %s: %s %q\nwant InvalidArgument %q", tc.input, tc.output, st.Code(), st.Message(), want)
		}
	}

	// A symlink inside an input folder is found when the folder is listed.
	linked := filepath.Join(dir, "linked")
	os.MkdirAll(linked, 0o755)
	os.WriteFile(filepath.Join(linked, "a.txt"), []byte("a b\n"), 0o644)
	if err := os.Symlink("/etc/hostname", filepath.Join(linked, "b.txt")); err != nil {
		t.Fatal(err)
	}
	st := submitErr(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{linked}, Output: out, Reducers: 1})
	if want := "invalid request: input file " + filepath.Join(linked, "b.txt") + " resolves through symlinks to /etc/hostname, outside them" + suffix; st.Code() != codes.InvalidArgument || st.Message() != want {
		t.Errorf("input folder with a link out: %s %q\nwant InvalidArgument %q", st.Code(), st.Message(), want)
	}

	// An output overlapping a running step's input or output is refused.
	open := ct.OpenDir(t)
	gate := filepath.Join(open, "gate")
	running := filepath.Join(dir, "running-in")
	os.MkdirAll(running, 0o755)
	os.WriteFile(filepath.Join(running, "a.txt"), []byte("x\n"), 0o644)
	runningOut := filepath.Join(dir, "running-out")
	id := c.Submit(&pb.StepSpec{Name: "gated", Job: "streaming", Inputs: []string{running}, Output: runningOut, Reducers: 0,
		Options: map[string]string{"mapper": "sh -c 'while [ ! -e " + gate + " ]; do sleep 0.02; done; exec cat'"}})
	c.WaitUntil(id, "running", func(s *ct.Step) bool { return s.State == pb.StepState_STEP_RUNNING })
	for _, o := range []struct{ output, theirs string }{
		{filepath.Join(running, "out"), "input " + running},
		{dir, "output " + runningOut},
		{runningOut, "output " + runningOut},
	} {
		st := submitErr(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: o.output, Reducers: 1})
		want := "invalid request: output " + o.output + " overlaps the " + o.theirs + " of step " + id + " (RUNNING), which has not ended: wait for it to end, or choose another folder"
		if st.Code() != codes.InvalidArgument || st.Message() != want {
			t.Errorf("output %s: %s %q\nwant InvalidArgument %q", o.output, st.Code(), st.Message(), want)
		}
	}
	os.WriteFile(gate, nil, 0o644)
	if s := c.Wait(id); s.State != pb.StepState_STEP_COMPLETED {
		t.Fatalf("gated step ended %s: %s", s.State, s.Error)
	}

	// Under the roots, a word count completes.
	wc := c.Wait(c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 1}))
	if wc.State != pb.StepState_STEP_COMPLETED {
		t.Fatalf("word count under the roots ended %s: %s", wc.State, wc.Error)
	}
	if got, want := ct.OutputLines(t, out, 1), []string{"be\t2", "not\t1", "or\t1", "to\t2"}; !slices.Equal(got, want) {
		t.Errorf("word count output %q, want %q", got, want)
	}
}

// TestStreamingRunsUnprivileged: a worker running as root runs streaming
// commands as nobody, with no supplementary groups; a mapper still runs
// its shipped script, and cannot read a root-only file.
func TestStreamingRunsUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the worker does not run as root here, so streaming commands run as the test's own user: nothing to switch from")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no account nobody on this machine: %v", err)
	}
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), Slots: 2, MaxAttempts: 1})
	dir := t.TempDir()
	in := tinyInput(t)

	// The identity of the mapper, as records.
	out := filepath.Join(dir, "id")
	st := c.Wait(c.Submit(&pb.StepSpec{Job: "streaming", Inputs: []string{in}, Output: out, Reducers: 0,
		Options: map[string]string{"mapper": `sh -c 'cat >/dev/null; echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) user=$USER"'`}}))
	if st.State != pb.StepState_STEP_COMPLETED {
		t.Fatalf("id step ended %s: %s", st.State, st.Error)
	}
	want := "uid=" + nobody.Uid + " gid=" + nobody.Gid + " groups=" + nobody.Gid + " user=nobody"
	if got := ct.PartLines(t, out); !slices.Equal(got, []string{want}) {
		t.Errorf("mapper ran as %q, want %q", got, want)
	}

	// A shipped script (in a folder only root may enter) still runs.
	script := filepath.Join(dir, "upper.sh")
	os.WriteFile(script, []byte("#!/bin/sh\ntr a-z A-Z\n"), 0o700)
	shipped := filepath.Join(dir, "shipped")
	st = c.Wait(c.Submit(&pb.StepSpec{Job: "streaming", Inputs: []string{in}, Output: shipped, Reducers: 0,
		Options: map[string]string{"mapper": "upper.sh", "files": streaming.FormatFiles([]streaming.File{{Name: "upper.sh", Path: script}})}}))
	if st.State != pb.StepState_STEP_COMPLETED {
		t.Fatalf("shipped-script step ended %s: %s", st.State, st.Error)
	}
	if got := ct.PartLines(t, shipped); !slices.Equal(got, []string{"TO BE OR NOT TO BE"}) {
		t.Errorf("shipped script's output %q, want %q", got, []string{"TO BE OR NOT TO BE"})
	}

	// A root-only file, in a folder the mapper may enter, cannot be read.
	secret := filepath.Join(ct.OpenDir(t), "secret")
	os.WriteFile(secret, []byte("root only\n"), 0o600)
	st = c.Wait(c.Submit(&pb.StepSpec{Job: "streaming", Inputs: []string{in}, Output: filepath.Join(dir, "secret-out"), Reducers: 0,
		Options: map[string]string{"mapper": "sh -c 'cat " + secret + "'"}}))
	wantErr := "cat: " + secret + ": Permission denied"
	if st.State != pb.StepState_STEP_FAILED || !strings.Contains(st.Error, wantErr) {
		t.Errorf("mapper reading a root-only file: step %s, error %q; want FAILED with %q", st.State, st.Error, wantErr)
	}
}
