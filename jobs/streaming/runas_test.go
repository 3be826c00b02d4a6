//go:build unix

package streaming

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

// TestRunDirHandsOverOrMovesOut: a working folder the account can reach
// is handed to it; one under a folder only root may enter is replaced by
// a folder of the account's own in the temp folder.
func TestRunDirHandsOverOrMovesOut(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("handing folders to another account needs root")
	}
	ra := &mapreduce.RunAs{User: "nobody", UID: 65534, GID: 65534}
	owner := func(p string) uint32 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Uid
	}

	open, err := os.MkdirTemp("", "gomr-runas-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(open)
	os.Chmod(open, 0o755)
	work := filepath.Join(open, "work")
	os.Mkdir(work, 0o755)
	run, tmp, err := runDir(work, ra)
	if err != nil || run != work || tmp != "" || owner(work) != ra.UID {
		t.Errorf("reachable folder: run %q tmp %q err %v owner %d; want %q handed to uid %d", run, tmp, err, owner(work), work, ra.UID)
	}

	closed := t.TempDir() // under a folder of mode 0700
	os.Chmod(filepath.Dir(closed), 0o700)
	hidden := filepath.Join(closed, "work")
	os.Mkdir(hidden, 0o755)
	run, tmp, err = runDir(hidden, ra)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if run != tmp || !strings.HasPrefix(run, os.TempDir()) || owner(run) != ra.UID || !reachable(run, ra) {
		t.Errorf("unreachable folder: run %q tmp %q owner %d; want a folder of uid %d the account reaches", run, tmp, owner(run), ra.UID)
	}
}
