package mtls

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/primary/pki"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
)

// testPKI is a CA in a temporary folder.
type testPKI struct {
	t   *testing.T
	dir string
	ca  *pki.CA
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("test CA", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	return &testPKI{t: t, dir: dir, ca: ca}
}

// issue writes a certificate for role and name, valid on loopback.
func (p *testPKI) issue(role pki.Role, name string) Files {
	p.t.Helper()
	is, err := p.ca.Issue(pki.Request{Role: role, Name: name, Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		p.t.Fatal(err)
	}
	return p.save(is, name)
}

func (p *testPKI) save(is *pki.Issued, name string) Files {
	p.t.Helper()
	cert, key, err := is.Save(p.dir, name)
	if err != nil {
		p.t.Fatal(err)
	}
	return Files{Cert: cert, Key: key, CA: p.dir + "/" + pki.CACertFile}
}

func (p *testPKI) load(f Files, poll time.Duration) *Identity {
	p.t.Helper()
	id, err := Load(Options{Files: f, Poll: poll})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(id.Close)
	return id
}

// serveAll starts a gRPC server with the identity that registers every
// service with handlers that answer Unimplemented: a call that passes
// authorisation gets Unimplemented, one that does not PermissionDenied.
func serveAll(t *testing.T, id *Identity) string {
	t.Helper()
	return serveAllWithTokens(t, id, nil)
}

// serveAllWithTokens is serveAll on a server that checks client tokens
// with tokens.
func serveAllWithTokens(t *testing.T, id *Identity, tokens TokenChecker) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(id.ServerOptions(tokens)...)
	pb.RegisterClientServer(s, pb.UnimplementedClientServer{})
	pb.RegisterPeerServer(s, pb.UnimplementedPeerServer{})
	pb.RegisterWorkerServer(s, pb.UnimplementedWorkerServer{})
	hdfspb.RegisterNameNodeServer(s, hdfspb.UnimplementedNameNodeServer{})
	hdfspb.RegisterDataNodeServer(s, hdfspb.UnimplementedDataNodeServer{})
	workerpb.RegisterShuffleServer(s, workerpb.UnimplementedShuffleServer{})
	workerpb.RegisterLogsServer(s, workerpb.UnimplementedLogsServer{})
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func dial(t *testing.T, addr string, opt grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
