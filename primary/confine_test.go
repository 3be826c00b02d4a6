package primary

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataRootsCheck checks paths against roots as the leader does at
// submission: each refusal names the path, why, and the roots.
func TestDataRootsCheck(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "in"), 0o755)
	if err := os.Symlink("/etc", filepath.Join(root, "etc-link")); err != nil {
		t.Fatal(err)
	}
	r, err := parseDataRoots([]string{root + ",hdfs:///data", "s3://gomr/allowed"})
	if err != nil {
		t.Fatal(err)
	}
	given := root + ", hdfs:///data, s3://gomr/allowed"
	for _, tc := range []struct {
		what, path string
		read       bool
		why        string // "" when allowed
	}{
		{"input", root + "/in", true, ""},
		{"input", root + "/in/*.txt", true, ""},
		{"input", "file://" + root + "/in/a.txt", true, ""},
		{"output", root + "/not-yet/out", false, ""},
		{"input", "hdfs:///data/logs", true, ""},
		{"input", "hdfs://any-authority/data/logs", true, ""},
		{"input", "s3://gomr/allowed/part-0", true, ""},
		{"input", "s3://gomr/allowed", true, ""},
		{"shipped file m.sh", "hdfs:///tmp/gomr/staging/tok/m.sh", true, ""},
		{"input", "/etc/shadow", true, "is outside them"},
		{"input", "/tmp/x/../../etc/shadow", true, "has a '..' component"},
		{"input", root + "/in/../../../etc/shadow", true, "has a '..' component"},
		{"input", root + "/etc-link/shadow", true, "resolves through symlinks to /etc/shadow, outside them"},
		{"input", root + "/etc-link", true, "resolves through symlinks to /etc, outside them"},
		{"input", "hdfs:///x/../../y", true, "has a '..' component"},
		{"input", "hdfs:///data/../etc", true, "has a '..' component"},
		{"input", "hdfs:///database", true, "is outside them"},
		{"input", "hdfs:///dat*/x", true, "is outside them"},
		{"output", "hdfs:///tmp/gomr/staging/x", false, "is outside them"},
		{"input", "s3://other/allowed/x", true, "is outside them"},
		{"input", "s3://gomr/allowed2/x", true, "is outside them"},
		{"input", "s3://gomr/x/../allowed", true, "has a '..' component"},
		{"input", "/t*/x", true, "is outside them"},
		{"input", "relative/x", true, "is not an absolute path"},
		{"input", "gs://bucket/x", true, "is on no file system the roots name"},
	} {
		err := r.check(tc.what, tc.path, tc.read)
		if tc.why == "" {
			if err != nil {
				t.Errorf("%s %s: refused: %v", tc.what, tc.path, err)
			}
			continue
		}
		want := "invalid request: " + tc.what + " " + tc.path + " " + tc.why + "; steps may read and write only under the data roots (primary --data-roots): " + given
		if err == nil || err.Error() != want || !errors.Is(err, errInvalid) {
			t.Errorf("%s %s:\n got %v\nwant %s", tc.what, tc.path, err, want)
		}
	}
}

// TestDataRootsDenied: /etc, /root, /proc and /sys are refused under a
// root above them (such as a working folder "/"), and allowed when a
// root names them.
func TestDataRootsDenied(t *testing.T) {
	r, err := parseDataRoots([]string{"/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/shadow", "/root/.ssh/id_ed25519", "/proc/1/environ", "/sys/kernel", "/etc"} {
		err := r.check("input", p, true)
		d := "/" + strings.Split(p, "/")[1]
		want := "invalid request: input " + p + " is in " + d + ", which steps use only when a data root names it; steps may read and write only under the data roots (primary --data-roots): /"
		if err == nil || err.Error() != want {
			t.Errorf("input %s:\n got %v\nwant %s", p, err, want)
		}
	}
	if err := r.check("input", "/srv/data/x", true); err != nil {
		t.Errorf("/srv/data/x under root /: %v", err)
	}
	named, _ := parseDataRoots([]string{"/etc/gomr-data"})
	if err := named.check("input", "/etc/gomr-data/a.txt", true); err != nil {
		t.Errorf("a root naming /etc/gomr-data: %v", err)
	}
	if err := named.check("input", "/etc/shadow", true); err == nil {
		t.Error("a root naming /etc/gomr-data let /etc/shadow in")
	}
}

// TestDataRootsNone: with no roots every path is allowed, as before.
func TestDataRootsNone(t *testing.T) {
	r, err := parseDataRoots(nil)
	if err != nil || !r.all {
		t.Fatalf("no roots: %+v, %v", r, err)
	}
	if err := r.check("input", "/etc/shadow", true); err != nil {
		t.Errorf("no roots refused /etc/shadow: %v", err)
	}
}

// TestDataRootsParse refuses roots that are not absolute local folders,
// hdfs:/// or s3:// prefixes.
func TestDataRootsParse(t *testing.T) {
	for in, want := range map[string]string{
		"relative":          `data-roots: root "relative": a local root must be an absolute folder: path "relative" is not an absolute path`,
		"/data/../etc":      `data-roots: root "/data/../etc" has a '..' component`,
		"gs://bucket":       `data-roots: root "gs://bucket": scheme gs:// is not a file system steps use (a local folder, hdfs:///path or s3://bucket[/prefix])`,
		"hdfs://nn":         `data-roots: root "hdfs://nn": bad HDFS path "hdfs://nn": no path after hdfs://nn`,
		"s3://Bad_Bucket/x": `data-roots: root "s3://Bad_Bucket/x": bad s3 URI "s3://Bad_Bucket/x": bucket name "Bad_Bucket" has uppercase letters; bucket names are lowercase`,
	} {
		_, err := parseDataRoots([]string{in})
		if err == nil || err.Error() != want {
			t.Errorf("root %q:\n got %v\nwant %s", in, err, want)
		}
	}
}

// TestPathsOverlap: the same folder, one inside the other, and a glob's
// folder overlap; siblings and other schemes do not.
func TestPathsOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"/d/out", "/d/out/", true},
		{"/d/out", "/d/out/part", true},
		{"/d", "/d/in", true},
		{"/d/in/*.txt", "/d/in/x", true},
		{"file:///d/out", "/d/out", true},
		{"hdfs:///d/out", "hdfs://nn/d/out/x", true},
		{"s3://bkt/p", "s3://bkt/p/q", true},
		{"/d/out", "/d/out2", false},
		{"/d/out", "hdfs:///d/out", false},
		{"s3://bkt/p", "s3://bkt2/p", false},
	} {
		if got := pathsOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("pathsOverlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
