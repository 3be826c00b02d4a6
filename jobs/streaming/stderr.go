package streaming

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomr/gomr/mapreduce"
)

const (
	// stderrTailBytes is how much of a command's last stderr output is
	// kept for its error.
	stderrTailBytes = 64 << 10
	// errorTailLines and errorTailBytes bound the stderr tail quoted in an
	// error.
	errorTailLines = 20
	errorTailBytes = 4 << 10
	// stderrLogBytes bounds a task's stderr log file.
	stderrLogBytes = 16 << 20
)

// stderrSink reads a command's stderr: Hadoop's reporter lines update
// counters and the status line; every other line goes to the tail kept for
// errors, to the stderr log file ROLE.stderr (in the attempt's log folder,
// TaskInfo.LogDir, kept after the task; in the working folder when the
// task has none) and to the debug log.
//
//	reporter:counter:GROUP,NAME,N  adds N to the counter GROUP.NAME
//	reporter:status:MESSAGE        sets the task's status line
type stderrSink struct {
	progress *mapreduce.Progress
	logPath  string
	attempt  string
	role     string

	mu       sync.Mutex
	counters map[string]int64
	dirty    atomic.Bool

	// Owned by run until done is closed.
	tail   []byte
	log    *os.File
	logW   *bufio.Writer
	logged int64
	debug  DebugLogger
	done   chan struct{}
}

func newStderrSink(role, dir string, tc *mapreduce.TaskContext) *stderrSink {
	if tc.Info.LogDir != "" {
		dir = tc.Info.LogDir
	}
	return &stderrSink{
		progress: tc.Progress,
		logPath:  filepath.Join(dir, role+".stderr"),
		attempt:  tc.Info.AttemptID,
		role:     role,
		counters: map[string]int64{},
		debug:    debugLogger(),
		done:     make(chan struct{}),
	}
}

func (s *stderrSink) run(r io.Reader) {
	defer close(s.done)
	defer s.closeLog()
	br := bufio.NewReaderSize(r, 16<<10)
	partial := false // the last chunk did not end a line
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			whole := line[len(line)-1] == '\n'
			if partial || !whole || !s.report(line) {
				s.keep(line, whole)
			}
			partial = !whole
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

var reporterPrefix = []byte("reporter:")

// report handles a reporter line and reports whether it was one.
func (s *stderrSink) report(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, reporterPrefix)
	if !ok {
		return false
	}
	rest = bytes.TrimRight(rest, "\r\n")
	if msg, ok := bytes.CutPrefix(rest, []byte("status:")); ok {
		if s.progress != nil {
			s.progress.SetStatus(string(msg))
		}
		return true
	}
	spec, ok := bytes.CutPrefix(rest, []byte("counter:"))
	if !ok {
		return false
	}
	parts := strings.Split(string(spec), ",")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(parts[2]), 10, 64)
	if err != nil {
		return false
	}
	s.mu.Lock()
	s.counters[parts[0]+"."+parts[1]] += n
	s.dirty.Store(true)
	s.mu.Unlock()
	if s.progress != nil {
		s.progress.Tick()
	}
	return true
}

// mergeInto adds the counters reported so far to c; it is called from the
// task's goroutine.
func (s *stderrSink) mergeInto(c *mapreduce.Counters) {
	if !s.dirty.Load() {
		return
	}
	s.mu.Lock()
	for k, v := range s.counters {
		c.Add(k, v)
	}
	clear(s.counters)
	s.dirty.Store(false)
	s.mu.Unlock()
}

func (s *stderrSink) keep(line []byte, whole bool) {
	if len(s.tail)+len(line) > 2*stderrTailBytes {
		keep := s.tail[max(0, len(s.tail)-stderrTailBytes):]
		s.tail = append(s.tail[:0], keep...)
	}
	s.tail = append(s.tail, line...)
	if s.logged < stderrLogBytes {
		if s.logW == nil {
			var w io.Writer = io.Discard
			os.MkdirAll(filepath.Dir(s.logPath), 0o755)
			if f, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
				s.log, w = f, f
			}
			s.logW = bufio.NewWriterSize(w, 32<<10)
		}
		s.logW.Write(line)
		s.logged += int64(len(line))
		if s.logged >= stderrLogBytes {
			s.logW.WriteString("\n[stderr log truncated]\n")
		}
	}
	if s.debug != nil && whole {
		s.debug.Debug("streaming stderr", "attempt", s.attempt, "command", s.role, "line", string(bytes.TrimRight(line, "\r\n")))
	}
}

func (s *stderrSink) closeLog() {
	if s.logW != nil {
		s.logW.Flush()
	}
	if s.log != nil {
		s.log.Close()
	}
}

// tailText returns the last lines of stderr for an error; call it after
// done is closed.
func (s *stderrSink) tailText() string {
	t := bytes.TrimRight(s.tail, "\r\n")
	if len(t) > errorTailBytes {
		t = t[len(t)-errorTailBytes:]
		if i := bytes.IndexByte(t, '\n'); i >= 0 {
			t = t[i+1:]
		}
	}
	lines := bytes.Split(t, []byte("\n"))
	if len(lines) > errorTailLines {
		lines = lines[len(lines)-errorTailLines:]
	}
	if len(t) == 0 {
		return ""
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\n\t")
		b.Write(bytes.TrimRight(l, "\r"))
	}
	return b.String()
}
