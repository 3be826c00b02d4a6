package worker

import (
	"context"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pollLoop asks the leader for work whenever a slot is free. (A slot
// whose attempt ends is handed back with the attempt's report, and
// usually gets its next attempt in the answer: see slotsHandedBack.)
func (w *Worker) pollLoop() {
	backoff := 100 * time.Millisecond
	for w.ctx.Err() == nil {
		w.mu.Lock()
		free, tiny, inc := w.free, w.tinyFree, w.incarnation
		w.mu.Unlock()
		// Only a free slot makes a poll: a poll waits at the leader until
		// it has work for the slots it names, and one made for tiny slots
		// alone would keep a slot that frees meanwhile from a reduce.
		// Tiny slots are asked for along, and refilled by reports.
		if free <= 0 {
			select {
			case <-w.ctx.Done():
				return
			case <-w.slotFreed:
			}
			continue
		}
		resp, err := w.client.PollTasks(w.ctx, &pb.PollTasksRequest{WorkerId: w.cfg.ID, Incarnation: inc, FreeSlots: int32(max(free, 0)), TinySlots: int32(max(tiny, 0))})
		if err != nil {
			if w.ctx.Err() != nil {
				return
			}
			if status.Code(err) == codes.Aborted {
				w.reincarnate()
				continue
			}
			w.log.Debug("poll tasks", "err", err)
			sleep(w.ctx, backoff)
			backoff = min(2*backoff, 500*time.Millisecond)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, as := range resp.Assignments {
			w.launch(as, inc, anySlot)
		}
	}
}

// slotsHandedBack returns the slots an ending attempt hands back with its
// report, for the leader to start attempts in: its own, a slot or a tiny
// slot, unless it lent it (lendSlot) or belongs to an old incarnation.
// The slot is counted free only when the attempt's goroutine ends, so
// that the poll loop never asks for it meanwhile; an attempt launchAll
// starts in it is counted against the slots at once, and the two even
// out when the ending attempt's goroutine returns its slot.
func (w *Worker) slotsHandedBack(a *attempt) (free, tiny int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case a.lent || a.incarnation != w.incarnation:
		return 0, 0
	case a.tiny:
		return 0, 1
	}
	return 1, 0
}

// slotKind says which slot an attempt is counted against.
type slotKind int

const (
	anySlot     slotKind = iota // a tiny slot for a tiny task while one is free, else a slot
	regularSlot                 // a slot
	tinySlot                    // a tiny slot
)

// isTiny reports whether an assignment is of a tiny map task, which may
// run in a tiny slot beside the slots.
func isTiny(spec *pb.Assignment) bool {
	if spec.Kind != pb.TaskKind_MAP || spec.GetSplit() == nil {
		return false
	}
	s := spec.GetSplit().Engine()
	return s.Tiny()
}

// launchAll starts attempts the leader gave the slots ended handed back:
// the first that fits the ended attempt's slot takes it.
func (w *Worker) launchAll(specs []*pb.Assignment, inc int64, ended *attempt) {
	reuse := true
	for _, spec := range specs {
		kind := anySlot
		switch {
		case reuse && !ended.tiny:
			kind, reuse = regularSlot, false
		case reuse && isTiny(spec):
			kind, reuse = tinySlot, false
		}
		w.launch(spec, inc, kind)
	}
}

// launch starts an attempt in a slot of the given kind.
func (w *Worker) launch(spec *pb.Assignment, inc int64, kind slotKind) {
	w.raiseMemoryLimit(spec)
	ctx, cancel := context.WithCancel(w.ctx)
	a := &attempt{spec: spec, incarnation: inc, cancel: cancel}
	w.mu.Lock()
	if inc != w.incarnation {
		w.mu.Unlock()
		cancel()
		return
	}
	w.running[spec.AttemptId] = a
	a.tiny = kind == tinySlot || kind == anySlot && w.tinyFree > 0 && isTiny(spec)
	if a.tiny {
		w.tinyFree--
	} else {
		w.free--
	}
	w.mu.Unlock()
	w.log.Debug("attempt started", "attempt", spec.AttemptId)
	w.audit("start", spec.AttemptId, "")
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cancel()
		w.runAttempt(ctx, a) // attempt.go
		w.mu.Lock()
		delete(w.running, spec.AttemptId)
		if a.lent {
			a.lent = false
			w.free--
		}
		if a.tiny {
			w.tinyFree++
		} else {
			w.free++
		}
		w.mu.Unlock()
		select {
		case w.slotFreed <- struct{}{}:
		default:
		}
	}()
}

// lendSlot frees the slot of a reduce attempt that waits for a lost map
// output to be made again: without it, reducers waiting for maps could
// hold every slot while the maps they wait for find none.
func (w *Worker) lendSlot(a *attempt) {
	w.mu.Lock()
	lent := !a.lent
	if lent {
		a.lent = true
		w.free++
	}
	w.mu.Unlock()
	if lent {
		select {
		case w.slotFreed <- struct{}{}:
		default:
		}
	}
}

// reclaimSlot takes back a slot lendSlot lent.
func (w *Worker) reclaimSlot(a *attempt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a.lent {
		a.lent = false
		w.free--
	}
}
