package primary

import (
	"sync"
	"time"

	"github.com/gomr/gomr/primary/gossip"
)

// softState is what the leader knows beyond the replicated state: when
// each worker was last heard from and how far running attempts have come.
// A new leader starts it afresh and rebuilds it from heartbeats.
type softState struct {
	mu       sync.Mutex
	lastSeen map[string]time.Time
	progress map[string]float64
	// poke wakes the liveness loop when gossip membership changes.
	poke chan struct{}
}

func newSoftState() *softState {
	return &softState{
		lastSeen: make(map[string]time.Time),
		progress: make(map[string]float64),
		poke:     make(chan struct{}, 1),
	}
}

// reset forgets everything; every worker gets a fresh grace period.
func (ss *softState) reset(workers []string, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.lastSeen = make(map[string]time.Time)
	ss.progress = make(map[string]float64)
	for _, w := range workers {
		ss.lastSeen[w] = now
	}
}

func (ss *softState) seen(worker string, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.lastSeen[worker] = now
}

func (ss *softState) lastHeard(worker string) (time.Time, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	t, ok := ss.lastSeen[worker]
	return t, ok
}

func (ss *softState) setProgress(attempt string, p float64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.progress[attempt] = p
}

func (ss *softState) attemptProgress(attempt string) float64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.progress[attempt]
}

func (ss *softState) wake() {
	select {
	case ss.poke <- struct{}{}:
	default:
	}
}

// Joined implements gossip.Events.
func (ss *softState) Joined(gossip.Member) { ss.wake() }

// Left implements gossip.Events.
func (ss *softState) Left(string, gossip.Meta) { ss.wake() }
