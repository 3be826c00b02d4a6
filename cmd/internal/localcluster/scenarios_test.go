package localcluster_test

import (
	"testing"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
)

// The harness's scenarios, in-process; cmd/gomr's tests run the same ones
// on clusters of gomr processes. They arm fault points in this process, so
// no test of this package may run in parallel (t.Parallel).

// inProcess runs a scenario on in-process clusters, as the subtest
// "in-process".
func inProcess(t *testing.T, scenario func(*testing.T, ct.Runner)) {
	t.Run(ct.InProcess{}.Name(), func(t *testing.T) { scenario(t, ct.InProcess{}) })
}

// TestLeaderKilledMidStep crashes the leader during the map phase, during
// the reduce phase, and in the middle of committing the output.
func TestLeaderKilledMidStep(t *testing.T) {
	in := ct.BigInput(t, 2, 3<<20, 4)
	inProcess(t, func(t *testing.T, r ct.Runner) { ct.LeaderKilledMidStep(t, r, in) })
}

// TestWorkerKilled crashes a worker in the middle of the map phase, of the
// shuffle, and of the reduce phase.
func TestWorkerKilled(t *testing.T) {
	in := ct.BigInput(t, 2, 1<<20, 3)
	inProcess(t, func(t *testing.T, r ct.Runner) { ct.WorkerKilled(t, r, in) })
}

// TestEveryTaskRunsOnce runs a plain word count: output byte for byte the
// sequential reference's, every task run once by the attempt log.
func TestEveryTaskRunsOnce(t *testing.T) {
	in := ct.BigInput(t, 3, 1<<20, 4)
	inProcess(t, func(t *testing.T, r ct.Runner) { ct.EveryTaskRunsOnce(t, r, in) })
}
