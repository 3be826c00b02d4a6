package primary

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/hdfs/placement"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/state"
)

// hdfsHealth is what the last check of every block found.
type hdfsHealth struct {
	blocks, underReplicated, missing, corrupt int64
	// reported counts blocks with at least one replica, for safe mode.
	reported int64
}

// hdfsSoft is the leader's soft HDFS state besides the block map: safe
// mode and the last health check.
type hdfsSoft struct {
	mu sync.Mutex
	// auto is set from the moment this primary leads until enough blocks
	// are reported (HDFS's safe mode after a NameNode starts).
	auto      bool
	autoSince time.Time
	health    hdfsHealth
	poke      chan struct{}
}

func newHDFSSoft() *hdfsSoft { return &hdfsSoft{poke: make(chan struct{}, 1)} }

// poke makes the HDFS loop check the blocks soon.
func (s *Server) poke() {
	select {
	case s.hdfs.poke <- struct{}{}:
	default:
	}
}

// safeMode reports whether HDFS is in safe mode, and why.
func (s *Server) safeMode() (bool, string) {
	if s.fsm.view().SafeModeEntered() {
		return true, "It was entered by an administrator; leave it with gomr hdfs safemode leave."
	}
	s.hdfs.mu.Lock()
	defer s.hdfs.mu.Unlock()
	if s.hdfs.auto {
		h := s.hdfs.health
		return true, fmt.Sprintf("The reported blocks %d need additional %d blocks to reach the threshold %.4f of total blocks %d.",
			h.reported, max(0, s.safeModeNeeded(h.blocks)-h.reported), s.cfg.SafeModeThreshold, h.blocks)
	}
	return false, ""
}

// safeModeNeeded is how many blocks must be reported to leave safe mode.
func (s *Server) safeModeNeeded(blocks int64) int64 {
	need := int64(float64(blocks) * s.cfg.SafeModeThreshold)
	if float64(need) < float64(blocks)*s.cfg.SafeModeThreshold {
		need++
	}
	return need
}

func (s *Server) safeModeStatus() *hdfspb.SafeModeResponse {
	on, reason := s.safeMode()
	s.hdfs.mu.Lock()
	h := s.hdfs.health
	s.hdfs.mu.Unlock()
	return &hdfspb.SafeModeResponse{On: on, Manual: s.fsm.view().SafeModeEntered(), Reported: h.reported, Needed: s.safeModeNeeded(h.blocks), Blocks: h.blocks, Reason: reason}
}

func (s *Server) enterAutoSafeMode() {
	s.hdfs.mu.Lock()
	defer s.hdfs.mu.Unlock()
	s.hdfs.auto, s.hdfs.autoSince = true, time.Now()
}

func (s *Server) leaveAutoSafeMode(why string) {
	s.hdfs.mu.Lock()
	defer s.hdfs.mu.Unlock()
	if s.hdfs.auto {
		s.hdfs.auto = false
		s.log.Info("HDFS left safe mode", "why", why, "after", time.Since(s.hdfs.autoSince).Round(time.Millisecond))
	}
}

func (s *Server) health() hdfsHealth {
	s.hdfs.mu.Lock()
	defer s.hdfs.mu.Unlock()
	return s.hdfs.health
}

// hdfsLoop is the leader's HDFS housekeeping: it expires leases, checks
// every block's replicas (re-replicating, deleting excess, corrupt and
// orphan replicas), follows decommissions, and leaves safe mode once
// enough blocks are reported.
func (s *Server) hdfsLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.BlockCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.hdfs.poke:
		}
		now := time.Now()
		s.expireLeases(now)
		s.checkBlocks(now)
	}
}

func (s *Server) expireLeases(now time.Time) {
	var expired []string
	for _, l := range s.fsm.view().Leases() {
		if now.Sub(time.Unix(0, l.Renewed)) > s.cfg.LeaseTimeout {
			expired = append(expired, l.Holder)
		}
	}
	if len(expired) == 0 {
		return
	}
	if err := s.apply(&state.ExpireLeases{Clients: expired, Time: now.UnixNano()}); err != nil {
		s.log.Warn("expire HDFS leases", "err", err)
		return
	}
	s.log.Warn("HDFS leases expired; their files being written are gone", "holders", expired)
}

// checkBlocks checks every block of every complete file.
func (s *Server) checkBlocks(now time.Time) {
	v := s.fsm.view()
	live, decom := liveCore(v)
	nodes := s.blocks.placementNodes(live, decom)
	safe, _ := s.safeMode()
	settled := s.blocks.allReported(live)
	var h hdfsHealth
	left := map[string]int64{} // decommissioning worker -> blocks still needing a replica elsewhere
	for _, w := range v.Workers() {
		if w.State == state.WorkerDecommissioning && decom[w.ID] {
			left[w.ID] = 0
		}
	}
	for f := range v.Files() {
		if !f.Visible() {
			continue
		}
		for _, b := range f.Blocks {
			h.blocks++
			if bad := s.blocks.checkLength(b.ID, b.Length); len(bad) > 0 {
				s.log.Warn("replicas reported at the wrong length: corrupt", "block", b.ID, "file", f.Path, "length", b.Length, "workers", bad)
			}
			var good, leaving []string
			for _, w := range s.blocks.holders(b.ID, b.Length) {
				if _, ok := live[w]; !ok {
					continue
				}
				if decom[w] {
					leaving = append(leaving, w)
				} else {
					good = append(good, w)
				}
			}
			corrupt := s.blocks.corruptHolders(b.ID)
			if len(good)+len(leaving) == 0 {
				if len(corrupt) > 0 {
					h.corrupt++
				} else {
					h.missing++
				}
				continue
			}
			h.reported++
			if len(good) < f.Replication {
				h.underReplicated++
				for _, w := range leaving {
					if _, ok := left[w]; ok {
						left[w]++
					}
				}
			}
			if safe {
				continue
			}
			if len(good) < f.Replication && !s.blocks.transferring(b.ID, now) {
				s.replicate(b, f, nodes, append(slices.Clone(good), leaving...), corrupt, f.Replication-len(good), now)
			}
			if len(good) > f.Replication && settled {
				for _, w := range placement.Excess(nodes, good, f.Replication) {
					s.blocks.deleteReplica(w, b.ID)
				}
			}
			if len(good) > 0 {
				for _, w := range corrupt {
					s.blocks.deleteReplica(w, b.ID)
				}
			}
		}
	}
	s.hdfs.mu.Lock()
	s.hdfs.health = h
	auto := s.hdfs.auto
	s.hdfs.mu.Unlock()
	if auto && h.reported >= s.safeModeNeeded(h.blocks) && s.blocks.reportedWorkers() >= min(1, len(live)) {
		s.leaveAutoSafeMode(fmt.Sprintf("%d of %d blocks reported", h.reported, h.blocks))
	}
	s.hdfs.mu.Lock()
	s.decommissionLeft = left // shown by node list, in safe mode too
	s.hdfs.mu.Unlock()
	if !safe {
		s.deleteOrphans(v)
		s.finishDecommissions(left, now)
	}
}

// replicate starts copying a block from one of its holders to more core
// workers, at most ReplicationStreams transfers per source at a time.
func (s *Server) replicate(b state.BlockRef, f *state.Inode, nodes []placement.Node, holders, corrupt []string, want int, now time.Time) {
	src, ok := placement.ChooseSource(nodes, holders)
	if !ok || src.Transfers >= s.cfg.ReplicationStreams {
		return
	}
	targets := placement.ChooseTargets(nodes, append(slices.Clone(holders), corrupt...), want, f.BlockSize)
	if len(targets) == 0 {
		return
	}
	deadline := now.Add(time.Minute + time.Duration(b.Length/(1<<20))*time.Second)
	s.blocks.startTransfer(b.ID, b.Length, src.ID, targets, deadline)
	for i := range nodes {
		if nodes[i].ID == src.ID {
			nodes[i].Transfers++
		}
	}
	s.log.Info("re-replicating a block", "block", b.ID, "file", f.Path, "from", src.ID, "to", len(targets))
}

// deleteOrphans orders the deletion of replicas of blocks no file has
// any more (deleted or overwritten files, writes given up).
func (s *Server) deleteOrphans(v *state.View) {
	for id, workers := range s.blocks.all() {
		if _, ok := v.BlockFile(id); ok {
			continue
		}
		for _, w := range workers {
			s.blocks.deleteReplica(w, id)
		}
	}
}

// finishDecommissions records the decommissioned workers: those whose
// every block has its replicas elsewhere.
func (s *Server) finishDecommissions(left map[string]int64, now time.Time) {
	for w, n := range left {
		if n > 0 {
			continue
		}
		if err := s.apply(&state.FinishDecommission{ID: w, Time: now.UnixNano()}); err != nil {
			s.log.Debug("finish decommission", "worker", w, "err", err)
			continue
		}
		s.log.Info("core worker decommissioned: every block it held has its replicas elsewhere", "worker", w)
	}
}

// decommissionProgress returns how many blocks a worker being
// decommissioned still holds that need a replica elsewhere.
func (s *Server) decommissionProgress(worker string) int64 {
	s.hdfs.mu.Lock()
	defer s.hdfs.mu.Unlock()
	return s.decommissionLeft[worker]
}

// splitLocations returns the core workers holding the block a split of
// an HDFS file reads (nil for other files): the scheduler's locality.
func (s *Server) splitLocations(v *state.View, sp *mapreduce.Split) []string {
	if sp == nil || !hdfsPath(sp.File) {
		return nil
	}
	p, err := namespace.Clean(sp.File)
	if err != nil {
		return nil
	}
	n, ok := v.Inode(p)
	if !ok {
		return nil
	}
	off := int64(0)
	for _, b := range n.Blocks {
		if sp.Offset >= off && sp.Offset < off+b.Length {
			return s.blocks.holders(b.ID, b.Length)
		}
		off += b.Length
	}
	return nil
}
