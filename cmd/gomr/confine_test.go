package main

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
)

// TestDataRootsThroughTheCLI, on real processes: a primary started with
// --data-roots refuses, through gomr step add, steps reading or writing
// outside them, and runs one under them; the worker, running as root,
// runs a streaming mapper as nobody.
func TestDataRootsThroughTheCLI(t *testing.T) {
	roots := os.TempDir() + ",hdfs:///data"
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core"), PrimaryArgs: []string{"--data-roots", roots}})
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("to be or not to be\n"), 0o644)
	link := filepath.Join(dir, "etc-link")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	suffix := "; steps may read and write only under the data roots (primary --data-roots): " + strings.ReplaceAll(roots, ",", ", ")
	for _, tc := range []struct{ input, output, want string }{
		{"/etc/shadow", out, "input /etc/shadow is outside them"},
		// The CLI makes local paths absolute and clean before it submits
		// them: what the primary sees is /etc/shadow.
		{"/tmp/x/../../etc/shadow", out, "input /etc/shadow is outside them"},
		{link + "/shadow", out, "input " + link + "/shadow resolves through symlinks to /etc/shadow, outside them"},
		{"hdfs:///x/../../y", out, "input hdfs:///x/../../y has a '..' component"},
		{"s3://gomr/x", out, "input s3://gomr/x is outside them"},
		{in, "/root/out", "output /root/out is outside them"},
	} {
		stdout, stderr, code := gomr(t, c.Env(), "step", "add", "--job", "wordcount", "--input", tc.input, "--output", tc.output)
		if want := "invalid request: " + tc.want + suffix; code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("step add --input %s --output %s: exit %d, stdout %q, stderr %q; want a refusal saying %q", tc.input, tc.output, code, stdout, stderr, want)
		}
	}
	if _, stderr, code := gomr(t, c.Env(), "step", "add", "--job", "wordcount", "--input", in, "--output", out, "--wait"); code != 0 {
		t.Fatalf("word count under the roots: exit %d\n%s", code, stderr)
	}
	if got, want := ct.PartLines(t, out), []string{"be\t2", "not\t1", "or\t1", "to\t2"}; !slices.Equal(got, want) {
		t.Errorf("word count output %q, want %q", got, want)
	}

	if os.Geteuid() != 0 {
		t.Skip("the worker does not run as root here: its streaming commands keep the test's user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no account nobody: %v", err)
	}
	idOut := filepath.Join(dir, "id")
	if _, stderr, code := gomr(t, c.Env(), "step", "add", "--job", "streaming", "--mapper", "sh -c 'cat >/dev/null; id -u'", "--reducers", "0",
		"--input", in, "--output", idOut, "--wait"); code != 0 {
		t.Fatalf("streaming id step: exit %d\n%s", code, stderr)
	}
	if got := ct.PartLines(t, idOut); !slices.Equal(got, []string{nobody.Uid}) {
		t.Errorf("the mapper ran as uid %q, want nobody's %s", got, nobody.Uid)
	}
}

// TestLocalClusterRefusesRootOnlyFiles is the reported case: on `gomr
// local` with its default data roots, a word count of /etc/shadow is
// refused at submission, and one of a file in the temp folder runs.
func TestLocalClusterRefusesRootOnlyFiles(t *testing.T) {
	p := ct.MustStartProcess(t, gomrBin, "gomr-local", nil, "local", "--addr=", "--primaries", "1", "--core", "1", "--task", "0", "--slots", "2")
	env := waitLocalOutput(t, p).env
	out := filepath.Join(t.TempDir(), "x")
	_, stderr, code := gomr(t, env, "step", "add", "--job", "wordcount", "--input", "/etc/shadow", "--output", out)
	if want := "gomr: invalid request: input /etc/shadow is outside them; steps may read and write only under the data roots (primary --data-roots): "; code == 0 || !strings.HasPrefix(stderr, want) {
		t.Fatalf("word count of /etc/shadow: exit %d, stderr %q; want a refusal starting %q", code, stderr, want)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the refused step left %s: %v", out, err)
	}
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("to be or not to be\n"), 0o644)
	if _, stderr, code := gomr(t, env, "step", "add", "--job", "wordcount", "--input", in, "--output", out, "--wait"); code != 0 {
		t.Fatalf("word count in the temp folder: exit %d\n%s", code, stderr)
	}
	if got, want := ct.PartLines(t, out), []string{"be\t2", "not\t1", "or\t1", "to\t2"}; !slices.Equal(got, want) {
		t.Errorf("word count output %q, want %q", got, want)
	}
}
