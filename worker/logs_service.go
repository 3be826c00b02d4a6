package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// logChunk is the size of the chunks a log is streamed in.
const logChunk = 64 << 10

// stderrFiles are the files the stderr stream is made of, in order: what
// a job writes itself, then its streaming commands'.
var stderrFiles = []string{StderrName, "mapper.stderr", "combiner.stderr", "reducer.stderr"}

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

// folder returns an attempt's log folder, which must exist.
func (s *logsServer) folder(step, attempt string) (string, error) {
	dir, err := s.w.logs.attemptDir(step, attempt)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("worker %s has no logs of attempt %s of step %s (it did not run here, or its logs were removed by the log retention): %w",
			s.w.cfg.ID, attempt, step, fs.ErrNotExist)
	}
	return dir, nil
}

func (s *logsServer) ListLogs(_ context.Context, req *workerpb.ListLogsRequest) (*workerpb.ListLogsResponse, error) {
	dir, err := s.folder(req.StepId, req.AttemptId)
	if err != nil {
		return nil, logsError(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, logsError(fmt.Errorf("read logs of attempt %s: %w", req.AttemptId, err))
	}
	abs, _ := filepath.Abs(dir)
	resp := &workerpb.ListLogsResponse{WorkerId: s.w.cfg.ID, Dir: abs}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		resp.Files = append(resp.Files, &workerpb.LogFile{Name: e.Name(), Size: info.Size(), ModifiedUnixNano: info.ModTime().UnixNano()})
	}
	s.w.mu.Lock()
	_, resp.Running = s.w.running[req.AttemptId]
	s.w.mu.Unlock()
	return resp, nil
}

func (s *logsServer) ReadLog(req *workerpb.ReadLogRequest, stream grpc.ServerStreamingServer[workerpb.LogChunk]) error {
	dir, err := s.folder(req.StepId, req.AttemptId)
	if err != nil {
		return logsError(err)
	}
	if req.Limit < 0 {
		return status.Errorf(codes.InvalidArgument, "limit %d is negative", req.Limit)
	}
	r, err := openStream(dir, req.Stream)
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

// logStream is a log stream of an attempt: one file, or the stderr files
// one after the other, as they were when it was opened.
type logStream struct {
	files []*os.File
	sizes []int64
}

// openStream opens a stream of the log folder dir: syslog, stderr (every
// stderr file), or one file by name.
func openStream(dir, name string) (*logStream, error) {
	names := []string{name}
	switch {
	case name == "":
		return nil, fmt.Errorf("no log stream named (want %s, %s or a file of the attempt's log folder): %w", SyslogName, StderrName, errBadLogName)
	case !logFileName.MatchString(name) || strings.Contains(name, ".."):
		return nil, fmt.Errorf("log stream %q: %w", name, errBadLogName)
	case name == StderrName:
		names = stderrFiles
	}
	ls := &logStream{}
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
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
	for i, f := range ls.files {
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
