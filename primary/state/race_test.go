//go:build race

package state

// raceEnabled reports whether the race detector is on: the largest tests
// then run smaller.
const raceEnabled = true
