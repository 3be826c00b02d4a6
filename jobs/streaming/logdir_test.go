package streaming

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

// TestStderrGoesToTheLogFolder: with a log folder, a command's stderr is
// written there as ROLE.stderr (the worker keeps it after the task), not
// in the working folder, and the error still quotes its last lines.
func TestStderrGoesToTheLogFolder(t *testing.T) {
	t.Parallel()
	in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), "a\nb\n", 0o644)
	work, logs := filepath.Join(t.TempDir(), "work"), filepath.Join(t.TempDir(), "logs")
	job := build(t, map[string]string{"mapper": `sh -c 'cat >/dev/null; echo "first line" >&2; echo "reporter:status:half" >&2; echo "last line" >&2; exit 3'`})
	_, err := mapreduce.RunMap(context.Background(), mapreduce.MapTask{
		Job: job, Split: splitsOf(t, 1<<30, in)[0], FileSystems: mapreduce.LocalFileSystems(), Reducers: 1,
		Info: mapreduce.TaskInfo{StepID: "s-1", AttemptID: "attempt_s-1_m_000000_0", WorkDir: work, LogDir: logs},
	})
	if err == nil || !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(err.Error(), "\tfirst line\n\tlast line") {
		t.Fatalf("error %v", err)
	}
	b, err := os.ReadFile(filepath.Join(logs, "mapper.stderr"))
	if err != nil || string(b) != "first line\nlast line\n" {
		t.Fatalf("log folder's mapper.stderr: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(work, "mapper.stderr")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("mapper.stderr in the working folder too: %v", err)
	}
}
