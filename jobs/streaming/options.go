package streaming

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// Name is the job's name in the registry of built-in jobs.
const Name = "streaming"

// Summary is the job's one-line description.
const Summary = "Hadoop Streaming: run mapper, combiner and reducer commands that read and write key<TAB>value lines"

// Special values of the reducer and combiner options.
const (
	// None as the reducer makes a map-only job: the step runs with zero
	// reducers and its output is the mapper's lines. As the combiner it
	// turns the default aggregate combiner off.
	None = "NONE"
	// Aggregate is Hadoop's aggregate package, built in: the mapper's keys
	// are TYPE:ID (LongValueSum:word), and the reducer writes ID<TAB>result.
	Aggregate = "aggregate"
)

// UnreadRecords counts the input records a mapper or reducer command did
// not read because it exited (with status 0) first. The count is a lower
// bound: records already in the pipe when it exited are not counted.
const UnreadRecords = "STREAMING_UNREAD_RECORDS"

// ErrBadOption is matched (errors.Is) by every error Build and the Parse
// functions return.
var ErrBadOption = errors.New("bad streaming option")

type optionError struct{ msg string }

func (e *optionError) Error() string        { return e.msg }
func (e *optionError) Is(target error) bool { return target == ErrBadOption }

func badOption(format string, args ...any) error {
	return &optionError{msg: fmt.Sprintf(format, args...)}
}

// Option describes one option of the job (the registry turns them into
// the job's flags).
type Option struct {
	Name, Usage, Default string
}

// Options returns the job's options.
func Options() []Option {
	return []Option{
		{Name: "mapper", Usage: "map command line (required); it reads the split's lines on stdin and writes key<TAB>value lines"},
		{Name: "reducer", Usage: "reduce command line, which reads key<TAB>value lines sorted by key; \"aggregate\": Hadoop's aggregate reducer; \"NONE\": map-only (0 reducers); empty: the pairs are written as they are"},
		{Name: "combiner", Usage: "combine command line, run on each map output partition's sorted key<TAB>value lines; \"aggregate\"; \"NONE\"; empty: none, or aggregate when the reducer is"},
		{Name: "cmdenv", Usage: "environment variables of the commands: a JSON list of \"NAME=VALUE\" strings, or NAME=VALUE lines"},
		{Name: "files", Usage: "files placed in the commands' working folder: a JSON list of {\"name\": NAME, \"path\": PATH on the worker, \"mode\": \"0755\"}"},
	}
}

// Config is a parsed set of options.
type Config struct {
	// Mapper, Reducer and Combiner are command lines (split with
	// SplitCommand) or, for the reducer and combiner, None, Aggregate or
	// empty.
	Mapper, Reducer, Combiner string
	// Env holds NAME=VALUE pairs added to every command's environment.
	Env []string
	// Files are placed in every command's working folder.
	Files []File

	// taskCtx returns the context of a task (tests).
	taskCtx func(*mapreduce.TaskContext) context.Context
}

// File is one file shipped with a job: the worker's local copy at Path is
// placed (hard-linked, else copied) as Name in the working folder of every
// command, with permission bits Mode (0: those of Path).
type File struct {
	Name string
	Path string
	Mode fs.FileMode
}

type fileJSON struct {
	Name string          `json:"name"`
	Path string          `json:"path"`
	Mode json.RawMessage `json:"mode,omitempty"`
}

// MarshalJSON writes {"name", "path", "mode"}, the mode as an octal string
// ("0755") and left out when 0.
func (f File) MarshalJSON() ([]byte, error) {
	j := fileJSON{Name: f.Name, Path: f.Path}
	if f.Mode != 0 {
		j.Mode, _ = json.Marshal(fmt.Sprintf("%04o", uint32(f.Mode.Perm())))
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads {"name", "path", "mode"}; mode is an octal string
// ("0755", "755") or a number (493), and may be left out.
func (f *File) UnmarshalJSON(b []byte) error {
	var j fileJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	f.Name, f.Path, f.Mode = j.Name, j.Path, 0
	if len(j.Mode) == 0 || string(j.Mode) == "null" {
		return nil
	}
	var n uint64
	var s string
	if err := json.Unmarshal(j.Mode, &s); err == nil {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0"), 8, 32)
		if err != nil && strings.Trim(s, "0") != "" {
			return fmt.Errorf("file %q: mode %q is not an octal number", j.Name, s)
		}
		n = v
	} else if err := json.Unmarshal(j.Mode, &n); err != nil {
		return fmt.Errorf("file %q: mode %s is neither an octal string nor a number", j.Name, j.Mode)
	}
	if n&^0o777 != 0 {
		return fmt.Errorf("file %q: mode %o has bits other than permissions", j.Name, n)
	}
	f.Mode = fs.FileMode(n)
	return nil
}

// ParseFiles reads the files option: a JSON list of {"name", "path",
// "mode"} objects (empty: no files). Names must be plain file names, each
// used once.
func ParseFiles(s string) ([]File, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var files []File
	if err := json.Unmarshal([]byte(s), &files); err != nil {
		return nil, badOption("--files: %v (want a JSON list of {\"name\", \"path\", \"mode\"})", err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\x00") {
			return nil, badOption("--files: name %q is not a plain file name", f.Name)
		}
		if f.Path == "" {
			return nil, badOption("--files: file %q has no path", f.Name)
		}
		if seen[f.Name] {
			return nil, badOption("--files: name %q is used twice", f.Name)
		}
		seen[f.Name] = true
	}
	return files, nil
}

// FormatFiles returns the files option for a list of files.
func FormatFiles(files []File) string {
	if len(files) == 0 {
		return ""
	}
	b, _ := json.Marshal(files)
	return string(b)
}

// ParseCmdEnv reads the cmdenv option: either a JSON list of "NAME=VALUE"
// strings (when it starts with "["), which can hold any value, or one
// NAME=VALUE a line, each line trimmed of surrounding white space, blank
// lines skipped. Later pairs override earlier ones and the worker's own
// environment.
func ParseCmdEnv(s string) ([]string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	var pairs []string
	if t[0] == '[' {
		if err := json.Unmarshal([]byte(t), &pairs); err != nil {
			return nil, badOption("--cmdenv: %v (want a JSON list of \"NAME=VALUE\" strings)", err)
		}
	} else {
		for l := range strings.Lines(t) {
			if l = strings.TrimSpace(l); l != "" {
				pairs = append(pairs, l)
			}
		}
	}
	for _, p := range pairs {
		name, _, ok := strings.Cut(p, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n\x00") || strings.ContainsRune(p, 0) {
			return nil, badOption("--cmdenv: %q is not NAME=VALUE", p)
		}
	}
	return pairs, nil
}

// FormatCmdEnv returns the cmdenv option for NAME=VALUE pairs.
func FormatCmdEnv(pairs []string) string {
	if len(pairs) == 0 {
		return ""
	}
	b, _ := json.Marshal(pairs)
	return string(b)
}

// ParseOptions checks option values (missing ones are empty) and returns
// the configuration they describe.
func ParseOptions(opts map[string]string) (*Config, error) {
	names := Options()
	for k := range opts {
		if !slices.ContainsFunc(names, func(o Option) bool { return o.Name == k }) {
			return nil, badOption("no option --%s", k)
		}
	}
	cfg := &Config{Mapper: opts["mapper"], Reducer: opts["reducer"], Combiner: opts["combiner"]}
	var err error
	if cfg.Env, err = ParseCmdEnv(opts["cmdenv"]); err != nil {
		return nil, err
	}
	if cfg.Files, err = ParseFiles(opts["files"]); err != nil {
		return nil, err
	}
	return cfg, nil
}

// IsMapOnly reports whether options make a map-only job (reducer NONE),
// whose step must run with zero reducers.
func IsMapOnly(opts map[string]string) bool { return strings.TrimSpace(opts["reducer"]) == None }

// Build checks option values and returns the configured job.
func Build(opts map[string]string) (*mapreduce.Job, error) {
	cfg, err := ParseOptions(opts)
	if err != nil {
		return nil, err
	}
	return New(cfg)
}

// New returns the job a configuration describes:
//
//   - the mapper runs the mapper command;
//   - the reducer runs the reducer command, or is Hadoop's aggregate
//     reducer (Aggregate), or is nil (None: the step must run with zero
//     reducers), or, when empty, writes every pair as key<TAB>value;
//   - the combiner runs the combiner command on each map output
//     partition, or is the aggregate combiner (Aggregate, and the default
//     when the reducer is Aggregate), or is nil (None, or empty).
func New(cfg *Config) (*mapreduce.Job, error) {
	sh := &shared{env: cfg.Env, files: cfg.Files, taskCtx: cfg.taskCtx}
	if sh.taskCtx == nil {
		sh.taskCtx = taskContext
	}
	mcmd, err := newCommand("mapper", cfg.Mapper, sh)
	if err != nil {
		return nil, err
	}
	job := &mapreduce.Job{Mapper: newMapper(mcmd)}
	red, comb := strings.TrimSpace(cfg.Reducer), strings.TrimSpace(cfg.Combiner)
	switch red {
	case "":
		job.Reducer = identityReducer{}
	case None:
	case Aggregate:
		job.Reducer = &aggregateReducer{}
	default:
		cmd, err := newCommand("reducer", cfg.Reducer, sh)
		if err != nil {
			return nil, err
		}
		job.Reducer = newReducer(cmd)
	}
	switch comb {
	case "":
		if red == Aggregate {
			job.Combiner = &aggregateCombiner{}
		}
	case None:
	case Aggregate:
		job.Combiner = &aggregateCombiner{}
	default:
		cmd, err := newCommand("combiner", cfg.Combiner, sh)
		if err != nil {
			return nil, err
		}
		job.Combiner = &combiner{cmd: cmd}
	}
	return job, nil
}

// taskContext returns the context of the task tc describes, when the
// engine's TaskContext offers one (a Context method); otherwise commands
// are stopped when their task ends, fails in this package, or, as a last
// resort, when the job is garbage collected.
func taskContext(tc *mapreduce.TaskContext) context.Context {
	if c, ok := any(tc).(interface{ Context() context.Context }); ok {
		if ctx := c.Context(); ctx != nil {
			return ctx
		}
	}
	return context.Background()
}
