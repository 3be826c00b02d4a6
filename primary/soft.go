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
	progress map[string]attemptProgress
	// poke wakes the liveness loop when gossip membership changes.
	poke chan struct{}
}

func newSoftState() *softState {
	return &softState{
		lastSeen: make(map[string]time.Time),
		progress: make(map[string]attemptProgress),
		poke:     make(chan struct{}, 1),
	}
}

// reset forgets everything; every worker gets a fresh grace period.
func (ss *softState) reset(workers []string, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.lastSeen = make(map[string]time.Time)
	ss.progress = make(map[string]attemptProgress)
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

// attemptProgress is what heartbeats said of a running attempt.
type attemptProgress struct {
	fraction float64
	status   string
	ticks    int64
	// changed is when ticks last grew (or when the attempt was first seen).
	changed time.Time
}

// setProgress records a heartbeat's report of an attempt.
func (ss *softState) setProgress(attempt string, fraction float64, status string, ticks int64, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	p, ok := ss.progress[attempt]
	if !ok || ticks > p.ticks {
		p.changed = now
	}
	p.fraction, p.ticks, p.status = fraction, max(ticks, p.ticks), status
	ss.progress[attempt] = p
}

func (ss *softState) attemptProgress(attempt string) float64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.progress[attempt].fraction
}

// attemptStatus returns a running attempt's last status line.
func (ss *softState) attemptStatus(attempt string) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.progress[attempt].status
}

// stalledSince returns when an attempt last made progress; an attempt not
// heard of yet starts its clock now.
func (ss *softState) stalledSince(attempt string, now time.Time) time.Time {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	p, ok := ss.progress[attempt]
	if !ok {
		p.changed = now
		ss.progress[attempt] = p
	}
	return p.changed
}

// forget drops attempts that no longer run.
func (ss *softState) forget(keep func(attempt string) bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id := range ss.progress {
		if !keep(id) {
			delete(ss.progress, id)
		}
	}
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
