package mtls

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/primary/pki"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// rpc is one method of a service, as its descriptor declares it.
type rpc struct {
	service, method string
	streaming       bool
	input           protoreflect.FullName
}

func (r rpc) fullName() string { return "/" + r.service + "/" + r.method }

// allRPCs enumerates every method of every gomr service linked into the
// binary, from the protobuf registry: a new RPC shows up here without
// anyone listing it.
func allRPCs(t *testing.T) []rpc {
	var out []rpc
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "gomr.") {
			return true
		}
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				out = append(out, rpc{service: string(sd.FullName()), method: string(md.Name()), streaming: md.IsStreamingClient() || md.IsStreamingServer(), input: md.Input().FullName()})
			}
		}
		return true
	})
	if len(out) < 40 {
		t.Fatalf("found %d RPCs in the registry; the generated packages are not linked", len(out))
	}
	slices.SortFunc(out, func(a, b rpc) int { return strings.Compare(a.fullName(), b.fullName()) })
	return out
}

// TestPolicyCoversEveryRPC checks that the table has a row for every RPC
// and none for an RPC that does not exist.
func TestPolicyCoversEveryRPC(t *testing.T) {
	known := map[string]bool{}
	for _, r := range allRPCs(t) {
		known[r.fullName()] = true
		if len(Policy[r.fullName()]) == 0 {
			t.Errorf("%s has no row in the policy table: every RPC must name the roles that may call it", r.fullName())
		}
	}
	for m := range Policy {
		if !known[m] {
			t.Errorf("policy row %s names no RPC of any service", m)
		}
	}
}

// expected is the intended rule, written by service with the exceptions
// spelt out, independently of the table.
func expected(r rpc, role pki.Role) bool {
	primary, worker, client := role == pki.RolePrimary, role == pki.RoleWorker, role == pki.RoleClient
	switch r.service {
	case "gomr.primary.Client":
		return client || primary
	case "gomr.primary.Peer":
		return primary
	case "gomr.primary.Worker":
		return worker || primary
	case "gomr.hdfs.NameNode":
		switch r.method {
		case "Stats", "Fsck", "SafeMode":
			return client || primary
		}
		return true
	case "gomr.hdfs.DataNode":
		if r.method == "TransferBlock" {
			return worker || primary
		}
		return true
	case "gomr.worker.Shuffle":
		return worker
	case "gomr.worker.Logs":
		return client
	}
	return false
}

// TestEveryRPCEveryRole calls every RPC of every service with a
// certificate of every role, over real TLS connections, and checks that
// exactly the allowed calls reach the handler (Unimplemented) and the
// others get PermissionDenied.
func TestEveryRPCEveryRole(t *testing.T) {
	p := newTestPKI(t)
	addr := serveAll(t, p.load(p.issue(pki.RolePrimary, "server"), -1))
	rpcs := allRPCs(t)
	for _, role := range pki.Roles {
		name := "caller-" + string(role)
		cc := dial(t, addr, p.load(p.issue(role, name), -1).DialOption())
		for _, r := range rpcs {
			t.Run(fmt.Sprintf("%s/%s", role, strings.TrimPrefix(r.fullName(), "/")), func(t *testing.T) {
				err := invoke(t, cc, r, request(t, r, name))
				want := codes.PermissionDenied
				if expected(r, role) {
					want = codes.Unimplemented
				}
				if got := status.Code(err); got != want {
					t.Fatalf("%s called with a %s certificate: got %v (%v), want %v", r.fullName(), role, got, err, want)
				}
				if Allowed(r.fullName(), role) != expected(r, role) {
					t.Fatalf("Allowed(%s, %s) = %v, want %v", r.fullName(), role, !expected(r, role), expected(r, role))
				}
			})
		}
	}
}

// TestWorkerCannotSubmitClientCannotRegister names the two cases the
// policy exists for.
func TestWorkerCannotSubmitClientCannotRegister(t *testing.T) {
	p := newTestPKI(t)
	addr := serveAll(t, p.load(p.issue(pki.RolePrimary, "server"), -1))
	w := dial(t, addr, p.load(p.issue(pki.RoleWorker, "w1"), -1).DialOption())
	c := dial(t, addr, p.load(p.issue(pki.RoleClient, "alice"), -1).DialOption())
	err := invoke(t, w, rpc{service: "gomr.primary.Client", method: "SubmitStep"}, &emptypb.Empty{})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "worker/w1") {
		t.Errorf("worker calling SubmitStep: %v, want PermissionDenied naming worker/w1", err)
	}
	err = invoke(t, c, rpc{service: "gomr.primary.Worker", method: "Register"}, &pb.RegisterRequest{Worker: &pb.WorkerInfo{Id: "alice"}})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "client/alice") {
		t.Errorf("client calling Register: %v, want PermissionDenied naming client/alice", err)
	}
}

// TestWorkerSpeaksForItselfOnly: a worker certificate registers,
// heartbeats and reports as its own worker only.
func TestWorkerSpeaksForItselfOnly(t *testing.T) {
	p := newTestPKI(t)
	addr := serveAll(t, p.load(p.issue(pki.RolePrimary, "server"), -1))
	w := dial(t, addr, p.load(p.issue(pki.RoleWorker, "core-1"), -1).DialOption())
	prim := dial(t, addr, p.load(p.issue(pki.RolePrimary, "p2"), -1).DialOption())
	for _, c := range []struct {
		cc   *grpc.ClientConn
		r    rpc
		req  proto.Message
		want codes.Code
	}{
		{w, rpc{service: "gomr.primary.Worker", method: "Register"}, &pb.RegisterRequest{Worker: &pb.WorkerInfo{Id: "core-1"}}, codes.Unimplemented},
		{w, rpc{service: "gomr.primary.Worker", method: "Register"}, &pb.RegisterRequest{Worker: &pb.WorkerInfo{Id: "core-2"}}, codes.PermissionDenied},
		{w, rpc{service: "gomr.primary.Worker", method: "Heartbeat"}, &pb.HeartbeatRequest{WorkerId: "core-2"}, codes.PermissionDenied},
		{w, rpc{service: "gomr.primary.Worker", method: "ReportAttempt"}, &pb.ReportAttemptRequest{WorkerId: "core-2"}, codes.PermissionDenied},
		{w, rpc{service: "gomr.primary.Worker", method: "PollTasks"}, &pb.PollTasksRequest{WorkerId: "core-1"}, codes.Unimplemented},
		// A primary forwards any worker's calls.
		{prim, rpc{service: "gomr.primary.Worker", method: "Heartbeat"}, &pb.HeartbeatRequest{WorkerId: "core-2"}, codes.Unimplemented},
	} {
		if err := invoke(t, c.cc, c.r, c.req); status.Code(err) != c.want {
			t.Errorf("%s %v: %v, want %v", c.r.method, c.req, err, c.want)
		}
	}
}

// request makes an empty request of r's input type naming the caller
// where it names a worker (worker_id, or worker.id).
func request(t *testing.T, r rpc, caller string) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(r.input)
	if err != nil {
		t.Fatalf("%s: input type %s: %v", r.fullName(), r.input, err)
	}
	m := mt.New()
	fields := m.Descriptor().Fields()
	if fd := fields.ByName("worker_id"); fd != nil {
		m.Set(fd, protoreflect.ValueOfString(caller))
	}
	if fd := fields.ByName("worker"); fd != nil && fd.Message() != nil {
		sub := m.Mutable(fd).Message()
		if id := sub.Descriptor().Fields().ByName("id"); id != nil {
			sub.Set(id, protoreflect.ValueOfString(caller))
		}
	}
	return m.Interface()
}

// invoke calls r with an empty request: unary, or a stream that sends
// one empty message and reads the answer.
func invoke(t *testing.T, cc *grpc.ClientConn, r rpc, req proto.Message) error {
	ctx := callCtx(t)
	if !r.streaming {
		return cc.Invoke(ctx, r.fullName(), req, &emptypb.Empty{})
	}
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, r.fullName())
	if err != nil {
		return err
	}
	if err := s.SendMsg(req); err != nil && status.Code(err) == codes.OK {
		return err
	}
	s.CloseSend()
	return s.RecvMsg(&emptypb.Empty{})
}
