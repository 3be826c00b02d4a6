package primary

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/hdfs/placement"
	"github.com/gomr/gomr/primary/state"
	"google.golang.org/grpc"
)

// nameNode implements the NameNode gRPC service: the HDFS namespace kept
// in the replicated state, and where its blocks are.
type nameNode struct {
	hdfspb.UnimplementedNameNodeServer
	s *Server
}

// errSafeMode is the reason of a change refused in safe mode.
var errSafeMode = errors.New("name node is in safe mode")

// checkWritable refuses a change of the namespace in safe mode.
func (s *Server) checkWritable(op, p string) error {
	if on, reason := s.safeMode(); on {
		return hdfspb.SafeModeError(fmt.Sprintf("cannot %s %s: %v. %s", op, namespace.URI(p), errSafeMode, reason))
	}
	return nil
}

// liveCore returns the live core workers (by id, their addresses) and
// which of them are being or have been decommissioned: as in HDFS, those
// still serve reads of their replicas, but the replicas do not count
// toward a block's replication and they get no new ones.
func liveCore(v *state.View) (map[string]string, map[string]bool) {
	live, decom := map[string]string{}, map[string]bool{}
	for _, w := range v.Workers() {
		if w.Role == state.RoleCore && w.Up() {
			live[w.ID] = w.Addr
			if w.State == state.WorkerDecommissioning || w.State == state.WorkerDecommissioned {
				decom[w.ID] = true
			}
		}
	}
	return live, decom
}

func (s *Server) statusOf(n *state.Inode) *hdfspb.FileStatus {
	return &hdfspb.FileStatus{Path: n.Path, IsDir: n.Dir, Length: n.Length, Replication: int32(n.Replication), BlockSize: n.BlockSize,
		MtimeUnixNano: n.MTime, Owner: n.Owner, Blocks: int32(len(n.Blocks))}
}

// noSuchPath is the error for a clean path that names nothing visible,
// worded as a file system (and the namespace's rules) word it.
type noSuchPath string

func (p noSuchPath) Error() string { return namespace.URI(string(p)) + ": no such file or directory" }
func (noSuchPath) Unwrap() error   { return state.ErrNotFound }

// visible returns the visible folder or file at a clean path.
func visible(v *state.View, p string) (*state.Inode, error) {
	n, ok := v.Inode(p)
	if !ok || !n.Visible() {
		return nil, noSuchPath(p)
	}
	return n, nil
}

func nnForward[Resp any](nn *nameNode, ctx context.Context, remote func(context.Context, hdfspb.NameNodeClient) (Resp, error), local func() (Resp, error)) (Resp, error) {
	return forward(nn.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (Resp, error) {
		return remote(ctx, hdfspb.NewNameNodeClient(cc))
	}, local)
}

func (nn *nameNode) Mkdirs(ctx context.Context, req *hdfspb.MkdirsRequest) (*hdfspb.MkdirsResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.MkdirsResponse, error) {
		return c.Mkdirs(ctx, req)
	},
		func() (*hdfspb.MkdirsResponse, error) {
			p, err := namespace.Clean(req.Path)
			if err != nil {
				return nil, err
			}
			if err := nn.s.checkWritable("make folder", p); err != nil {
				return nil, err
			}
			return &hdfspb.MkdirsResponse{}, nn.s.apply(&state.Mkdirs{Path: p, Parents: req.Parents, Owner: req.Owner, Time: time.Now().UnixNano()})
		})
}

func (nn *nameNode) Create(ctx context.Context, req *hdfspb.CreateRequest) (*hdfspb.CreateResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.CreateResponse, error) {
		return c.Create(ctx, req)
	},
		func() (*hdfspb.CreateResponse, error) {
			p, err := namespace.Clean(req.Path)
			if err != nil {
				return nil, err
			}
			if err := nn.s.checkWritable("create", p); err != nil {
				return nil, err
			}
			live, _ := liveCore(nn.s.fsm.view())
			rep := int(req.Replication)
			if rep == 0 {
				rep = nn.s.defaultReplication(len(live))
			}
			if err := namespace.ValidateReplication(rep, len(live)); err != nil {
				return nil, fmt.Errorf("create %s: %w", namespace.URI(p), err)
			}
			bs := req.BlockSize
			if bs == 0 {
				bs = nn.s.cfg.BlockSize
			}
			if err := namespace.ValidateBlockSize(bs); err != nil {
				return nil, fmt.Errorf("create %s: %w", namespace.URI(p), err)
			}
			err = nn.s.apply(&state.CreateFile{Path: p, Client: req.Client, Overwrite: req.Overwrite, Replication: rep, BlockSize: bs,
				Owner: req.Owner, CloseMTime: req.MtimeUnixNano, CreateParent: req.CreateParent, Time: time.Now().UnixNano()})
			if err != nil {
				return nil, err
			}
			return &hdfspb.CreateResponse{Replication: int32(rep), BlockSize: bs}, nil
		})
}

// defaultReplication is the replication of a file created without one:
// the configured default, else EMR's rule for the live core workers.
func (s *Server) defaultReplication(liveCore int) int {
	if s.cfg.Replication > 0 {
		return min(s.cfg.Replication, max(1, liveCore))
	}
	return namespace.DefaultReplication(liveCore)
}

// allocBlockID returns a new block id: above every id in the state and
// every id this leader handed out.
func (s *Server) allocBlockID(v *state.View) int64 {
	s.blockIDMu.Lock()
	defer s.blockIDMu.Unlock()
	s.lastBlockID = max(s.lastBlockID, v.MaxBlockID()) + 1
	return s.lastBlockID
}

func (nn *nameNode) AddBlock(ctx context.Context, req *hdfspb.AddBlockRequest) (*hdfspb.AddBlockResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.AddBlockResponse, error) {
		return c.AddBlock(ctx, req)
	},
		func() (*hdfspb.AddBlockResponse, error) {
			p, err := namespace.Clean(req.Path)
			if err != nil {
				return nil, err
			}
			if err := nn.s.checkWritable("add a block to", p); err != nil {
				return nil, err
			}
			v := nn.s.fsm.view()
			n, ok := v.Inode(p)
			if !ok || n.Writer != req.Client {
				return nil, fmt.Errorf("add a block to %s: %w: it is not being written by %s (its lease expired, or it was closed)", namespace.URI(p), state.ErrStale, req.Client)
			}
			live, decom := liveCore(v)
			chosen := placement.Choose(nn.s.blocks.placementNodes(live, decom), req.Writer, n.Replication, n.BlockSize, req.Exclude)
			if len(chosen) == 0 {
				return nil, fmt.Errorf("%w: add a block to %s: no live core worker has room for a block of %d bytes (%d live, %d excluded)",
					errInvalid, namespace.URI(p), n.BlockSize, len(live), len(req.Exclude))
			}
			var prev *state.BlockRef
			if req.Previous != nil {
				prev = &state.BlockRef{ID: req.Previous.Id, Length: req.Previous.Length}
			}
			id := nn.s.allocBlockID(v)
			if err := nn.s.apply(&state.AddBlock{Path: p, Client: req.Client, Previous: prev, BlockID: id, Time: time.Now().UnixNano()}); err != nil {
				return nil, err
			}
			if prev != nil {
				nn.s.blocks.stored(prev.ID, req.PreviousStored)
			}
			var ids []string
			lb := &hdfspb.LocatedBlock{Block: &hdfspb.Block{Id: id}}
			for _, c := range chosen {
				lb.Locations = append(lb.Locations, &hdfspb.Location{Worker: c.ID, Address: c.Addr})
				ids = append(ids, c.ID)
			}
			for _, b := range n.Blocks {
				lb.Offset += b.Length
			}
			if prev != nil && len(n.Blocks) > 0 {
				lb.Offset += prev.Length - n.Blocks[len(n.Blocks)-1].Length
			}
			nn.s.blocks.allocated(ids, n.BlockSize)
			return &hdfspb.AddBlockResponse{Block: lb}, nil
		})
}

func (nn *nameNode) AbandonBlock(ctx context.Context, req *hdfspb.AbandonBlockRequest) (*hdfspb.AbandonBlockResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.AbandonBlockResponse, error) {
		return c.AbandonBlock(ctx, req)
	}, func() (*hdfspb.AbandonBlockResponse, error) {
		p, err := namespace.Clean(req.Path)
		if err != nil {
			return nil, err
		}
		return &hdfspb.AbandonBlockResponse{}, nn.s.apply(&state.AbandonBlock{Path: p, Client: req.Client, BlockID: req.BlockId})
	})
}

func (nn *nameNode) Complete(ctx context.Context, req *hdfspb.CompleteRequest) (*hdfspb.CompleteResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.CompleteResponse, error) {
		return c.Complete(ctx, req)
	},
		func() (*hdfspb.CompleteResponse, error) {
			p, err := namespace.Clean(req.Path)
			if err != nil {
				return nil, err
			}
			var last *state.BlockRef
			if req.Last != nil {
				last = &state.BlockRef{ID: req.Last.Id, Length: req.Last.Length}
			}
			if err := nn.s.apply(&state.CompleteFile{Path: p, Client: req.Client, Last: last, Time: time.Now().UnixNano()}); err != nil {
				return nil, err
			}
			if last != nil {
				nn.s.blocks.stored(last.ID, req.LastStored)
			}
			return &hdfspb.CompleteResponse{}, nil
		})
}

func (nn *nameNode) Abandon(ctx context.Context, req *hdfspb.AbandonRequest) (*hdfspb.AbandonResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.AbandonResponse, error) {
		return c.Abandon(ctx, req)
	},
		func() (*hdfspb.AbandonResponse, error) {
			p, err := namespace.Clean(req.Path)
			if err != nil {
				return nil, err
			}
			err = nn.s.apply(&state.AbandonFile{Path: p, Client: req.Client})
			if errors.Is(err, state.ErrNotFound) || errors.Is(err, state.ErrStale) {
				err = nil // gone already
			}
			return &hdfspb.AbandonResponse{}, err
		})
}

func (nn *nameNode) RenewLease(ctx context.Context, req *hdfspb.RenewLeaseRequest) (*hdfspb.RenewLeaseResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.RenewLeaseResponse, error) {
		return c.RenewLease(ctx, req)
	},
		func() (*hdfspb.RenewLeaseResponse, error) {
			return &hdfspb.RenewLeaseResponse{}, nn.s.apply(&state.RenewLease{Client: req.Client, Time: time.Now().UnixNano()})
		})
}

func (nn *nameNode) GetFileInfo(ctx context.Context, req *hdfspb.GetFileInfoRequest) (*hdfspb.GetFileInfoResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.GetFileInfoResponse, error) {
		return c.GetFileInfo(ctx, req)
	}, func() (*hdfspb.GetFileInfoResponse, error) {
		p, err := namespace.Clean(req.Path)
		if err != nil {
			return nil, err
		}
		if err := nn.s.verifyLeader(); err != nil {
			return nil, err
		}
		n, err := visible(nn.s.fsm.view(), p)
		if err != nil {
			return nil, err
		}
		return &hdfspb.GetFileInfoResponse{Status: nn.s.statusOf(n)}, nil
	})
}

func (nn *nameNode) List(ctx context.Context, req *hdfspb.ListRequest) (*hdfspb.ListResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.ListResponse, error) {
		return c.List(ctx, req)
	},
		func() (*hdfspb.ListResponse, error) {
			p, err := namespace.Clean(req.Path)
			if err != nil {
				return nil, err
			}
			if err := nn.s.verifyLeader(); err != nil {
				return nil, err
			}
			v := nn.s.fsm.view()
			n, err := visible(v, p)
			if err != nil {
				return nil, err
			}
			resp := &hdfspb.ListResponse{}
			if !n.Dir {
				resp.Entries = []*hdfspb.FileStatus{nn.s.statusOf(n)}
				return resp, nil
			}
			size := pageSize(req.PageSize)
			for c := range v.ChildrenAfter(p, req.PageToken) {
				if !c.Visible() {
					continue
				}
				if len(resp.Entries) == size {
					resp.NextPageToken = resp.Entries[len(resp.Entries)-1].Path
					break
				}
				resp.Entries = append(resp.Entries, nn.s.statusOf(c))
			}
			return resp, nil
		})
}

func (nn *nameNode) GetBlockLocations(ctx context.Context, req *hdfspb.GetBlockLocationsRequest) (*hdfspb.GetBlockLocationsResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.GetBlockLocationsResponse, error) {
		return c.GetBlockLocations(ctx, req)
	}, func() (*hdfspb.GetBlockLocationsResponse, error) {
		p, err := namespace.Clean(req.Path)
		if err != nil {
			return nil, err
		}
		if err := nn.s.verifyLeader(); err != nil {
			return nil, err
		}
		v := nn.s.fsm.view()
		n, err := visible(v, p)
		if err != nil {
			return nil, err
		}
		resp := &hdfspb.GetBlockLocationsResponse{Status: nn.s.statusOf(n)}
		if n.Dir {
			return resp, nil
		}
		end := n.Length
		if req.Length > 0 {
			end = min(end, req.Offset+req.Length)
		}
		off := int64(0)
		for _, b := range n.Blocks {
			if off+b.Length > req.Offset && off < end || (b.Length == 0 && off == req.Offset) {
				lb := nn.s.locate(v, b, off, req.Reader)
				if on, reason := nn.s.safeMode(); on && len(lb.Locations) == 0 && b.Length > 0 {
					// As HDFS's NameNode: after a failover the replicas are
					// not known until the core workers report them, and a
					// reader should wait rather than find the block lost.
					return nil, hdfspb.SafeModeError(fmt.Sprintf("cannot read %s: no replica of block %d is reported yet: %v. %s", namespace.URI(p), b.ID, errSafeMode, reason))
				}
				resp.Blocks = append(resp.Blocks, lb)
			}
			off += b.Length
		}
		return resp, nil
	})
}

// locate returns a block with its good replicas on live workers, the
// reader's own first.
func (s *Server) locate(v *state.View, b state.BlockRef, off int64, reader string) *hdfspb.LocatedBlock {
	lb := &hdfspb.LocatedBlock{Block: &hdfspb.Block{Id: b.ID, Length: b.Length}, Offset: off}
	live, _ := liveCore(v)
	for _, w := range placement.SortByDistance(s.blocks.holders(b.ID, b.Length), reader) {
		if addr, ok := live[w]; ok {
			lb.Locations = append(lb.Locations, &hdfspb.Location{Worker: w, Address: addr})
		}
	}
	return lb
}

func (nn *nameNode) Delete(ctx context.Context, req *hdfspb.DeleteRequest) (*hdfspb.DeleteResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.DeleteResponse, error) {
		return c.Delete(ctx, req)
	},
		func() (*hdfspb.DeleteResponse, error) {
			p, err := namespace.Clean(req.Path)
			if err != nil {
				return nil, err
			}
			if err := nn.s.checkWritable("delete", p); err != nil {
				return nil, err
			}
			err = nn.s.apply(&state.DeletePath{Path: p, Recursive: req.Recursive, Time: time.Now().UnixNano()})
			if errors.Is(err, state.ErrNotFound) {
				return &hdfspb.DeleteResponse{}, nil
			}
			if err != nil {
				return nil, err
			}
			nn.s.poke()
			return &hdfspb.DeleteResponse{Deleted: true}, nil
		})
}

func (nn *nameNode) Rename(ctx context.Context, req *hdfspb.RenameRequest) (*hdfspb.RenameResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.RenameResponse, error) {
		return c.Rename(ctx, req)
	},
		func() (*hdfspb.RenameResponse, error) {
			src, err := namespace.Clean(req.Src)
			if err != nil {
				return nil, err
			}
			dst, err := namespace.Clean(req.Dst)
			if err != nil {
				return nil, err
			}
			if err := nn.s.checkWritable("rename", src); err != nil {
				return nil, err
			}
			return &hdfspb.RenameResponse{}, nn.s.apply(&state.RenamePath{Src: src, Dst: dst, Time: time.Now().UnixNano()})
		})
}

func (nn *nameNode) SetReplication(ctx context.Context, req *hdfspb.SetReplicationRequest) (*hdfspb.SetReplicationResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.SetReplicationResponse, error) {
		return c.SetReplication(ctx, req)
	}, func() (*hdfspb.SetReplicationResponse, error) {
		p, err := namespace.Clean(req.Path)
		if err != nil {
			return nil, err
		}
		if err := nn.s.checkWritable("set the replication of", p); err != nil {
			return nil, err
		}
		v := nn.s.fsm.view()
		live, _ := liveCore(v)
		if err := namespace.ValidateReplication(int(req.Replication), len(live)); err != nil {
			return nil, fmt.Errorf("%w: setrep %s: %v", errInvalid, namespace.URI(p), err)
		}
		n, err := visible(v, p)
		if err != nil {
			return nil, err
		}
		files := int32(0)
		if !n.Dir {
			files = 1
		}
		for d := range v.Descendants(p) {
			if !d.Dir {
				files++
			}
		}
		if err := nn.s.apply(&state.SetReplication{Path: p, Replication: int(req.Replication)}); err != nil {
			return nil, err
		}
		nn.s.poke()
		return &hdfspb.SetReplicationResponse{Files: files}, nil
	})
}

func (nn *nameNode) ReportBadBlocks(ctx context.Context, req *hdfspb.ReportBadBlocksRequest) (*hdfspb.ReportBadBlocksResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.ReportBadBlocksResponse, error) {
		return c.ReportBadBlocks(ctx, req)
	}, func() (*hdfspb.ReportBadBlocksResponse, error) {
		nn.s.blocks.reportBad(req.Worker, req.BlockIds)
		nn.s.log.Warn("corrupt replica reported", "worker", req.Worker, "blocks", req.BlockIds, "reason", req.Reason)
		nn.s.poke()
		return &hdfspb.ReportBadBlocksResponse{}, nil
	})
}

func (nn *nameNode) ContentSummary(ctx context.Context, req *hdfspb.ContentSummaryRequest) (*hdfspb.ContentSummaryResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.ContentSummaryResponse, error) {
		return c.ContentSummary(ctx, req)
	}, func() (*hdfspb.ContentSummaryResponse, error) {
		p, err := namespace.Clean(req.Path)
		if err != nil {
			return nil, err
		}
		if err := nn.s.verifyLeader(); err != nil {
			return nil, err
		}
		v := nn.s.fsm.view()
		n, err := visible(v, p)
		if err != nil {
			return nil, err
		}
		resp := &hdfspb.ContentSummaryResponse{}
		count := func(n *state.Inode) {
			switch {
			case !n.Visible():
			case n.Dir:
				resp.Dirs++
			default:
				resp.Files++
				resp.Length += n.Length
				resp.SpaceConsumed += n.Length * int64(n.Replication)
			}
		}
		count(n)
		if n.Dir {
			for d := range v.Descendants(p) {
				count(d)
			}
		}
		return resp, nil
	})
}

func (nn *nameNode) Stats(ctx context.Context, req *hdfspb.StatsRequest) (*hdfspb.StatsResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.StatsResponse, error) {
		return c.Stats(ctx, req)
	},
		func() (*hdfspb.StatsResponse, error) {
			if err := nn.s.verifyLeader(); err != nil {
				return nil, err
			}
			v := nn.s.fsm.view()
			live, _ := liveCore(v)
			resp := &hdfspb.StatsResponse{LiveCoreWorkers: int32(len(live))}
			for w := range live {
				if d, ok := nn.s.blocks.node(w); ok {
					resp.Capacity += d.capacity
					resp.Used += d.used
					resp.Remaining += d.remaining
				}
			}
			h := nn.s.health()
			resp.Blocks, resp.UnderReplicated, resp.Missing, resp.Corrupt = h.blocks, h.underReplicated, h.missing, h.corrupt
			resp.SafeMode, _ = nn.s.safeMode()
			return resp, nil
		})
}

// fsckPage is how many files one Fsck reply describes.
const fsckPage = 500

func (nn *nameNode) Fsck(ctx context.Context, req *hdfspb.FsckRequest) (*hdfspb.FsckResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.FsckResponse, error) {
		return c.Fsck(ctx, req)
	},
		func() (*hdfspb.FsckResponse, error) {
			p, err := namespace.Clean(req.Path)
			if err != nil {
				return nil, err
			}
			if err := nn.s.verifyLeader(); err != nil {
				return nil, err
			}
			v := nn.s.fsm.view()
			n, err := visible(v, p)
			if err != nil {
				return nil, err
			}
			live, decom := liveCore(v)
			resp := &hdfspb.FsckResponse{LiveCoreWorkers: int32(len(live)), DefaultReplication: int32(nn.s.defaultReplication(len(live)))}
			check := func(f *state.Inode) {
				ff := &hdfspb.FsckFile{Status: nn.s.statusOf(f)}
				for _, b := range f.Blocks {
					ff.Blocks = append(ff.Blocks, nn.s.blockHealth(b, f.Replication, live, decom))
				}
				resp.Files = append(resp.Files, ff)
			}
			if !n.Dir {
				check(n)
				return resp, nil
			}
			if req.PageToken == "" {
				resp.Dirs = 1
			}
			size := min(pageSize(req.PageSize), fsckPage)
			for d := range v.Descendants(p) {
				if req.PageToken != "" && d.Path <= req.PageToken || !d.Visible() {
					continue
				}
				if len(resp.Files) == size {
					resp.NextPageToken = resp.Files[len(resp.Files)-1].Status.Path
					break
				}
				if d.Dir {
					resp.Dirs++
					continue
				}
				check(d)
			}
			return resp, nil
		})
}

// blockHealth describes one block's replicas for fsck.
func (s *Server) blockHealth(b state.BlockRef, replication int, live map[string]string, decom map[string]bool) *hdfspb.BlockHealth {
	h := &hdfspb.BlockHealth{Block: &hdfspb.Block{Id: b.ID, Length: b.Length}, Replication: int32(replication)}
	for _, w := range s.blocks.holders(b.ID, b.Length) {
		addr, ok := live[w]
		if !ok {
			continue
		}
		if decom[w] {
			h.DecommissioningReplicas++
		} else {
			h.LiveReplicas++
		}
		h.Locations = append(h.Locations, &hdfspb.Location{Worker: w, Address: addr})
	}
	h.CorruptReplicas = int32(len(s.blocks.corruptHolders(b.ID)))
	return h
}

func (nn *nameNode) SafeMode(ctx context.Context, req *hdfspb.SafeModeRequest) (*hdfspb.SafeModeResponse, error) {
	return nnForward(nn, ctx, func(ctx context.Context, c hdfspb.NameNodeClient) (*hdfspb.SafeModeResponse, error) {
		return c.SafeMode(ctx, req)
	},
		func() (*hdfspb.SafeModeResponse, error) {
			switch req.Action {
			case hdfspb.SafeModeAction_SAFEMODE_ENTER:
				if err := nn.s.apply(&state.SetSafeMode{On: true}); err != nil {
					return nil, err
				}
			case hdfspb.SafeModeAction_SAFEMODE_LEAVE:
				if err := nn.s.apply(&state.SetSafeMode{On: false}); err != nil {
					return nil, err
				}
				nn.s.leaveAutoSafeMode("left by an administrator")
			default:
				if err := nn.s.verifyLeader(); err != nil {
					return nil, err
				}
			}
			return nn.s.safeModeStatus(), nil
		})
}

// hdfsPath reports whether a path is on HDFS.
func hdfsPath(p string) bool { return strings.HasPrefix(p, namespace.Scheme+"://") }
