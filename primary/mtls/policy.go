package mtls

import (
	"context"
	"slices"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/primary/pki"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Role sets of the policy table.
var (
	primaryOnly     = []pki.Role{pki.RolePrimary}
	workerOrPrimary = []pki.Role{pki.RoleWorker, pki.RolePrimary}
	clientOrPrimary = []pki.Role{pki.RoleClient, pki.RolePrimary}
	workerOnly      = []pki.Role{pki.RoleWorker}
	clientOnly      = []pki.Role{pki.RoleClient}
	anyRole         = []pki.Role{pki.RoleClient, pki.RoleWorker, pki.RolePrimary}
)

// Policy names, for each RPC of each service, the roles that may call it.
// A method missing here is denied to everyone. Primaries appear beside
// clients and workers where a follower forwards their calls to the
// leader: the follower has checked the caller's role already.
var Policy = map[string][]pki.Role{
	// Client: steps, nodes, administration. Clients only (and a follower
	// forwarding them).
	pb.Client_SubmitStep_FullMethodName:         clientOrPrimary,
	pb.Client_ListSteps_FullMethodName:          clientOrPrimary,
	pb.Client_DescribeStep_FullMethodName:       clientOrPrimary,
	pb.Client_ListTasks_FullMethodName:          clientOrPrimary,
	pb.Client_CancelStep_FullMethodName:         clientOrPrimary,
	pb.Client_ListNodes_FullMethodName:          clientOrPrimary,
	pb.Client_RemovePrimary_FullMethodName:      clientOrPrimary,
	pb.Client_KillAttempt_FullMethodName:        clientOrPrimary,
	pb.Client_DrainWorker_FullMethodName:        clientOrPrimary,
	pb.Client_DecommissionWorker_FullMethodName: clientOrPrimary,
	pb.Client_CreateToken_FullMethodName:        clientOrPrimary,
	pb.Client_ListTokens_FullMethodName:         clientOrPrimary,
	pb.Client_RevokeToken_FullMethodName:        clientOrPrimary,
	pb.Client_BootstrapToken_FullMethodName:     clientOrPrimary,

	// Peer: the primaries among themselves.
	pb.Peer_RegisterPrimary_FullMethodName: primaryOnly,
	pb.Peer_AddPrimary_FullMethodName:      primaryOnly,
	pb.Peer_Status_FullMethodName:          primaryOnly,

	// Worker: registration, heartbeats, work. Workers only (and a
	// follower forwarding them).
	pb.Worker_Join_FullMethodName:               workerOrPrimary,
	pb.Worker_Register_FullMethodName:           workerOrPrimary,
	pb.Worker_Heartbeat_FullMethodName:          workerOrPrimary,
	pb.Worker_PollTasks_FullMethodName:          workerOrPrimary,
	pb.Worker_ReportAttempt_FullMethodName:      workerOrPrimary,
	pb.Worker_MapOutputs_FullMethodName:         workerOrPrimary,
	pb.Worker_ReportFetchFailure_FullMethodName: workerOrPrimary,
	// A worker checks a client's token with the leader.
	pb.Worker_CheckToken_FullMethodName: workerOrPrimary,

	// NameNode: the HDFS namespace, used by clients (gomr hdfs), tasks on
	// workers and the primaries themselves (listing inputs, committing).
	hdfspb.NameNode_Mkdirs_FullMethodName:            anyRole,
	hdfspb.NameNode_Create_FullMethodName:            anyRole,
	hdfspb.NameNode_AddBlock_FullMethodName:          anyRole,
	hdfspb.NameNode_AbandonBlock_FullMethodName:      anyRole,
	hdfspb.NameNode_Complete_FullMethodName:          anyRole,
	hdfspb.NameNode_Abandon_FullMethodName:           anyRole,
	hdfspb.NameNode_RenewLease_FullMethodName:        anyRole,
	hdfspb.NameNode_GetFileInfo_FullMethodName:       anyRole,
	hdfspb.NameNode_List_FullMethodName:              anyRole,
	hdfspb.NameNode_GetBlockLocations_FullMethodName: anyRole,
	hdfspb.NameNode_Delete_FullMethodName:            anyRole,
	hdfspb.NameNode_Rename_FullMethodName:            anyRole,
	hdfspb.NameNode_SetReplication_FullMethodName:    anyRole,
	hdfspb.NameNode_ReportBadBlocks_FullMethodName:   anyRole,
	hdfspb.NameNode_ContentSummary_FullMethodName:    anyRole,
	// Administration: clients (gomr hdfs df, fsck, dfsadmin -safemode).
	hdfspb.NameNode_Stats_FullMethodName:    clientOrPrimary,
	hdfspb.NameNode_Fsck_FullMethodName:     clientOrPrimary,
	hdfspb.NameNode_SafeMode_FullMethodName: clientOrPrimary,

	// DataNode, on core workers: block reads and writes from anyone who
	// reads or writes HDFS files; the write pipeline runs worker to
	// worker. Transfers (re-replication) are ordered by the cluster only.
	hdfspb.DataNode_WriteBlock_FullMethodName:    anyRole,
	hdfspb.DataNode_ReadBlock_FullMethodName:     anyRole,
	hdfspb.DataNode_TransferBlock_FullMethodName: workerOrPrimary,

	// Shuffle, on workers: reducers fetch map outputs.
	workerpb.Shuffle_Fetch_FullMethodName: workerOnly,

	// Logs, on workers: gomr step logs.
	workerpb.Logs_ListLogs_FullMethodName: clientOnly,
	workerpb.Logs_ReadLog_FullMethodName:  clientOnly,
}

// Allowed reports whether role may call the method (a full gRPC method
// name, /package.Service/Method).
func Allowed(method string, role pki.Role) bool {
	return slices.Contains(Policy[method], role)
}

func (a *authz) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	who, err := a.id.authorize(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if ctx, err = a.authorizeToken(ctx, info.FullMethod, who); err != nil {
		return nil, err
	}
	if err := a.id.checkWorkerID(who, info.FullMethod, req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// checkWorkerID makes a worker speak only for itself: a call from a
// worker certificate that names a worker (registration, heartbeats,
// polls, reports) must name the certificate's own.
func (id *Identity) checkWorkerID(who pki.Principal, method string, req any) error {
	if who.Role != pki.RoleWorker {
		return nil
	}
	var named string
	switch r := req.(type) {
	case *pb.RegisterRequest:
		named = r.GetWorker().GetId()
	case interface{ GetWorkerId() string }:
		named = r.GetWorkerId()
	default:
		return nil
	}
	if named != who.Name {
		id.log.Warn("call denied: a worker speaking for another", "principal", who.String(), "method", method, "worker", named)
		return status.Errorf(codes.PermissionDenied, "%s: the certificate of worker %s cannot speak for worker %q", method, who.Name, named)
	}
	return nil
}

func (a *authz) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	who, err := a.id.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	ctx, err := a.authorizeToken(ss.Context(), info.FullMethod, who)
	if err != nil {
		return err
	}
	return handler(srv, &callerStream{ServerStream: ss, ctx: ctx})
}

// callerStream is a server stream whose context names the caller.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *callerStream) Context() context.Context { return s.ctx }

// authorize checks the caller's certificate role against the policy and
// returns who the caller is.
func (id *Identity) authorize(ctx context.Context, method string) (pki.Principal, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return pki.Principal{}, status.Error(codes.Unauthenticated, "no peer")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return pki.Principal{}, status.Error(codes.Unauthenticated, "connection is not TLS")
	}
	who, err := peerPrincipal(info.State.VerifiedChains, info.State.PeerCertificates)
	if err != nil {
		id.log.Warn("call denied: caller has no role", "method", method, "peer", p.Addr.String(), "err", err)
		return who, status.Errorf(codes.PermissionDenied, "%s: caller's certificate names no role: %v", method, err)
	}
	if !Allowed(method, who.Role) {
		id.log.Warn("call denied", "principal", who.String(), "method", method, "peer", p.Addr.String())
		return who, status.Errorf(codes.PermissionDenied, "%s may not be called with a %s certificate (%s)", method, who.Role, who)
	}
	return who, nil
}
