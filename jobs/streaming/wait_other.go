//go:build unix && !linux

package streaming

// waitExited cannot wait without reaping here: the leader is reaped as it
// exits (and its group is killed right after).
func waitExited(int) bool { return false }
