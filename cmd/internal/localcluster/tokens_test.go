package localcluster_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/primary/access"
	"github.com/gomr/gomr/primary/mtls"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// TestTokens runs a TLS cluster of two primaries and a core worker and
// calls every RPC a client may call, on the follower (which forwards to
// the leader) and on the worker (which checks tokens with a primary),
// with no token, a malformed, an unknown, an expired and a revoked one,
// and one of each role made by gomr's admin: exactly what each role
// allows gets past authorisation. Then the bootstrap is refused, and no
// secret of a token made through the API is in any file the cluster
// wrote (Raft log, snapshots, node logs).
func TestTokens(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 2, Workers: ct.Roles("core"), Slots: 1})
	admin := c.Client()
	ctx := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	made := map[string]string{} // kind -> token
	create := func(kind string, role access.Role, ttl time.Duration) {
		resp, err := admin.CreateToken(ctx(), &pb.CreateTokenRequest{Name: "t-" + kind, Role: string(role), TtlSeconds: int64(ttl / time.Second)})
		if err != nil {
			t.Fatalf("create %s token: %v", kind, err)
		}
		if resp.Token.Role != string(role) || resp.Token.CreatedBy == "" || !strings.HasPrefix(resp.SecretToken, "gomr_"+resp.Token.Accessor+"_") {
			t.Fatalf("create %s token: %v", kind, resp)
		}
		made[kind] = resp.SecretToken
	}
	for _, r := range access.Roles {
		create(string(r), r, 0)
	}
	create("expired", access.RoleAdmin, time.Second)
	create("revoked", access.RoleAdmin, 0)
	unknown, _, _ := access.NewToken()

	leader := c.Leader()
	var follower ct.Node
	for _, p := range c.Primaries() {
		if p.Name() != leader.Name() {
			follower = p
		}
	}
	dial := func(addr, token string) *grpc.ClientConn {
		opts := []grpc.DialOption{c.ClientTLS().DialOption()}
		if token != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(mtls.Bearer(token)))
		}
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	wait := func(what string, cc *grpc.ClientConn, call func(*grpc.ClientConn) error, want codes.Code) error {
		t.Helper()
		var err error
		ct.WaitFor(t, what, 10*time.Second, func() bool { err = call(cc); return status.Code(err) == want })
		return err
	}
	listSteps := func(cc *grpc.ClientConn) error {
		_, err := pb.NewClientClient(cc).ListSteps(ctx(), &pb.ListStepsRequest{})
		return err
	}
	listLogs := func(cc *grpc.ClientConn) error {
		_, err := workerpb.NewLogsClient(cc).ListLogs(ctx(), &workerpb.ListLogsRequest{StepId: "s-none"})
		return err
	}
	worker := c.Workers()[0].Addr()
	// The revoked token works until it is revoked, on the follower and on
	// the worker (which then keeps it for a short while: see below).
	if err := wait("the new token to reach the follower", dial(follower.Addr(), made["revoked"]), listSteps, codes.OK); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeToken(ctx(), &pb.RevokeTokenRequest{Accessor: accessorOf(t, made["revoked"])}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if err := listSteps(dial(leader.Addr(), made["revoked"])); status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "unknown or revoked") {
		t.Fatalf("a revoked token on the leader: %v", err)
	}
	wait("the revocation to reach the follower", dial(follower.Addr(), made["revoked"]), listSteps, codes.Unauthenticated)
	if err := wait("the token to expire", dial(leader.Addr(), made["expired"]), listSteps, codes.Unauthenticated); !strings.Contains(err.Error(), "expired at") {
		t.Fatalf("an expired token: %v", err)
	}
	made["unknown"], made["malformed"], made["none"] = unknown, "gomr_0123", ""

	for _, m := range slices.Sorted(func(yield func(string) bool) {
		for m := range mtls.TokenPolicy {
			if !yield(m) {
				return
			}
		}
	}) {
		need := mtls.TokenPolicy[m]
		addr := follower.Addr()
		if strings.HasPrefix(m, "/gomr.hdfs.DataNode/") || strings.HasPrefix(m, "/gomr.worker.Logs/") {
			addr = worker
		}
		for _, kind := range []string{"none", "malformed", "unknown", "expired", "revoked", "read", "submit", "admin"} {
			err := invokeEmpty(t, dial(addr, made[kind]), m)
			code := status.Code(err)
			role, valid := access.Role(kind), slices.Contains(access.Roles, access.Role(kind))
			switch {
			case m == pb.Client_BootstrapToken_FullMethodName:
				// Open to any client certificate, and refused: the
				// cluster has its admin token.
				if code != codes.PermissionDenied || !strings.Contains(err.Error(), "has an admin token already") {
					t.Errorf("%s with %s: %v; want the refusal of a second bootstrap", m, kind, err)
				}
			case !valid:
				if code != codes.Unauthenticated {
					t.Errorf("%s with a %s token: %v; want Unauthenticated", m, kind, err)
				}
			case role.Allows(need):
				if code == codes.Unauthenticated || code == codes.PermissionDenied {
					t.Errorf("%s with a %s token (needs %s): %v; want it past authorisation", m, kind, need, err)
				}
			default:
				if code != codes.PermissionDenied || !strings.Contains(err.Error(), "needs a token of role "+string(need)) {
					t.Errorf("%s with a %s token (needs %s): %v; want PermissionDenied", m, kind, need, err)
				}
			}
		}
	}

	// A token revoked before a worker saw it is refused there at once.
	create("fresh", access.RoleRead, 0)
	wait("the new token to reach the follower", dial(follower.Addr(), made["fresh"]), listSteps, codes.OK)
	if _, err := admin.RevokeToken(ctx(), &pb.RevokeTokenRequest{Accessor: accessorOf(t, made["fresh"])}); err != nil {
		t.Fatal(err)
	}
	if err := listLogs(dial(worker, made["fresh"])); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a revoked token the worker had not seen: %v; want Unauthenticated", err)
	}

	// A token with data roots submits steps under them only, on any
	// primary.
	mine, other := t.TempDir(), t.TempDir()
	for _, d := range []string{mine, other} {
		if err := os.WriteFile(filepath.Join(d, "in.txt"), []byte("a b a\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := admin.CreateToken(ctx(), &pb.CreateTokenRequest{Name: "t-confined", Role: "submit", DataRoots: []string{mine}})
	if err != nil || !slices.Equal(resp.Token.DataRoots, []string{mine}) {
		t.Fatalf("create a confined token: %v, %v", resp, err)
	}
	confined := resp.SecretToken
	if _, err := admin.CreateToken(ctx(), &pb.CreateTokenRequest{Name: "t-bad", Role: "submit", DataRoots: []string{"relative/dir"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a token with a relative data root: %v, want InvalidArgument", err)
	}
	wait("the confined token to reach the follower", dial(follower.Addr(), confined), listSteps, codes.OK)
	for _, addr := range []string{leader.Addr(), follower.Addr()} {
		cl := pb.NewClientClient(dial(addr, confined))
		_, err := cl.SubmitStep(ctx(), &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{filepath.Join(other, "in.txt")}, Output: filepath.Join(mine, "out-"+filepath.Base(addr)), Reducers: 1}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "outside them") || !strings.Contains(err.Error(), `"t-confined"`) {
			t.Errorf("a confined token reading outside its roots on %s: %v", addr, err)
		}
		_, err = cl.SubmitStep(ctx(), &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{filepath.Join(mine, "in.txt")}, Output: filepath.Join(other, "out-"+filepath.Base(addr)), Reducers: 1}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "output") {
			t.Errorf("a confined token writing outside its roots on %s: %v", addr, err)
		}
		sub, err := cl.SubmitStep(ctx(), &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{filepath.Join(mine, "in.txt")}, Output: filepath.Join(mine, "out-"+strings.ReplaceAll(addr, ":", "_")), Reducers: 1}})
		if err != nil {
			t.Fatalf("a confined token within its roots on %s: %v", addr, err)
		}
		ct.MustComplete(t, c.Wait(sub.StepId))
	}

	list, err := admin.ListTokens(ctx(), &pb.ListTokensRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tok := range list.Tokens {
		names = append(names, tok.Name)
	}
	slices.Sort(names)
	if want := []string{"local-admin", "t-admin", "t-confined", "t-expired", "t-read", "t-submit"}; !slices.Equal(names, want) {
		t.Errorf("ListTokens: %v, want %v", names, want)
	}

	// No secret of these tokens is in any file of the cluster.
	filepath.WalkDir(c.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for kind, tok := range made {
			if _, secret, err := access.ParseToken(tok); err == nil && kind != "unknown" && bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds the secret of the %s token", path, kind)
			}
		}
		return nil
	})
}

func accessorOf(t *testing.T, token string) string {
	t.Helper()
	a, _, err := access.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// invokeEmpty calls a method with an empty request: unary, or a stream
// that sends one empty message and reads the answer.
func invokeEmpty(t *testing.T, cc *grpc.ClientConn, method string) error {
	t.Helper()
	service, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !md.IsStreamingClient() && !md.IsStreamingServer() {
		return cc.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{})
	}
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	s.SendMsg(&emptypb.Empty{})
	s.CloseSend()
	return s.RecvMsg(&emptypb.Empty{})
}
