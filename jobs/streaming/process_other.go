//go:build !unix

package streaming

import (
	"errors"
	"os"
	"os/exec"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

type process struct {
	cmd                   *exec.Cmd
	stdin, stdout, stderr *os.File
	exited, reaped        chan struct{}
	state                 *os.ProcessState
}

func startProcess(string, []string, string, []string, *mapreduce.RunAs) (*process, error) {
	return nil, errors.New("streaming commands need a Unix system")
}

func (p *process) stop(time.Duration)                      {}
func (p *process) closeFiles()                             {}
func (p *process) exitError() (status string, failed bool) { return "did not start", true }
