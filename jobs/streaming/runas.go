package streaming

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomr/gomr/mapreduce"
)

// A command that runs as another account (mapreduce.RunAs) needs its
// working folder and shipped files to be its own: the worker places them
// as root, then hands them over, as Hadoop's container executor chowns a
// container's folder to its user. Records need no file access: the
// command reads and writes them on pipes.

// runDir returns the folder a command running as ra works in: dir itself,
// handed over to ra, when ra can reach it (every folder above it is
// searchable by ra), else a new folder under the system temp folder (for
// the caller to remove, as tmp) in the first of the system temp folder,
// /tmp and /var/tmp that ra can reach, since a worker's data folder may
// sit under a folder only root may enter.
func runDir(dir string, ra *mapreduce.RunAs) (run, tmp string, err error) {
	if reachable(filepath.Dir(dir), ra) {
		if err := os.Chown(dir, int(ra.UID), int(ra.GID)); err != nil {
			return "", "", fmt.Errorf("hand working folder %s to user %s: %w", dir, ra.User, err)
		}
		return dir, "", nil
	}
	base := ""
	for _, b := range []string{os.TempDir(), "/tmp", "/var/tmp"} {
		if reachable(b, ra) {
			base = b
			break
		}
	}
	if base == "" {
		return "", "", fmt.Errorf("working folder %s: user %s cannot reach it, nor the system temp folder %s: let it through the folders above (mode o+x)", dir, ra.User, os.TempDir())
	}
	tmp, err = os.MkdirTemp(base, "gomr-streaming-")
	if err != nil {
		return "", "", fmt.Errorf("create a working folder user %s can reach: %w", ra.User, err)
	}
	if err := os.Chown(tmp, int(ra.UID), int(ra.GID)); err != nil {
		os.RemoveAll(tmp)
		return "", "", fmt.Errorf("hand working folder %s to user %s: %w", tmp, ra.User, err)
	}
	return tmp, tmp, nil
}

// reachable reports whether ra may search dir and every folder above it.
func reachable(dir string, ra *mapreduce.RunAs) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || !searchable(fi, ra) {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// handOver makes a placed file ra's own, keeping its mode.
func handOver(path string, ra *mapreduce.RunAs) error {
	if ra == nil {
		return nil
	}
	if err := os.Lchown(path, int(ra.UID), int(ra.GID)); err != nil {
		return fmt.Errorf("hand %s to user %s: %w", path, ra.User, err)
	}
	return nil
}

// userEnv returns the environment names of the account a command runs
// as: its name, and its working folder as its home (a service account's
// home folder, /nonexistent for nobody, is seldom there).
func userEnv(ra *mapreduce.RunAs, dir string) []string {
	if ra == nil {
		return nil
	}
	return []string{"USER=" + ra.User, "LOGNAME=" + ra.User, "HOME=" + dir}
}
