package worker

import (
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/gomr/gomr/hdfs/datanode"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/primary/state"
	"google.golang.org/grpc"
)

// dataNode is a core worker's HDFS side: its block store, served to
// clients and other core workers, reported to the leader with every
// heartbeat, and scanned in the background.
type dataNode struct {
	store  *datanode.Store
	server *datanode.Server
	// full asks for a full block report with the next heartbeat (at
	// start, after registering again, or when the leader asks).
	full atomic.Bool
}

// startDataNode opens the block store of a core worker and registers its
// service; a task worker registers a service that refuses every block.
func (w *Worker) startDataNode(srv *grpc.Server) error {
	if w.cfg.Role != state.RoleCore {
		hdfspb.RegisterDataNodeServer(srv, datanode.Refuse())
		return nil
	}
	store, err := datanode.Open(datanode.Config{Dir: filepath.Join(w.cfg.DataDir, "hdfs"), Worker: w.cfg.ID, Logger: w.log})
	if err != nil {
		return fmt.Errorf("open block store: %w", err)
	}
	server, err := datanode.NewServer(datanode.ServerConfig{Store: store, Dial: w.peers.Get, TransferBandwidth: w.cfg.TransferBandwidth, Logger: w.log})
	if err != nil {
		store.Close()
		return err
	}
	w.data = &dataNode{store: store, server: server}
	w.data.full.Store(true)
	hdfspb.RegisterDataNodeServer(srv, server)
	w.wg.Go(func() {
		store.RunScanner(w.ctx, datanode.ScanConfig{BytesPerSecond: w.cfg.ScanBytesPerSecond, Period: w.cfg.ScanPeriod})
	})
	return nil
}

// blockReport returns the report to send with a heartbeat (nil on a task
// worker).
func (w *Worker) blockReport() *hdfspb.BlockReport {
	if w.data == nil {
		return nil
	}
	return w.data.store.Report(w.data.full.Swap(false))
}

// reportLost is called when a heartbeat carrying a report failed: the
// deltas it carried are lost, so the next report is a full one.
func (w *Worker) reportLost() {
	if w.data != nil {
		w.data.full.Store(true)
	}
}

// blockCommands runs the leader's HDFS work: deletions at once, copies in
// the background.
func (w *Worker) blockCommands(cmds []*hdfspb.BlockCommand) {
	if w.data == nil {
		return
	}
	for _, c := range cmds {
		if len(c.Delete) > 0 {
			if err := w.data.store.Delete(c.Delete...); err != nil {
				w.log.Warn("delete replicas", "blocks", c.Delete, "err", err)
			}
		}
		if c.FullReport {
			w.data.full.Store(true)
		}
		if t := c.Transfer; t != nil {
			w.wg.Go(func() {
				if _, err := w.data.server.TransferBlock(w.ctx, t); err != nil && w.ctx.Err() == nil {
					w.log.Warn("copy a replica", "block", t.Block.GetId(), "err", err)
				}
			})
		}
	}
}

func (w *Worker) closeDataNode() {
	if w.data != nil {
		w.data.store.Close()
	}
}
