package primary

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
)

// peerService implements the Peer gRPC service.
type peerService struct {
	pb.UnimplementedPeerServer
	s *Server
}

func (p *peerService) RegisterPrimary(ctx context.Context, req *pb.RegisterPrimaryRequest) (*pb.RegisterPrimaryResponse, error) {
	return forward(p.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.RegisterPrimaryResponse, error) {
		return pb.NewPeerClient(cc).RegisterPrimary(ctx, req)
	}, func() (*pb.RegisterPrimaryResponse, error) {
		pr := req.GetPrimary()
		err := p.s.apply(&state.RegisterPrimary{Primary: state.Primary{
			ID: pr.GetId(), Addr: pr.GetAddress(), RaftAddr: pr.GetRaftAddress(), GossipAddr: pr.GetGossipAddress(),
		}})
		return &pb.RegisterPrimaryResponse{}, err
	})
}

func registerPrimaryRemote(ctx context.Context, cc *grpc.ClientConn, p state.Primary) error {
	_, err := pb.NewPeerClient(cc).RegisterPrimary(ctx, &pb.RegisterPrimaryRequest{Primary: &pb.Primary{
		Id: p.ID, Address: p.Addr, RaftAddress: p.RaftAddr, GossipAddress: p.GossipAddr,
	}})
	return err
}

// AddPrimary adds a primary to the Raft group as a non-voter. Adding one
// that is already a member with the same address changes nothing.
func (p *peerService) AddPrimary(ctx context.Context, req *pb.AddPrimaryRequest) (*pb.AddPrimaryResponse, error) {
	return forward(p.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.AddPrimaryResponse, error) {
		return pb.NewPeerClient(cc).AddPrimary(ctx, req)
	}, func() (*pb.AddPrimaryResponse, error) {
		pr := req.GetPrimary()
		if pr.GetId() == "" || pr.GetRaftAddress() == "" {
			return nil, fmt.Errorf("%w: a primary to add needs an id and a raft address", errInvalid)
		}
		cf := p.s.raft.GetConfiguration()
		if err := cf.Error(); err != nil {
			return nil, fmt.Errorf("raft configuration: %w", err)
		}
		for _, srv := range cf.Configuration().Servers {
			if string(srv.ID) == pr.Id && string(srv.Address) == pr.RaftAddress {
				return &pb.AddPrimaryResponse{}, nil
			}
			if string(srv.ID) != pr.Id && string(srv.Address) == pr.RaftAddress {
				return nil, fmt.Errorf("%w: raft address %s is already used by primary %s", errInvalid, pr.RaftAddress, srv.ID)
			}
		}
		if err := p.s.raft.AddNonvoter(raft.ServerID(pr.Id), raft.ServerAddress(pr.RaftAddress), 0, applyTimeout).Error(); err != nil {
			return nil, fmt.Errorf("%w: add %s to the raft group: %v", ErrNoLeader, pr.Id, err)
		}
		p.s.log.Info("primary added as non-voter", "primary", pr.Id, "raft", pr.RaftAddress)
		return &pb.AddPrimaryResponse{}, nil
	})
}

func (p *peerService) Status(ctx context.Context, req *pb.StatusRequest) (*pb.Primary, error) {
	st := p.s.status()
	if req.Digest {
		v, index := p.s.fsm.viewAt()
		h := sha256.New()
		if _, err := v.WriteTo(h); err != nil {
			return nil, err
		}
		st.AppliedIndex = index
		st.StateDigest = hex.EncodeToString(h.Sum(nil))
	}
	return st, nil
}

// status reports this primary's Raft state.
func (s *Server) status() *pb.Primary {
	stats := s.raft.Stats()
	num := func(k string) uint64 {
		n, _ := strconv.ParseUint(stats[k], 10, 64)
		return n
	}
	first, _ := s.wal.FirstIndex()
	return &pb.Primary{
		Id:                s.cfg.NodeID,
		Address:           s.Addr(),
		RaftAddress:       s.RaftAddr(),
		GossipAddress:     s.GossipAddr(),
		RaftState:         s.raft.State().String(),
		Term:              num("term"),
		CommitIndex:       num("commit_index"),
		AppliedIndex:      num("applied_index"),
		LastSnapshotIndex: num("last_snapshot_index"),
		FirstLogIndex:     first,
		LastLogIndex:      num("last_log_index"),
		Leader:            s.knownLeader(),
	}
}
