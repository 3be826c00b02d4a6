// Package faults holds named fault points: places at commit-critical
// moments where a test can make a gomr process pause or exit, to prove
// that the cluster survives it. Nothing happens at a point unless it is
// armed, through the GOMR_FAULTS environment variable of a process or Arm
// in a test:
//
//	GOMR_FAULTS="commit-midway=sleep:3s;map-record=exit@0.001"
//
// Each entry is POINT=ACTION[@PROBABILITY][:DURATION]. ACTION is sleep
// (wait DURATION), exit (end the process at once with status 17, as a
// crash would), stall (sleep DURATION; used with a probability) or fail
// (the operation at the point returns an error; with a DURATION, only for
// that long after the point is first reached). A point may be given
// several entries; each fires on its own.
// Random choices come from GOMR_FAULT_SEED (a number), so a run can be
// repeated; the seed in use is logged when faults are armed.
//
// The points are:
//
//	leader-barrier  leader, its Raft barrier on gaining leadership (fail)
//	commit-midway   leader, after committing half of a step's tasks
//	map-record      worker, before each record a map attempt maps
//	reduce-key      worker, before each key a reduce attempt reduces
//	reduce-end      worker, after a reduce attempt wrote its part file and
//	                before it reports
//	shuffle-send    worker, before it serves a map output to a reducer
package faults

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ExitCode is the status a process exits with at an "exit" fault.
const ExitCode = 17

type action struct {
	kind string // sleep, exit, stall, fail
	prob float64
	dur  time.Duration
	// until is when a fail action with a duration stops firing (set when
	// its point is first reached).
	until time.Time
}

type registry struct {
	mu     sync.Mutex
	points map[string][]action
	rng    *rand.Rand
}

var (
	reg     registry
	envOnce sync.Once
	// any is set while some point is armed, so that Hit costs one atomic
	// load on hot paths when nothing is.
	any atomic.Bool
)

func load() {
	envOnce.Do(func() {
		spec := os.Getenv("GOMR_FAULTS")
		if spec == "" {
			return
		}
		seed := uint64(time.Now().UnixNano())
		if s := os.Getenv("GOMR_FAULT_SEED"); s != "" {
			if n, err := strconv.ParseUint(s, 10, 64); err == nil {
				seed = n
			}
		}
		if err := arm(spec, seed); err != nil {
			slog.Error("GOMR_FAULTS ignored", "err", err)
			return
		}
		slog.Warn("fault points armed", "faults", spec, "seed", seed)
	})
}

// Arm arms fault points from a spec in GOMR_FAULTS's syntax, replacing
// those armed before; "" disarms all.
func Arm(spec string, seed uint64) error {
	load()
	return arm(spec, seed)
}

func arm(spec string, seed uint64) error {
	points := map[string][]action{}
	for entry := range strings.SplitSeq(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, act, ok := strings.Cut(entry, "=")
		if !ok {
			return fmt.Errorf("fault %q: want POINT=ACTION", entry)
		}
		a := action{prob: 1}
		act, durStr, hasDur := strings.Cut(act, ":")
		kind, probStr, hasProb := strings.Cut(act, "@")
		a.kind = kind
		if hasProb {
			p, err := strconv.ParseFloat(probStr, 64)
			if err != nil || p < 0 || p > 1 {
				return fmt.Errorf("fault %q: bad probability %q", entry, probStr)
			}
			a.prob = p
		}
		if hasDur {
			d, err := time.ParseDuration(durStr)
			if err != nil {
				return fmt.Errorf("fault %q: bad duration %q", entry, durStr)
			}
			a.dur = d
		}
		switch a.kind {
		case "exit", "fail":
		case "sleep", "stall":
			if a.dur <= 0 {
				return fmt.Errorf("fault %q: %s needs a duration", entry, a.kind)
			}
		default:
			return fmt.Errorf("fault %q: unknown action %q (sleep, exit, stall or fail)", entry, a.kind)
		}
		name = strings.TrimSpace(name)
		points[name] = append(points[name], a)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.points = points
	reg.rng = rand.New(rand.NewPCG(seed, 0x6661756c74))
	any.Store(len(points) > 0)
	return nil
}

// Hit runs the faults armed at point, if any.
func Hit(point string) {
	load()
	if !any.Load() {
		return
	}
	for _, a := range fired(point) {
		switch a.kind {
		case "exit":
			slog.Warn("fault point: exiting", "point", point)
			os.Exit(ExitCode)
		case "sleep", "stall":
			slog.Warn("fault point: pausing", "point", point, "for", a.dur)
			time.Sleep(a.dur)
		}
	}
}

// fired returns the actions of a point that fire at this hit.
func fired(point string) []action {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	var fire []action
	for i := range reg.points[point] {
		a := &reg.points[point][i]
		if a.kind == "fail" && a.dur > 0 {
			if a.until.IsZero() {
				a.until = time.Now().Add(a.dur)
			}
			if time.Now().After(a.until) {
				continue
			}
		}
		if a.prob >= 1 || reg.rng.Float64() < a.prob {
			fire = append(fire, *a)
		}
	}
	return fire
}

// Err returns an error if a fail action armed at point fires, else nil.
func Err(point string) error {
	load()
	if !any.Load() {
		return nil
	}
	for _, a := range fired(point) {
		if a.kind == "fail" {
			slog.Warn("fault point: failing", "point", point)
			return fmt.Errorf("fault point %s: injected failure", point)
		}
	}
	return nil
}

// Armed reports whether any fault point is armed.
func Armed() bool {
	load()
	return any.Load()
}
