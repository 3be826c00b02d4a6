package worker

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// An attempt's logs, as EMR keeps a task attempt's syslog and stderr: the
// worker writes them under DATA-DIR/logs/STEP-ID/ and keeps them after
// the attempt ends (and across restarts of the worker), within
// Config.LogRetentionBytes, dropping the steps whose logs were last
// written longest ago first. A step's folder holds
//
//	syslog              the own log lines of the step's attempts on this
//	                    worker (also in the worker's log), each line
//	                    starting with its attempt's id: an attempt's start
//	                    with task and split, its input read, its output
//	                    committed, its end and error
//	ATTEMPT-ID/         for an attempt whose commands wrote to stderr:
//	  ROLE.stderr       a streaming command's stderr (mapper.stderr,
//	                    combiner.stderr, reducer.stderr), 16 MiB at most each
//
// One syslog per step, rather than a folder and files per attempt, keeps
// an attempt of a tiny task from paying for three file creations on a
// disk where each costs a journal write. The Logs service
// (logs_service.go) serves an attempt's lines of the syslog as its own
// syslog stream, and its stderr files as its stderr stream.
const (
	// LogsDir is the folder of a worker's data folder that holds the
	// attempts' logs.
	LogsDir = "logs"
	// SyslogName is the file of a step's log folder that holds its
	// attempts' own log lines, and the name of an attempt's stream of
	// them; StderrName names the stream of an attempt's stderr files.
	SyslogName = "syslog"
	StderrName = "stderr"
	// DefaultLogRetentionBytes bounds the attempts' logs a worker keeps
	// when Config.LogRetentionBytes is 0.
	DefaultLogRetentionBytes = 1 << 30
	// syslogMaxBytes bounds one attempt's syslog.
	syslogMaxBytes = 16 << 20
)

// logName is what a step or attempt id must look like to name a log
// folder: a plain name, never a path ("..", "/").
var logName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// errBadLogName is returned for a step or attempt id, or a stream, that
// cannot name a log.
var errBadLogName = errors.New("not a valid name")

// logStore keeps the attempts' logs of one worker and bounds their size.
type logStore struct {
	dir      string
	maxBytes int64
	log      *slog.Logger

	mu    sync.Mutex
	steps map[string]*stepLogs
	total int64

	idxMu   sync.Mutex              // guards indexes; taken after mu, never before it
	indexes map[string]*syslogIndex // by step (syslogOf)
}

// stepLogs is what the store knows of one step's logs.
type stepLogs struct {
	bytes int64     // of its attempts that ended
	last  time.Time // when an attempt of it last started or ended
	open  int       // attempts writing logs now
	// syslog is the step's syslog, open while attempts write to it.
	syslog *os.File
}

// openLogStore opens the log folder dir, counts what earlier runs left
// there and removes the oldest steps' logs beyond maxBytes.
func openLogStore(dir string, maxBytes int64, log *slog.Logger) (*logStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log folder: %w", err)
	}
	s := &logStore{dir: dir, maxBytes: cmp.Or(maxBytes, DefaultLogRetentionBytes), log: log, steps: map[string]*stepLogs{}, indexes: map[string]*syslogIndex{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read log folder: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !logName.MatchString(e.Name()) {
			continue
		}
		sl := &stepLogs{}
		filepath.WalkDir(filepath.Join(dir, e.Name()), func(_ string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if info, err := d.Info(); err == nil {
				if d.Type().IsRegular() {
					sl.bytes += info.Size()
				}
				if info.ModTime().After(sl.last) {
					sl.last = info.ModTime()
				}
			}
			return nil
		})
		s.steps[e.Name()] = sl
		s.total += sl.bytes
	}
	s.mu.Lock()
	s.prune()
	s.mu.Unlock()
	return s, nil
}

// attemptDir returns the log folder of an attempt, refusing ids that are
// not plain names.
func (s *logStore) attemptDir(step, attempt string) (string, error) {
	if !logName.MatchString(step) {
		return "", fmt.Errorf("step id %q: %w", step, errBadLogName)
	}
	if !logName.MatchString(attempt) {
		return "", fmt.Errorf("attempt id %q: %w", attempt, errBadLogName)
	}
	dir := filepath.Join(s.dir, step, attempt)
	if rel, err := filepath.Rel(s.dir, dir); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("attempt %s of step %s: %w", attempt, step, errBadLogName)
	}
	return dir, nil
}

// attemptLog is the logs of a running attempt.
type attemptLog struct {
	s    *logStore
	step string
	// dir is the attempt's log folder, made by whoever first writes a
	// file there ("" if the attempt keeps no logs).
	dir string
	// syslog counts the attempt's bytes of the step's syslog.
	syslog *attemptSyslog
	// logger writes to the step's syslog and to the worker's log.
	logger *slog.Logger
}

// open opens an attempt's logs: its lines of the step's syslog, and a
// logger that writes to both the syslog and the worker's log wlog. If
// the syslog cannot be opened, the attempt logs to wlog alone.
func (s *logStore) open(spec *pb.Assignment, wlog *slog.Logger) *attemptLog {
	l := &attemptLog{s: s, step: spec.StepId, logger: wlog.With("attempt", spec.AttemptId)}
	dir, err := s.attemptDir(spec.StepId, spec.AttemptId)
	if err != nil {
		wlog.Warn("attempt logs are not kept", "attempt", spec.AttemptId, "err", err)
		return l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.stepOf(spec.StepId)
	if sl.syslog == nil {
		f, err := s.openSyslog(spec.StepId)
		if err != nil {
			wlog.Warn("attempt logs are not kept", "attempt", spec.AttemptId, "err", err)
			return l
		}
		sl.syslog = f
	}
	sl.open++
	sl.last = time.Now()
	l.dir = dir
	l.syslog = &attemptSyslog{f: sl.syslog, prefix: []byte(spec.AttemptId + " "), left: syslogMaxBytes}
	file := slog.NewTextHandler(l.syslog, &slog.HandlerOptions{Level: slog.LevelDebug})
	l.logger = slog.New(teeHandler{wlog.Handler(), file}).With("attempt", spec.AttemptId)
	return l
}

// openSyslog opens a step's syslog for appending, making its folder.
func (s *logStore) openSyslog(step string) (*os.File, error) {
	dir := filepath.Join(s.dir, step)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create step log folder: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, SyslogName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open step syslog: %w", err)
	}
	return f, nil
}

func (s *logStore) stepOf(step string) *stepLogs {
	sl, ok := s.steps[step]
	if !ok {
		sl = &stepLogs{}
		s.steps[step] = sl
	}
	return sl
}

// close counts the size of the attempt's logs, closes the step's syslog
// when no attempt writes to it any more, and removes old steps' logs
// beyond the store's bound.
func (l *attemptLog) close() {
	if l.syslog == nil {
		return
	}
	size := l.syslog.written()
	if entries, err := os.ReadDir(l.dir); err == nil {
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				size += info.Size()
			}
		}
	}
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.stepOf(l.step)
	sl.open--
	if sl.open == 0 && sl.syslog != nil {
		sl.syslog.Close()
		sl.syslog = nil
	}
	sl.bytes += size
	sl.last = time.Now()
	s.total += size
	s.prune()
}

// attemptSyslog writes an attempt's lines to its step's syslog, each
// prefixed with the attempt's id, up to left bytes, then a note that the
// rest was dropped, then nothing. slog handlers write a record in one
// call, and the file is opened for appending, so the lines of attempts
// running side by side do not mix.
type attemptSyslog struct {
	f      *os.File
	prefix []byte

	mu   sync.Mutex
	buf  []byte
	left int64
	n    int64
}

func (w *attemptSyslog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.left <= 0 {
		return len(p), nil
	}
	line := p
	if int64(len(p)) > w.left {
		w.left = 0
		line = []byte("[syslog truncated]\n")
	} else {
		w.left -= int64(len(p))
	}
	w.buf = append(append(w.buf[:0], w.prefix...), line...)
	n, err := w.f.Write(w.buf)
	w.n += int64(n)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *attemptSyslog) written() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// prune removes whole steps' logs, those last written longest ago first,
// while the logs exceed the bound. A step with an attempt still running
// here is kept. Call it with s.mu held.
func (s *logStore) prune() {
	for s.total > s.maxBytes {
		var victim string
		for id, sl := range s.steps {
			if sl.open > 0 {
				continue
			}
			if v := s.steps[victim]; victim == "" || sl.last.Before(v.last) || (sl.last.Equal(v.last) && id < victim) {
				victim = id
			}
		}
		if victim == "" {
			return
		}
		sl := s.steps[victim]
		if err := os.RemoveAll(filepath.Join(s.dir, victim)); err != nil {
			s.log.Warn("remove old step logs", "step", victim, "err", err)
			return
		}
		s.log.Info("removed old step logs (log retention)", "step", victim, "bytes", sl.bytes, "kept_bytes", s.total-sl.bytes, "retention_bytes", s.maxBytes)
		s.total -= sl.bytes
		delete(s.steps, victim)
		s.idxMu.Lock()
		delete(s.indexes, victim)
		s.idxMu.Unlock()
	}
}

// syslogIndex is where the attempts' lines lie in a step's syslog, as
// far as it has been read: the file only grows while its step's logs are
// kept, so indexing goes on from there, and an attempt's lines are read
// without scanning the file again.
type syslogIndex struct {
	indexed int64             // bytes of whole lines indexed
	lines   map[string][]span // attempt id -> its lines, without their prefix
}

// span is a run of bytes of a file.
type span struct{ off, n int64 }

// maxSyslogIndexes bounds the steps whose syslog index is kept.
const maxSyslogIndexes = 8

// syslogOf returns an attempt's lines of its step's syslog, without
// their prefix, and when the syslog was last written. A step without a
// syslog has no lines.
func (s *logStore) syslogOf(step, attempt string) ([]byte, time.Time, error) {
	f, err := os.Open(filepath.Join(s.dir, step, SyslogName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("open syslog of step %s: %w", step, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("syslog of step %s: %w", step, err)
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	idx := s.indexes[step]
	if idx == nil || idx.indexed > fi.Size() {
		if len(s.indexes) >= maxSyslogIndexes {
			clear(s.indexes)
		}
		idx = &syslogIndex{lines: map[string][]span{}}
		s.indexes[step] = idx
	}
	if err := idx.extend(f); err != nil {
		return nil, time.Time{}, fmt.Errorf("read syslog of step %s: %w", step, err)
	}
	var out []byte
	for _, sp := range idx.lines[attempt] {
		start := len(out)
		out = append(out, make([]byte, sp.n)...)
		if _, err := f.ReadAt(out[start:], sp.off); err != nil {
			return nil, time.Time{}, fmt.Errorf("read syslog of step %s: %w", step, err)
		}
	}
	return out, fi.ModTime(), nil
}

// extend indexes the whole lines f holds past what is indexed (a line
// being written is left for the next time).
func (idx *syslogIndex) extend(f *os.File) error {
	br := bufio.NewReaderSize(io.NewSectionReader(f, idx.indexed, 1<<62), 256<<10)
	off := idx.indexed
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: read the rest of it.
			rest, rerr := br.ReadBytes('\n')
			line, err = append(slices.Clip(line), rest...), rerr
		}
		if err == io.EOF {
			return nil // no line, or one not ended yet
		}
		if err != nil {
			return err
		}
		if id, _, ok := bytes.Cut(line, []byte(" ")); ok {
			p := int64(len(id) + 1)
			idx.lines[string(id)] = append(idx.lines[string(id)], span{off: off + p, n: int64(len(line)) - p})
		}
		off += int64(len(line))
		idx.indexed = off
	}
}

// stepIDs returns the ids of the steps whose logs are kept, oldest first
// (tests use it).
func (s *logStore) stepIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.steps))
	for id := range s.steps {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(s.steps[a].last.Compare(s.steps[b].last), cmp.Compare(a, b))
	})
	return ids
}

// teeHandler sends each record to two handlers, each at its own level.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if t.a.Enabled(ctx, r.Level) {
		errs = append(errs, t.a.Handle(ctx, r.Clone()))
	}
	if t.b.Enabled(ctx, r.Level) {
		errs = append(errs, t.b.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t.a.WithGroup(name), t.b.WithGroup(name)}
}

// startAttemptLog opens a's logs, sets a.log and a.logDir, and logs the
// attempt's start with its task and input.
func (w *Worker) startAttemptLog(a *attempt) *attemptLog {
	l := w.logs.open(a.spec, w.log)
	a.log, a.logDir = l.logger, l.dir
	spec := a.spec
	args := []any{"step", spec.StepId, "job", spec.Spec.GetJob(), "worker", w.cfg.ID}
	switch spec.Kind {
	case pb.TaskKind_MAP:
		args = append(args, "task", fmt.Sprintf("m:%d", spec.TaskIndex))
		if sp := spec.Split; sp != nil {
			args = append(args, "split", fmt.Sprintf("%s:%d+%d", sp.File, sp.Offset, sp.Length))
			if n := len(sp.More); n > 0 {
				args = append(args, "more_files", n)
			}
		}
	case pb.TaskKind_REDUCE:
		args = append(args, "task", fmt.Sprintf("r:%d", spec.TaskIndex), "maps", len(spec.MapOutputs))
	}
	a.log.Info("attempt started", args...)
	return l
}

// logInputRead logs, in the attempt's log, what its task read and wrote.
func logInputRead(a *attempt, c *mapreduce.Counters) {
	if a.spec.Kind == pb.TaskKind_REDUCE {
		a.log.Info("input read", "records", c.Get(mapreduce.ReduceInputRecords), "groups", c.Get(mapreduce.ReduceInputGroups),
			"shuffle_bytes", c.Get(mapreduce.ReduceShuffleBytes), "output_records", c.Get(mapreduce.ReduceOutputRecords))
		return
	}
	a.log.Info("input read", "records", c.Get(mapreduce.MapInputRecords), "bytes", c.Get(mapreduce.MapInputBytes),
		"output_records", c.Get(mapreduce.MapOutputRecords), "rejected", c.Get(mapreduce.RejectedRecords))
}
