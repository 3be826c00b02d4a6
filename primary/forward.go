package primary

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/gossip"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ErrNoLeader is returned when no leader is known or the leader cannot be
// reached: the group has no quorum or is electing.
var ErrNoLeader = errors.New("no leader")

// errInvalid marks a request that can never succeed as sent.
var errInvalid = errors.New("invalid request")

// forwardedKey marks a call a follower forwarded, so that it is forwarded
// at most once.
const forwardedKey = "gomr-forwarded"

// leaderConn returns a connection to the leader, or nil when this primary
// is the leader.
func (s *Server) leaderConn(ctx context.Context) (*grpc.ClientConn, error) {
	if s.IsLeader() {
		return nil, nil
	}
	_, id := s.raft.LeaderWithID()
	if id == "" {
		return nil, fmt.Errorf("%w: %s has none (no quorum, or an election is under way; last known leader: %s)", ErrNoLeader, s.cfg.NodeID, s.knownLeader())
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(forwardedKey)) > 0 {
		return nil, fmt.Errorf("%w: %s is not the leader either (leader: %s)", ErrNoLeader, s.cfg.NodeID, id)
	}
	addr := s.primaryAddr(string(id))
	if addr == "" {
		return nil, fmt.Errorf("%w: address of leader %s not known yet", ErrNoLeader, id)
	}
	return s.peers.Get(addr)
}

// primaryAddr returns a primary's gRPC address: from the replicated state,
// or, before its announcement is replicated, from its gossip metadata.
func (s *Server) primaryAddr(id string) string {
	if p, ok := s.fsm.view().Primary(id); ok {
		return p.Addr
	}
	for _, m := range s.gossip.Members() {
		if m.Name == id && m.Meta.Kind == gossip.KindPrimary {
			return m.Meta.GRPCAddr
		}
	}
	return ""
}

// knownLeader returns the current leader's id, or the last one this
// primary heard of, or "none".
func (s *Server) knownLeader() string {
	if _, id := s.raft.LeaderWithID(); id != "" {
		return string(id)
	}
	if id, ok := s.lastLeader.Load().(string); ok && id != "" {
		return id
	}
	return "none"
}

// forward runs local on the leader, or remote against the leader from a
// follower.
func forward[Resp any](s *Server, ctx context.Context, remote func(context.Context, *grpc.ClientConn) (Resp, error), local func() (Resp, error)) (Resp, error) {
	cc, err := s.leaderConn(ctx)
	if err != nil {
		var zero Resp
		return zero, toStatus(err)
	}
	if cc == nil {
		resp, err := local()
		return resp, toStatus(err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, forwardedKey, s.cfg.NodeID)
	resp, err := remote(ctx, cc)
	if st := status.Convert(err); st.Code() == codes.Unavailable && len(st.Details()) == 0 {
		// The leader could not be reached from here: to the caller that is
		// the same as having no leader, and worth another try. (An error
		// with details is the leader's answer, as NO_LEADER or SAFE_MODE,
		// and goes back as it is.)
		err = pb.NoLeaderError(fmt.Sprintf("no leader: %s cannot reach leader %s: %s", s.cfg.NodeID, s.knownLeader(), status.Convert(err).Message()))
	}
	return resp, err
}

// apply commits a command through Raft on the leader and returns the state
// machine's verdict.
func (s *Server) apply(cmd state.Command) error {
	b, err := state.Encode(cmd)
	if err != nil {
		return err
	}
	f := s.raft.Apply(b, applyTimeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrEnqueueTimeout) {
			return fmt.Errorf("%w: %s lost or lacks leadership while applying %s (last known leader: %s): %v", ErrNoLeader, s.cfg.NodeID, cmd.Type(), s.knownLeader(), err)
		}
		return fmt.Errorf("apply %s: %w", cmd.Type(), err)
	}
	if resp, ok := f.Response().(error); ok && resp != nil {
		return resp
	}
	return nil
}

// applyAnywhere applies a command on the leader, wherever it is. Only
// commands that need no leader-side validation go this way.
func (s *Server) applyAnywhere(ctx context.Context, cmd state.Command) error {
	cc, err := s.leaderConn(ctx)
	if err != nil {
		return err
	}
	if cc == nil {
		return s.apply(cmd)
	}
	p, ok := cmd.(*state.RegisterPrimary)
	if !ok {
		return fmt.Errorf("apply %s: only RegisterPrimary is forwarded", cmd.Type())
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return registerPrimaryRemote(ctx, cc, p.Primary)
}

// verifyLeader confirms this primary still leads before it answers a read,
// so that a deposed leader never serves stale state.
func (s *Server) verifyLeader() error {
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return fmt.Errorf("%w: %s could not confirm its leadership with a quorum (last known leader: %s): %v", ErrNoLeader, s.cfg.NodeID, s.knownLeader(), err)
	}
	return nil
}

// toStatus maps errors to gRPC status codes; this is the only place that
// does, and clients branch on the codes.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, ErrNoLeader) {
		return pb.NoLeaderError(err.Error())
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, errInvalid), errors.Is(err, jobs.ErrUnknownJob), errors.Is(err, jobs.ErrBadOption),
		errors.Is(err, mapreduce.ErrBinaryInput), errors.Is(err, namespace.ErrBadPath), errors.Is(err, namespace.ErrBadReplication),
		errors.Is(err, namespace.ErrBadBlockSize):
		code = codes.InvalidArgument
	case errors.Is(err, mapreduce.ErrNoInput), errors.Is(err, state.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, mapreduce.ErrOutputExists), errors.Is(err, mapreduce.ErrOutputIsFile), errors.Is(err, state.ErrExists):
		code = codes.AlreadyExists
	case errors.Is(err, state.ErrConflict):
		code = codes.FailedPrecondition
	case errors.Is(err, state.ErrStale):
		code = codes.Aborted
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}
