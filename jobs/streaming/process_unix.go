//go:build unix

package streaming

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

// process is a started command, the leader of its own process group, with
// the parent's ends of its three pipes.
type process struct {
	cmd                   *exec.Cmd
	pgid                  int
	stdin, stdout, stderr *os.File

	// exited is closed when the leader has exited. On Linux it is not yet
	// reaped then, so that its pid, the group's id, cannot be reused before
	// the group is killed.
	exited chan struct{}
	// reapOK is closed once the group has been killed: the leader may be
	// reaped.
	reapOK chan struct{}
	// reaped is closed when the leader is reaped; state is set.
	reaped   chan struct{}
	state    *os.ProcessState
	stopOnce sync.Once
}

// startProcess starts path with argv in dir, in a new process group, as
// the account ra when it is set (runas.go).
func startProcess(path string, argv []string, dir string, env []string, ra *mapreduce.RunAs) (*process, error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return
	}
	inR, inW, err := pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := pipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	errR, errW, err := pipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	var cmd *exec.Cmd
	for attempt := 0; ; attempt++ {
		cmd = &exec.Cmd{
			Path: path, Args: argv, Dir: dir, Env: env,
			Stdin: inR, Stdout: outW, Stderr: errW,
			SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Credential: credential(ra)},
		}
		err = cmd.Start()
		// A file just written or copied may still be open in a child that
		// another goroutine forked and that has not yet run exec.
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 5 {
			break
		}
		time.Sleep(time.Duration(10<<attempt) * time.Millisecond)
	}
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, err
	}
	p := &process{
		cmd: cmd, pgid: cmd.Process.Pid, stdin: inW, stdout: outR, stderr: errR,
		exited: make(chan struct{}), reapOK: make(chan struct{}), reaped: make(chan struct{}),
	}
	go p.wait()
	return p, nil
}

func (p *process) wait() {
	if waitExited(p.cmd.Process.Pid) {
		close(p.exited)
		<-p.reapOK
		p.cmd.Wait()
	} else {
		p.cmd.Wait()
		close(p.exited)
		<-p.reapOK
	}
	p.state = p.cmd.ProcessState
	close(p.reaped)
}

// stop ends the process group: SIGTERM, then, once the leader has exited
// or grace has passed, SIGKILL to whatever is left of the group; then it
// waits for the leader to be reaped. Only the first call signals; every
// call waits.
func (p *process) stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		syscall.Kill(-p.pgid, syscall.SIGTERM)
		if grace > 0 {
			t := time.NewTimer(grace)
			select {
			case <-p.exited:
			case <-t.C:
			}
			t.Stop()
		}
		syscall.Kill(-p.pgid, syscall.SIGKILL)
		close(p.reapOK)
	})
	<-p.reaped
}

// closeFiles closes the parent's ends of the pipes, which ends any read or
// write blocked on them.
func (p *process) closeFiles() {
	p.stdin.Close()
	p.stdout.Close()
	p.stderr.Close()
}

// exitError says how the reaped leader ended, and whether that is a
// failure (anything but exit status 0).
func (p *process) exitError() (status string, failed bool) {
	st := p.state
	if st == nil {
		return "did not start", true
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "was killed by signal " + ws.Signal().String(), true
	}
	if st.ExitCode() != 0 {
		return "exited with status " + strconv.Itoa(st.ExitCode()), true
	}
	return "", false
}
