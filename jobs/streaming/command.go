package streaming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// shared is what the commands of one job have in common.
type shared struct {
	env     []string
	files   []File
	taskCtx func(*mapreduce.TaskContext) context.Context
}

// command is one of a job's command lines.
type command struct {
	role string // mapper, reducer or combiner
	line string
	argv []string
	*shared
}

func newCommand(role, line string, sh *shared) (*command, error) {
	if strings.TrimSpace(line) == "" {
		return nil, badOption("--%s: a command line is required", role)
	}
	argv, err := SplitCommand(line)
	if err != nil {
		return nil, badOption("--%s %q: %v", role, line, err)
	}
	return &command{role: role, line: line, argv: argv, shared: sh}, nil
}

// name names the command in errors: mapper command "python3 m.py".
func (c *command) name() string { return fmt.Sprintf("%s command %q", c.role, c.line) }

// workDir returns the command's working folder: the task's, or a
// temporary one (returned as tmp, for the caller to remove) when the task
// has none.
func (c *command) workDir(tc *mapreduce.TaskContext) (dir, tmp string, err error) {
	if dir = tc.Info.WorkDir; dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("%s: create working folder: %w", c.name(), err)
		}
		return dir, "", nil
	}
	tmp, err = os.MkdirTemp("", "gomr-streaming-")
	if err != nil {
		return "", "", fmt.Errorf("%s: create working folder: %w", c.name(), err)
	}
	return tmp, tmp, nil
}

// placeFiles puts the shipped files in dir. A name already there is left
// as it is: another command of the same task placed it. A file whose
// path is a URI (hdfs://, s3://) is fetched through the task's file
// systems.
func (c *command) placeFiles(tc *mapreduce.TaskContext, dir string) error {
	for _, f := range c.files {
		dst := filepath.Join(dir, f.Name)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		// A file handed over to the account the command runs as is a
		// copy: a hard link would hand over the original.
		ra := tc.Info.RunAs
		place := func(f File, dst string) error { return placeFile(f, dst, ra == nil) }
		if strings.Contains(f.Path, "://") {
			place = func(f File, dst string) error { return fetchFile(tc, f, dst) }
		}
		if err := place(f, dst); err != nil {
			return fmt.Errorf("%s: place shipped file %s: %w", c.name(), f.Name, err)
		}
		if err := handOver(dst, ra); err != nil {
			return fmt.Errorf("%s: place shipped file %s: %w", c.name(), f.Name, err)
		}
	}
	return nil
}

// placeFile copies a local shipped file to dst, or links it there when
// link is set and the file has the mode it is shipped with.
func placeFile(f File, dst string, link bool) error {
	fi, err := os.Stat(f.Path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", f.Path)
	}
	mode := f.Mode
	if mode == 0 {
		mode = fi.Mode().Perm()
	}
	if link && mode == fi.Mode().Perm() && os.Link(f.Path, dst) == nil {
		return nil
	}
	src, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode); err != nil { // not subject to the umask
		out.Close()
		return err
	}
	return out.Close()
}

// fetchFile copies a shipped file from a file system of the task's into
// dst, with its mode (0755 if none was given: the file systems keep no
// modes, and a shipped file is most often a script).
func fetchFile(tc *mapreduce.TaskContext, f File, dst string) error {
	if tc.FileSystems == nil {
		return fmt.Errorf("%s: this task reads no file systems", f.Path)
	}
	src, err := tc.FileSystems.Open(tc.Context(), f.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Info(tc.Context())
	if err != nil {
		return err
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o755
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(src, 0, info.Size)); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("fetch %s: %w", f.Path, err)
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// resolve finds the program: a name with a slash is a path (relative to
// the working folder); a plain name is looked up in the working folder
// first (a shipped file, as Hadoop does), then in PATH.
func (c *command) resolve(dir string, env []string) (string, error) {
	name := c.argv[0]
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s command %s: not found", c.role, name)
		}
		return p, c.checkExecutable(p)
	}
	if p := filepath.Join(dir, name); exists(p) {
		return p, c.checkExecutable(p)
	}
	for _, d := range filepath.SplitList(lastEnv(env, "PATH")) {
		if d == "" || !filepath.IsAbs(d) {
			continue // the working folder was looked at first
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s command %s: not found in the working folder or PATH", c.role, name)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (c *command) checkExecutable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return fmt.Errorf("%s command %s: %w", c.role, c.argv[0], err)
	case fi.IsDir():
		return fmt.Errorf("%s command %s: %s is a folder", c.role, c.argv[0], p)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("%s command %s: %s is not executable (mode %v): ship it with mode 0755 or run it through its interpreter", c.role, c.argv[0], p, fi.Mode().Perm())
	}
	return nil
}

func lastEnv(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

// environ returns the command's environment: the worker's, then Hadoop's
// names for the task, then the job's cmdenv pairs (the last of a name
// wins).
func (c *command) environ(info mapreduce.TaskInfo) []string {
	env := os.Environ()
	add := func(value string, names ...string) {
		for _, n := range names {
			env = append(env, n+"="+value)
		}
	}
	isMap := c.role != "reducer" // a combiner runs in its map task
	kind := "m"
	if !isMap {
		kind = "r"
	}
	add(info.StepID, "mapreduce_job_id", "mapred_job_id")
	add(info.AttemptID, "mapreduce_task_attempt_id", "mapred_task_id")
	add(strconv.FormatBool(isMap), "mapreduce_task_ismap", "mapred_task_is_map")
	add(strconv.Itoa(info.Reducers), "mapreduce_job_reduces", "mapred_reduce_tasks")
	if info.Kind != "" { // a combiner's context may not describe its task
		add(taskID(info, kind), "mapreduce_task_id", "mapred_tip_id")
		add(strconv.Itoa(info.Index), "mapreduce_task_partition", "mapred_task_partition")
	}
	if isMap && info.Split.File != "" {
		add(info.Split.File, "mapreduce_map_input_file", "map_input_file")
		add(strconv.FormatInt(info.Split.Offset, 10), "mapreduce_map_input_start", "map_input_start")
		add(strconv.FormatInt(info.Split.Length, 10), "mapreduce_map_input_length", "map_input_length")
	}
	return append(env, c.env...)
}

// taskID returns Hadoop's task id: the attempt id attempt_STEP_m_000003_1
// without its attempt number, as task_STEP_m_000003.
func taskID(info mapreduce.TaskInfo, kind string) string {
	if rest, ok := strings.CutPrefix(info.AttemptID, "attempt_"); ok {
		if i := strings.LastIndexByte(rest, '_'); i > 0 {
			return "task_" + rest[:i]
		}
	}
	return fmt.Sprintf("task_%s_%s_%06d", info.StepID, kind, info.Index)
}
