package clustertest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/primary/mtls"
	"github.com/gomr/gomr/primary/pki"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc"
)

// testPKI is the CA of a cluster of processes with TLS (without
// Options.Plaintext), in the cluster's folder, and the files it issued.
type testPKI struct {
	dir       string
	ca        *pki.CA
	gossipKey string // file
}

func newTestPKI(t testing.TB, dir string) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("gomr test CA", pki.DefaultValidity)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: dir, ca: ca, gossipKey: filepath.Join(dir, pki.GossipKeyFile)}
	if err := pki.SaveGossipKey(p.gossipKey, pki.NewGossipKey()); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue writes a certificate for role and name, valid on loopback.
func (p *testPKI) issue(t testing.TB, role pki.Role, name string) mtls.Files {
	t.Helper()
	is, err := p.ca.Issue(pki.Request{Role: role, Name: name, Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := is.Save(p.dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return mtls.Files{Cert: cert, Key: key, CA: filepath.Join(p.dir, pki.CACertFile)}
}

// nodeArgs are the TLS arguments of a node process.
func (p *testPKI) nodeArgs(t testing.TB, role pki.Role, name string) []string {
	f := p.issue(t, role, name)
	return []string{"--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-ca", f.CA, "--gossip-key", "@" + p.gossipKey}
}

// load loads an identity for the harness's own calls.
func load(t testing.TB, f mtls.Files) *mtls.Identity {
	t.Helper()
	id, err := mtls.Load(mtls.Options{Files: f, Poll: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(id.Close)
	return id
}

// ClientTLS returns the client identity of a TLS cluster (nil for a
// plaintext one): tests that dial the cluster themselves use it.
func (b *base) ClientTLS() *mtls.Identity { return b.clientTLS }

// ClientTLSFiles returns the client certificate files of a TLS cluster
// (empty for a plaintext one), for gomr client commands
// (GOMR_TLS_CERT...).
func (b *base) ClientTLSFiles() mtls.Files { return b.clientFiles }

// status asks one primary for its Raft status and state digest, as a
// primary (Peer.Status is a primaries' call).
func (b *base) status(ctx context.Context, addr string) (*pb.Primary, error) {
	return StatusTLS(ctx, addr, b.peerTLS)
}

// StatusTLS is Status with a primary's identity (nil: plaintext).
func StatusTLS(ctx context.Context, addr string, peer *mtls.Identity) (*pb.Primary, error) {
	conn, err := pb.Dial([]string{addr}, peer.DialOption())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return pb.NewPeerClient(conn).Status(ctx, &pb.StatusRequest{Digest: true})
}

// PrimaryStatus asks the primary at addr for its Raft status and state
// digest, with a primary's certificate on a TLS cluster.
func (b *base) PrimaryStatus(ctx context.Context, addr string) (*pb.Primary, error) {
	return b.status(ctx, addr)
}

// DialAs connects to the given primaries as the cluster's client (with
// its certificate and admin token on a TLS cluster).
func (b *base) DialAs(addrs ...string) (*pb.Conn, error) {
	return pb.Dial(addrs, b.DialOptions()...)
}

// DialOptions are the credentials of a client of the cluster: its
// certificate and admin token on a TLS cluster, plaintext otherwise.
func (b *base) DialOptions() []grpc.DialOption {
	return b.clientTLS.ClientDialOptions(b.clientToken)
}

// PeerDialOptions are the credentials of a primary of the cluster (on a
// TLS cluster, a primary's certificate, which may make the workers' and
// the primaries' calls): for tests that speak as a part of the cluster.
func (b *base) PeerDialOptions() []grpc.DialOption {
	return []grpc.DialOption{b.peerTLS.DialOption()}
}

// ClientToken returns the admin token of a TLS cluster ("" for a
// plaintext one).
func (b *base) ClientToken() string { return b.clientToken }

// Env returns the environment a gomr client command needs to reach the
// cluster: GOMR_CLUSTER and, with TLS, the client certificate and token.
func (b *base) Env() []string {
	env := []string{"GOMR_CLUSTER=" + strings.Join(b.Addrs(), ",")}
	if f := b.clientFiles; f.Set() {
		env = append(env, "GOMR_TLS_CERT="+f.Cert, "GOMR_TLS_KEY="+f.Key, "GOMR_TLS_CA="+f.CA, "GOMR_TOKEN="+b.clientToken)
	}
	return env
}

// bootstrapToken gives a TLS cluster of processes its admin token.
func (b *base) bootstrapToken(t testing.TB) {
	t.Helper()
	conn, err := pb.Dial(b.Addrs(), b.clientTLS.DialOption())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp := retry(t, "bootstrap the admin token", 30*time.Second, 5*time.Second, func(ctx context.Context) (*pb.CreateTokenResponse, error) {
		return pb.NewClientClient(conn).BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: "harness-admin"})
	})
	b.clientToken = resp.SecretToken
}
