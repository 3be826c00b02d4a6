package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func assignment(step, attempt string) *pb.Assignment {
	return &pb.Assignment{StepId: step, AttemptId: attempt, Kind: pb.TaskKind_MAP, Split: &pb.Split{File: "/in/a.txt", Offset: 0, Length: 100}}
}

// writeAttempt opens an attempt's logs, writes n bytes of stderr and
// closes them.
func writeAttempt(t *testing.T, s *logStore, step, attempt string, n int) {
	t.Helper()
	l := s.open(assignment(step, attempt), slog.New(slog.DiscardHandler))
	if l.dir == "" {
		t.Fatalf("no log folder for %s", attempt)
	}
	os.MkdirAll(l.dir, 0o755) // as a streaming command's stderr does
	if err := os.WriteFile(filepath.Join(l.dir, "mapper.stderr"), bytes.Repeat([]byte("x"), n), 0o644); err != nil {
		t.Fatal(err)
	}
	l.close()
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// TestLogRetention: the logs are bounded; the steps written longest ago
// go first, a step with an attempt still writing stays, and a new store
// counts what an earlier run left.
func TestLogRetention(t *testing.T) {
	dir := t.TempDir()
	s, err := openLogStore(dir, 10_000, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// A step with an attempt running while the others come and go.
	running := s.open(assignment("s-RUNNING", "attempt_s-RUNNING_m_000000_0"), slog.New(slog.DiscardHandler))
	os.MkdirAll(running.dir, 0o755)
	os.WriteFile(filepath.Join(running.dir, "mapper.stderr"), bytes.Repeat([]byte("r"), 6_000), 0o644)
	for _, step := range []string{"s-A", "s-B", "s-C"} {
		writeAttempt(t, s, step, "attempt_"+step+"_m_000000_0", 3_000)
	}
	if got := s.stepIDs(); !slices.Equal(got, []string{"s-RUNNING", "s-A", "s-B", "s-C"}) {
		t.Fatalf("steps kept %v, want all four (the running step is not counted yet)", got)
	}
	// The fourth finished step goes over: s-A goes.
	writeAttempt(t, s, "s-D", "attempt_s-D_m_000000_0", 3_000)
	if got := s.stepIDs(); !slices.Equal(got, []string{"s-RUNNING", "s-B", "s-C", "s-D"}) {
		t.Fatalf("steps kept %v, want s-A removed, not the older but running s-RUNNING", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "s-A")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("s-A's logs are still there: %v", err)
	}
	// The running step ends: it counts now, and the oldest finished steps
	// make room, never the newest.
	running.close()
	if got := s.stepIDs(); !slices.Equal(got, []string{"s-D", "s-RUNNING"}) {
		t.Fatalf("steps kept %v, want s-D and s-RUNNING", got)
	}
	if n := dirSize(t, dir); n > 10_000 {
		t.Fatalf("%d bytes of logs kept, bound 10000", n)
	}

	// A new run of the worker finds them, ordered by their files' times.
	old := time.Now().Add(-time.Hour)
	filepath.Walk(filepath.Join(dir, "s-RUNNING"), func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })
	s2, err := openLogStore(dir, 7_000, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.stepIDs(); !slices.Equal(got, []string{"s-D"}) {
		t.Fatalf("a smaller bound kept %v, want s-D (s-RUNNING is older)", got)
	}
}

// TestAttemptSyslog: the attempt's logger writes to its lines of the
// step's syslog and to the worker's log, each at its own level; an
// attempt that writes no stderr gets no folder.
func TestAttemptSyslog(t *testing.T) {
	s, err := openLogStore(t.TempDir(), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var workerLog bytes.Buffer
	wlog := slog.New(slog.NewTextHandler(&workerLog, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", "core-1")
	w := &Worker{cfg: Config{ID: "core-1"}, log: wlog, logs: s}
	a := &attempt{spec: assignment("s-1", "attempt_s-1_m_000000_0")}
	l := w.startAttemptLog(a)
	a.log.Debug("a detail")
	a.log.Warn("attempt failed", "err", "boom")
	l.close()
	syslog, _, err := s.syslogOf("s-1", "attempt_s-1_m_000000_0")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(s.dir, "s-1", SyslogName))
	if err != nil || !strings.HasPrefix(string(raw), "attempt_s-1_m_000000_0 time=") {
		t.Errorf("the step's syslog does not start with the attempt's id: %q, %v", raw, err)
	}
	for _, want := range []string{`msg="attempt started" attempt=attempt_s-1_m_000000_0 step=s-1`, "task=m:0", "split=/in/a.txt:0+100", `msg="a detail"`, `msg="attempt failed" attempt=attempt_s-1_m_000000_0 err=boom`} {
		if !strings.Contains(string(syslog), want) {
			t.Errorf("syslog lacks %q:\n%s", want, syslog)
		}
	}
	if strings.Contains(string(syslog), "node=") {
		t.Errorf("syslog repeats the worker's attributes:\n%s", syslog)
	}
	if !strings.Contains(workerLog.String(), `msg="attempt failed" node=core-1 attempt=attempt_s-1_m_000000_0 err=boom`) || strings.Contains(workerLog.String(), "a detail") {
		t.Errorf("worker log:\n%s", workerLog.String())
	}
	if _, err := os.Stat(l.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an attempt without stderr has a log folder: %v", err)
	}
	if a.logDir != l.dir || w.taskInfo(a, t.TempDir()).LogDir != l.dir {
		t.Errorf("task info's log folder %q, want %q", w.taskInfo(a, t.TempDir()).LogDir, l.dir)
	}
}

// logsClient serves a log store's Logs service on loopback.
func logsClient(t *testing.T, s *logStore) workerpb.LogsClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	w := &Worker{cfg: Config{ID: "core-1"}, logs: s, running: map[string]*attempt{}}
	workerpb.RegisterLogsServer(srv, &logsServer{w: w})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return workerpb.NewLogsClient(cc)
}

func readLog(c workerpb.LogsClient, req *workerpb.ReadLogRequest) (string, int64, error) {
	s, err := c.ReadLog(context.Background(), req)
	if err != nil {
		return "", 0, err
	}
	var b strings.Builder
	size := int64(-1)
	for {
		chunk, err := s.Recv()
		if err == io.EOF {
			return b.String(), size, nil
		}
		if err != nil {
			return b.String(), size, err
		}
		if size < 0 {
			size = chunk.Size
		}
		b.Write(chunk.Data)
	}
}

// TestLogsService: the streams read whole and in ranges, stderr made of
// the stderr files in order; names that are not plain names are refused,
// unknown attempts are not found.
func TestLogsService(t *testing.T) {
	dir := t.TempDir()
	s, err := openLogStore(filepath.Join(dir, "logs"), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const step, id = "s-1", "attempt_s-1_m_000000_0"
	l := s.open(assignment(step, id), slog.New(slog.DiscardHandler))
	l.logger.Info("hello")
	l.close()
	os.MkdirAll(l.dir, 0o755)
	os.WriteFile(filepath.Join(l.dir, "mapper.stderr"), []byte("mapper 1\nmapper 2\n"), 0o644)
	os.WriteFile(filepath.Join(l.dir, "combiner.stderr"), []byte("combiner 1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret"), []byte("not a log"), 0o644)
	c := logsClient(t, s)

	for _, tc := range []struct {
		stream        string
		offset, limit int64
		want          string
	}{
		{"stderr", 0, 0, "mapper 1\nmapper 2\ncombiner 1\n"},
		{"mapper.stderr", 0, 0, "mapper 1\nmapper 2\n"},
		{"stderr", 9, 12, "mapper 2\ncom"},
		{"stderr", -11, 0, "combiner 1\n"},
		{"stderr", 1000, 0, ""},
		{"stderr", -1000, 5, "mappe"},
	} {
		got, size, err := readLog(c, &workerpb.ReadLogRequest{StepId: step, AttemptId: id, Stream: tc.stream, Offset: tc.offset, Limit: tc.limit})
		if err != nil || got != tc.want || size != 29 && tc.stream == "stderr" {
			t.Errorf("%s at %d+%d: %q (size %d), %v; want %q", tc.stream, tc.offset, tc.limit, got, size, err, tc.want)
		}
	}
	syslog, _, err := readLog(c, &workerpb.ReadLogRequest{StepId: step, AttemptId: id, Stream: "syslog"})
	if err != nil || !strings.Contains(syslog, "msg=hello attempt="+id) {
		t.Errorf("syslog %q, %v", syslog, err)
	}
	list, err := c.ListLogs(context.Background(), &workerpb.ListLogsRequest{StepId: step, AttemptId: id})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range list.Files {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, []string{"combiner.stderr", "mapper.stderr", "syslog"}) || list.Dir != l.dir || list.WorkerId != "core-1" || list.Running {
		t.Errorf("list: %v", list)
	}

	for _, tc := range []struct {
		step, attempt, stream string
		code                  codes.Code
	}{
		{step, "../../secret", "syslog", codes.InvalidArgument},
		{step, "..", "syslog", codes.InvalidArgument},
		{"..", "logs", "secret", codes.InvalidArgument},
		{"../..", id, "syslog", codes.InvalidArgument},
		{step, id, "../../../secret", codes.InvalidArgument},
		{step, id, "/etc/passwd", codes.InvalidArgument},
		{step, id, "..", codes.InvalidArgument},
		{step, id, "", codes.InvalidArgument},
		{step, "attempt_s-1_m_000009_0", "syslog", codes.NotFound},
		{"s-2", id, "syslog", codes.NotFound},
		{step, id, "stdout", codes.NotFound},
	} {
		got, _, err := readLog(c, &workerpb.ReadLogRequest{StepId: tc.step, AttemptId: tc.attempt, Stream: tc.stream})
		if status.Code(err) != tc.code || got != "" {
			t.Errorf("step %q attempt %q stream %q: %q, %v; want %s", tc.step, tc.attempt, tc.stream, got, err, tc.code)
		}
		if tc.stream == "syslog" {
			if _, err := c.ListLogs(context.Background(), &workerpb.ListLogsRequest{StepId: tc.step, AttemptId: tc.attempt}); status.Code(err) != tc.code {
				t.Errorf("list step %q attempt %q: %v; want %s", tc.step, tc.attempt, err, tc.code)
			}
		}
	}
	_, _, err = readLog(c, &workerpb.ReadLogRequest{StepId: step, AttemptId: "attempt_s-1_m_000009_0", Stream: "syslog"})
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "worker core-1 has no logs of attempt attempt_s-1_m_000009_0") {
		t.Errorf("not found: %q", msg)
	}
}

// TestAttemptsShareTheStepSyslog: attempts of a step running side by
// side write to one syslog; each reads back exactly its own lines, in
// order, and an attempt that never ran here has none.
func TestAttemptsShareTheStepSyslog(t *testing.T) {
	s, err := openLogStore(t.TempDir(), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const step, n = "s-1", 200
	ids := []string{"attempt_s-1_m_000000_0", "attempt_s-1_m_000001_0", "attempt_s-1_m_000010_0"}
	done := make(chan struct{})
	for _, id := range ids {
		go func() {
			defer func() { done <- struct{}{} }()
			l := s.open(assignment(step, id), slog.New(slog.DiscardHandler))
			for i := range n {
				l.logger.Info("line", "i", i, "padding", strings.Repeat("x", i))
			}
			l.close()
		}()
	}
	for range ids {
		<-done
	}
	c := logsClient(t, s)
	for _, id := range ids {
		got, _, err := readLog(c, &workerpb.ReadLogRequest{StepId: step, AttemptId: id, Stream: SyslogName})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if len(lines) != n {
			t.Fatalf("%s: %d lines, want %d", id, len(lines), n)
		}
		for i, line := range lines {
			if !strings.Contains(line, "attempt="+id+" i="+strconv.Itoa(i)+" ") || strings.HasPrefix(line, "attempt_") {
				t.Fatalf("%s line %d: %q", id, i, line)
			}
		}
	}
	_, _, err = readLog(c, &workerpb.ReadLogRequest{StepId: step, AttemptId: "attempt_s-1_m_000002_0", Stream: SyslogName})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("an attempt that did not run here: %v, want NotFound", err)
	}
}

// TestSyslogReadWhileWritten: an attempt's lines read while it still
// writes, then again, hold every line written by then, once.
func TestSyslogReadWhileWritten(t *testing.T) {
	s, err := openLogStore(t.TempDir(), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const step, id = "s-1", "attempt_s-1_m_000000_0"
	l := s.open(assignment(step, id), slog.New(slog.DiscardHandler))
	for round := 1; round <= 3; round++ {
		l.logger.Info("line", "round", round)
		other := s.open(assignment(step, "attempt_s-1_m_000001_0"), slog.New(slog.DiscardHandler))
		other.logger.Info("other")
		other.close()
		got, _, err := s.syslogOf(step, id)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(got), "msg=line"); n != round || strings.Contains(string(got), "other") {
			t.Fatalf("round %d: %q", round, got)
		}
	}
	l.close()
}
