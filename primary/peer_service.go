package primary

import (
	"context"
	"strconv"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
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

func (p *peerService) Status(ctx context.Context, req *pb.StatusRequest) (*pb.Primary, error) {
	return p.s.status(), nil
}

// status reports this primary's Raft state.
func (s *Server) status() *pb.Primary {
	stats := s.raft.Stats()
	num := func(k string) uint64 {
		n, _ := strconv.ParseUint(stats[k], 10, 64)
		return n
	}
	return &pb.Primary{
		Id:            s.cfg.NodeID,
		Address:       s.Addr(),
		RaftAddress:   s.RaftAddr(),
		GossipAddress: s.GossipAddr(),
		RaftState:     s.raft.State().String(),
		Term:          num("term"),
		CommitIndex:   num("commit_index"),
		AppliedIndex:  num("applied_index"),
	}
}
