package primary

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// maxStepWait bounds how long a blocking DescribeStep waits, and is its
// wait when the caller names none (Consul's default).
const maxStepWait = 5 * time.Minute

// describeStep answers DescribeStep on the leader, which has verified its
// leadership. With a wait index it is a blocking query: it waits, on the
// step's own change notification (no polling), until the step changed
// past the index (its state or phase only, with state_only) or the wait
// is over, and returns the step as it is then, after verifying its
// leadership again, so that a deposed leader never answers from state
// that stopped moving.
func (c *clientService) describeStep(ctx context.Context, req *pb.DescribeStepRequest) (*pb.DescribeStepResponse, error) {
	s := c.s
	var timeout <-chan time.Time
	if req.WaitIndex > 0 {
		wait := time.Duration(req.WaitMillis) * time.Millisecond
		if wait <= 0 || wait > maxStepWait {
			wait = maxStepWait
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	waited, timedOut := false, false
	for {
		v := s.fsm.view()
		step, changed, ok := v.WatchStep(req.StepId)
		if !ok {
			return nil, fmt.Errorf("step %s: %w", req.StepId, state.ErrNotFound)
		}
		index, stateIndex := stepIndexes(step)
		seen := index
		if req.StateOnly {
			seen = stateIndex
		}
		if timedOut || req.WaitIndex == 0 || seen > req.WaitIndex {
			if waited {
				if err := s.verifyLeader(); err != nil {
					return nil, err
				}
			}
			return &pb.DescribeStepResponse{Step: s.stepProto(v, step), Index: index, StateIndex: stateIndex}, nil
		}
		if err := c.waitChange(ctx, changed, timeout); err == errWaitOver {
			timedOut = true
		} else if err != nil {
			return nil, err
		}
		waited = true
	}
}

// errWaitOver ends a blocking query's wait at its timeout.
var errWaitOver = errors.New("wait over")

// waitChange waits until changed is closed (nil), the timeout fires
// (errWaitOver), the call ends or the primary stops.
func (c *clientService) waitChange(ctx context.Context, changed <-chan struct{}, timeout <-chan time.Time) error {
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	select {
	case <-changed:
		return nil
	case <-timeout:
		return errWaitOver
	case <-ctx.Done():
		return ctx.Err()
	case <-c.s.ctx.Done():
		return fmt.Errorf("%w: primary stopping", ErrNoLeader)
	}
}

// stepIndexes returns a step's modify and state indexes for clients: a
// step recorded before the state kept them has index 1, so that a
// blocking query on it waits for its next change instead of returning at
// once.
func stepIndexes(st *state.Step) (index, stateIndex uint64) {
	return max(st.ModifyIndex, 1), max(st.StateIndex, 1)
}
