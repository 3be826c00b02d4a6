package clustertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomr/gomr/primary"
	"github.com/gomr/gomr/worker"
)

// Process is a gomr process a test started, its output in a log file that
// is printed if the test fails.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	// Log is the file its stdout and stderr go to.
	Log    string
	exited chan struct{}
	err    error
}

// StartProcess starts `bin args...` with env added to the test's
// environment, its output in logPath ("" for a file in a temporary
// folder). At cleanup it is killed if still running, and its log printed if
// the test failed. It may be called from any goroutine while the test runs.
func StartProcess(t testing.TB, bin, name, logPath string, env []string, args ...string) (*Process, error) {
	if logPath == "" {
		logPath = filepath.Join(t.TempDir(), name+".log")
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, Log: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() || showLogs {
			t.Logf("---- log of %s (%s) ----\n%s", name, strings.Join(args[:min(1, len(args))], " "), p.LogTail(60))
		}
	})
	return p, nil
}

// MustStartProcess is StartProcess failing the test on an error.
func MustStartProcess(t testing.TB, bin, name string, env []string, args ...string) *Process {
	t.Helper()
	p, err := StartProcess(t, bin, name, "", env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Err is how the process exited (once Exited is closed).
func (p *Process) Err() error { <-p.exited; return p.err }

// Kill ends the process with SIGKILL and waits until it has exited.
func (p *Process) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Signal sends the process a signal (SIGSTOP, SIGCONT...).
func (p *Process) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// stopPatience is how long a process may take to exit after SIGTERM.
const stopPatience = 15 * time.Second

// Stop sends SIGTERM and expects a clean exit.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.Name, p.err)
		}
	case <-time.After(stopPatience):
		t.Errorf("%s did not stop within %s of SIGTERM", p.Name, stopPatience)
		p.Kill()
	}
}

// LogTail returns the last n lines of the process's log.
func (p *Process) LogTail(n int) string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lastLines(lines, n)
}

// addressPatience bounds how long a node may take to write its addresses
// file once started.
const addressPatience = 60 * time.Second

// errExited is returned by waitAddresses when the process ended first.
var errExited = errors.New("exited before it wrote its addresses")

// waitAddresses waits until the process has written its addresses file
// (a JSON object) into v. It fails if the process exits first.
func waitAddresses(p *Process, file string, v any) error {
	deadline := time.Now().Add(addressPatience)
	for {
		b, err := os.ReadFile(file)
		if err == nil {
			if err := json.Unmarshal(b, v); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("%s %w (%v); its log ends:\n%s", p.Name, errExited, p.Err(), p.LogTail(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s wrote no %s in %s", p.Name, file, addressPatience)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PrimaryAddresses waits until a primary process started with the data
// folder dir has written its addresses, and returns them.
func PrimaryAddresses(t testing.TB, p *Process, dir string) primary.Addresses {
	t.Helper()
	var a primary.Addresses
	if err := waitAddresses(p, filepath.Join(dir, primary.AddressesFile), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// WorkerAddresses waits until a worker process started with the data
// folder dir has written its addresses, and returns them.
func WorkerAddresses(t testing.TB, p *Process, dir string) worker.Addresses {
	t.Helper()
	var a worker.Addresses
	if err := waitAddresses(p, filepath.Join(dir, worker.AddressesFile), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// addrInUse reports whether a process that exited failed to bind an
// address that was in use.
func addrInUse(p *Process) bool {
	return strings.Contains(p.LogTail(40), "address already in use")
}
