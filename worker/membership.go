package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"

	"github.com/gomr/gomr/primary/gossip"
)

func (w *Worker) meta() gossip.Meta {
	return gossip.Meta{Kind: gossip.KindWorker, Role: string(w.cfg.Role), GRPCAddr: w.Addr(), Slots: w.cfg.Slots, Incarnation: w.currentIncarnation()}
}

func (w *Worker) currentIncarnation() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.incarnation
}

// joinGossip asks a primary for the gossip ring's addresses and joins it.
func (w *Worker) joinGossip() {
	for w.ctx.Err() == nil {
		resp, err := w.client.Join(w.ctx, &pb.JoinRequest{})
		if err == nil {
			w.primary.SetAddrs(resp.PrimaryAddresses)
			if err = w.gossip.Join(w.ctx, resp.GossipAddresses); err == nil {
				return
			}
		}
		w.log.Debug("join gossip", "err", err)
		sleep(w.ctx, 500*time.Millisecond)
	}
}

// register registers the current incarnation, retrying while the cluster
// has no leader.
func (w *Worker) register(ctx context.Context) error {
	for {
		w.mu.Lock()
		inc := w.incarnation
		w.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := w.client.Register(rctx, &pb.RegisterRequest{Worker: &pb.WorkerInfo{
			Id: w.cfg.ID, Incarnation: inc, Role: pb.FromWorkerRole(w.cfg.Role), Address: w.Addr(), Slots: int32(w.cfg.Slots),
		}})
		cancel()
		if err == nil {
			w.log.Info("registered", "incarnation", inc)
			return nil
		}
		if !retryable(err) {
			return fmt.Errorf("register worker %s: %w", w.cfg.ID, err)
		}
		w.log.Debug("register", "err", err)
		if !sleep(ctx, 300*time.Millisecond) {
			return fmt.Errorf("register worker %s: %w (last error: %v)", w.cfg.ID, ctx.Err(), err)
		}
	}
}

// reincarnate is called when the leader no longer knows this incarnation:
// every attempt and map output of it is void, so they are dropped and a new
// incarnation registers.
func (w *Worker) reincarnate() {
	w.mu.Lock()
	old := w.incarnation
	w.incarnation = max(time.Now().UnixNano(), old+1)
	for _, a := range w.running {
		a.cancel()
	}
	w.outputs = make(map[string]mapOutput)
	w.memOutputs = 0
	w.mu.Unlock()
	w.log.Warn("leader does not know this incarnation; starting a new one", "old", old)
	os.RemoveAll(filepath.Join(w.cfg.DataDir, "steps"))
	os.MkdirAll(filepath.Join(w.cfg.DataDir, "steps"), 0o755)
	if err := w.gossip.UpdateMeta(w.meta()); err != nil {
		w.log.Warn("update gossip metadata", "err", err)
	}
	w.reportLost() // the new incarnation reports every block
	if err := w.register(w.ctx); err != nil && w.ctx.Err() == nil {
		w.log.Error("re-register", "err", err)
	}
}
