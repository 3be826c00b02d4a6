package clustertest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomr/gomr/cmd/internal/localcluster"
)

// dataRoots returns the data roots of an in-process test cluster: a
// local cluster's defaults, and the third-party data beside the
// repository (SharedData) when it is there.
func dataRoots(dataDir string) []string {
	roots := localcluster.DefaultDataRoots(dataDir, true)
	dir, err := os.Getwd()
	if err != nil {
		return roots
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return roots
		}
		dir = parent
	}
	if shared := filepath.Join(filepath.Dir(dir), "shared", "data"); isDir(shared) {
		roots = append(roots, shared)
	}
	return roots
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// OpenDir returns a new folder under the system temp folder that every
// account may read, enter and write, removed when the test ends. A worker
// running as root runs streaming commands as an unprivileged account,
// which cannot reach t.TempDir() (a folder only its owner may enter); a
// command that touches files of the test (a gate, a record of its pids)
// finds them here.
func OpenDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gomr-open-")
	if err != nil {
		t.Fatalf("create an open folder: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatalf("open folder %s: %v", dir, err)
	}
	return dir
}
