package worker

import (
	"context"
	"os"
	"path/filepath"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func (w *Worker) heartbeatLoop() {
	tick := time.NewTicker(w.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-tick.C:
		}
		w.heartbeat()
	}
}

func (w *Worker) heartbeat() {
	req := &pb.HeartbeatRequest{WorkerId: w.cfg.ID}
	w.mu.Lock()
	req.Incarnation = w.incarnation
	for id, a := range w.running {
		req.Running = append(req.Running, &pb.AttemptStatus{AttemptId: id, Progress: a.progress.Get(), Ticks: a.progress.Ticks(), Status: a.progress.Status()})
	}
	w.mu.Unlock()
	entries, _ := os.ReadDir(filepath.Join(w.cfg.DataDir, "steps"))
	for _, e := range entries {
		req.HeldSteps = append(req.HeldSteps, e.Name())
	}
	req.BlockReport = w.blockReport()
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	resp, err := w.client.Heartbeat(ctx, req)
	if err != nil {
		if req.BlockReport != nil {
			w.reportLost()
		}
		if status.Code(err) == codes.Aborted {
			w.reincarnate()
			return
		}
		w.log.Debug("heartbeat", "err", err)
		return
	}
	w.primary.SetAddrs(resp.PrimaryAddresses)
	w.blockCommands(resp.BlockCommands)
	w.mu.Lock()
	for _, id := range resp.KillAttempts {
		if a, ok := w.running[id]; ok {
			w.log.Info("killing attempt", "attempt", id)
			a.cancel()
		}
	}
	w.mu.Unlock()
	for _, step := range resp.DoneSteps {
		w.dropStep(step)
	}
}

// dropStep deletes a finished step's map outputs.
func (w *Worker) dropStep(step string) {
	dir := filepath.Join(w.cfg.DataDir, "steps", step)
	w.mu.Lock()
	for id, o := range w.outputs {
		if o.step == step {
			w.forgetOutput(id)
		}
	}
	w.mu.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		w.log.Warn("drop step data", "step", step, "err", err)
	}
}
