package main

import (
	"testing"

	"github.com/gomr/gomr/cmd/internal/clustertest"
)

// processes runs test clusters of the gomr binary TestMain built.
//
// The scenarios of clustertest (leader killed, worker killed, every task
// run once) run here on processes and in cmd/internal/localcluster's tests
// in-process: two test binaries, which go test runs side by side.
func processes() clustertest.Processes { return clustertest.Processes{Binary: gomrBin} }

// onProcesses runs a scenario on a cluster of processes, as the subtest
// "processes" (the localcluster tests run it as "in-process").
func onProcesses(t *testing.T, scenario func(*testing.T, clustertest.Runner)) {
	t.Run(processes().Name(), func(t *testing.T) { scenario(t, processes()) })
}

// startProcCluster starts a cluster of gomr processes.
func startProcCluster(t *testing.T, o clustertest.Options) *clustertest.ProcessCluster {
	t.Helper()
	return clustertest.StartProcesses(t, gomrBin, o)
}
