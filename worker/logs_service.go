package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// logChunk is the size of the chunks a log is streamed in.
const logChunk = 64 << 10

// stderrFiles are the files the stderr stream is made of, in order: its
// streaming commands'.
var stderrFiles = []string{"mapper.stderr", "combiner.stderr", "reducer.stderr"}

// logFileName is what a file of an attempt's log folder is called.
var logFileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// logsServer serves the attempts' logs a worker keeps.
type logsServer struct {
	workerpb.UnimplementedLogsServer
	w *Worker
}

// logsError translates the log store's errors to gRPC status codes.
func logsError(err error) error {
	switch {
	case errors.Is(err, errBadLogName):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, fs.ErrNotExist):
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// attemptLogs is what a worker keeps of one attempt's logs.
type attemptLogs struct {
	// dir is the attempt's log folder (which may not exist).
	dir string
	// syslog is the attempt's lines of its step's syslog, without their
	// prefix, and syslogTime when the step's syslog was last written.
	syslog     []byte
	syslogTime time.Time
	// files are the files of dir.
	files []fs.FileInfo
}

// attemptLogs finds an attempt's logs: an error wrapping fs.ErrNotExist
// if the worker keeps none.
func (s *logsServer) attemptLogs(step, attempt string) (*attemptLogs, error) {
	dir, err := s.w.logs.attemptDir(step, attempt)
	if err != nil {
		return nil, err
	}
	al := &attemptLogs{dir: dir}
	if al.syslog, al.syslogTime, err = s.w.logs.syslogOf(step, attempt); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				al.files = append(al.files, info)
			}
		}
	}
	s.w.mu.Lock()
	_, running := s.w.running[attempt]
	s.w.mu.Unlock()
	if len(al.syslog) == 0 && len(al.files) == 0 && !running {
		return nil, fmt.Errorf("worker %s has no logs of attempt %s of step %s (it did not run here, or its logs were removed by the log retention): %w",
			s.w.cfg.ID, attempt, step, fs.ErrNotExist)
	}
	return al, nil
}

func (s *logsServer) ListLogs(_ context.Context, req *workerpb.ListLogsRequest) (*workerpb.ListLogsResponse, error) {
	al, err := s.attemptLogs(req.StepId, req.AttemptId)
	if err != nil {
		return nil, logsError(err)
	}
	abs, _ := filepath.Abs(al.dir)
	resp := &workerpb.ListLogsResponse{WorkerId: s.w.cfg.ID, Dir: abs}
	resp.Files = append(resp.Files, &workerpb.LogFile{Name: SyslogName, Size: int64(len(al.syslog)), ModifiedUnixNano: al.syslogTime.UnixNano()})
	for _, info := range al.files {
		resp.Files = append(resp.Files, &workerpb.LogFile{Name: info.Name(), Size: info.Size(), ModifiedUnixNano: info.ModTime().UnixNano()})
	}
	slices.SortFunc(resp.Files, func(a, b *workerpb.LogFile) int { return strings.Compare(a.Name, b.Name) })
	s.w.mu.Lock()
	_, resp.Running = s.w.running[req.AttemptId]
	s.w.mu.Unlock()
	return resp, nil
}

func (s *logsServer) ReadLog(req *workerpb.ReadLogRequest, stream grpc.ServerStreamingServer[workerpb.LogChunk]) error {
	al, err := s.attemptLogs(req.StepId, req.AttemptId)
	if err != nil {
		return logsError(err)
	}
	if req.Limit < 0 {
		return status.Errorf(codes.InvalidArgument, "limit %d is negative", req.Limit)
	}
	r, err := openStream(al, req.Stream)
	if err != nil {
		return logsError(fmt.Errorf("attempt %s: %w", req.AttemptId, err))
	}
	defer r.Close()
	size := r.size()
	off := req.Offset
	if off < 0 {
		off = max(0, size+off)
	}
	off = min(off, size)
	end := size
	if req.Limit > 0 {
		end = min(size, off+req.Limit)
	}
	sr := io.NewSectionReader(r, off, end-off)
	buf := make([]byte, logChunk)
	first := true
	pos := off
	for {
		n, err := io.ReadFull(sr, buf)
		if n > 0 || first {
			chunk := &workerpb.LogChunk{Offset: pos, Data: buf[:n]}
			if first {
				chunk.Size, first = size, false
			}
			if serr := stream.Send(chunk); serr != nil {
				return serr
			}
			pos += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "read %s of attempt %s: %v", req.Stream, req.AttemptId, err)
		}
	}
}

// logStream is a log stream of an attempt: its syslog lines, one file,
// or the stderr files one after the other, as they were when it was
// opened.
type logStream struct {
	parts []io.ReaderAt
	sizes []int64
	files []*os.File
}

// openStream opens a stream of an attempt's logs: syslog, stderr (every
// stderr file), or one file of its log folder by name.
func openStream(al *attemptLogs, name string) (*logStream, error) {
	names := []string{name}
	switch {
	case name == "":
		return nil, fmt.Errorf("no log stream named (want %s, %s or a file of the attempt's log folder): %w", SyslogName, StderrName, errBadLogName)
	case !logFileName.MatchString(name) || strings.Contains(name, ".."):
		return nil, fmt.Errorf("log stream %q: %w", name, errBadLogName)
	case name == SyslogName:
		return &logStream{parts: []io.ReaderAt{bytes.NewReader(al.syslog)}, sizes: []int64{int64(len(al.syslog))}}, nil
	case name == StderrName:
		names = stderrFiles
	}
	ls := &logStream{}
	for _, n := range names {
		f, err := os.Open(filepath.Join(al.dir, n))
		if errors.Is(err, fs.ErrNotExist) && name == StderrName {
			continue // a command that wrote nothing to stderr
		}
		if err != nil {
			ls.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no log stream %q (want %s, %s or a file of the attempt's log folder): %w", name, SyslogName, StderrName, fs.ErrNotExist)
			}
			return nil, fmt.Errorf("open log %s: %w", n, err)
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			ls.Close()
			return nil, fmt.Errorf("log %s is not a regular file: %w", n, errBadLogName)
		}
		ls.files = append(ls.files, f)
		ls.parts = append(ls.parts, f)
		ls.sizes = append(ls.sizes, fi.Size())
	}
	return ls, nil
}

func (ls *logStream) size() int64 {
	var n int64
	for _, s := range ls.sizes {
		n += s
	}
	return n
}

// ReadAt reads the stream's bytes at off, crossing from file to file.
func (ls *logStream) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for i, f := range ls.parts {
		if len(p) == 0 {
			break
		}
		if off >= ls.sizes[i] {
			off -= ls.sizes[i]
			continue
		}
		want := min(int64(len(p)), ls.sizes[i]-off)
		m, err := f.ReadAt(p[:want], off)
		n += m
		p = p[m:]
		if err != nil && err != io.EOF {
			return n, err
		}
		if int64(m) < want { // the file shrank: end here
			return n, io.EOF
		}
		off = 0
	}
	if len(p) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// Close closes the stream's files.
func (ls *logStream) Close() error {
	for _, f := range ls.files {
		f.Close()
	}
	return nil
}
