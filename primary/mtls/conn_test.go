package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/primary/pki"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

const listSteps = "/gomr.primary.Client/ListSteps"

// rawTLS returns client credentials built directly from crypto/tls, so
// that the rejections below do not depend on this package's client side.
func rawTLS(t *testing.T, caFile string, pair *tls.Certificate) grpc.DialOption {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if pair != nil {
		cfg.Certificates = []tls.Certificate{*pair}
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}

func pairOf(t *testing.T, is *pki.Issued) *tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestRejectedClients: without a certificate, with one of another CA,
// with an expired one, or in plaintext, a client gets no answer at all:
// the handshake fails, so the call never reaches a handler (which would
// say Unimplemented here).
func TestRejectedClients(t *testing.T) {
	p := newTestPKI(t)
	addr := serveAll(t, p.load(p.issue(pki.RolePrimary, "server"), -1))
	caFile := p.dir + "/" + pki.CACertFile

	other, err := pki.NewCA("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue(pki.Request{Role: pki.RoleClient, Name: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := p.ca.Issue(pki.Request{Role: pki.RoleClient, Name: "old", NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	good, err := p.ca.Issue(pki.Request{Role: pki.RoleClient, Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		opt  grpc.DialOption
		want codes.Code
	}{
		{"no certificate", rawTLS(t, caFile, nil), codes.Unavailable},
		{"another CA", rawTLS(t, caFile, pairOf(t, foreign)), codes.Unavailable},
		{"expired", rawTLS(t, caFile, pairOf(t, expired)), codes.Unavailable},
		{"plaintext", grpc.WithTransportCredentials(insecure.NewCredentials()), codes.Unavailable},
		// The control: the same client side with a good certificate
		// reaches the handler.
		{"good certificate", rawTLS(t, caFile, pairOf(t, good)), codes.Unimplemented},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := dial(t, addr, c.opt).Invoke(callCtx(t), listSteps, &emptypb.Empty{}, &emptypb.Empty{})
			if got := status.Code(err); got != c.want {
				t.Fatalf("ListSteps: got %v (%v), want %v", got, err, c.want)
			}
		})
	}
}

// TestClientRefusesForeignServer: a client does not talk to a server
// whose certificate another CA signed, nor to one holding a client
// certificate.
func TestClientRefusesForeignServer(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	client := p.load(p.issue(pki.RoleClient, "alice"), -1)
	for name, id := range map[string]*Identity{
		"another CA":         other.load(other.issue(pki.RolePrimary, "server"), -1),
		"client certificate": p.load(p.issue(pki.RoleClient, "server"), -1),
	} {
		t.Run(name, func(t *testing.T) {
			addr := serveAll(t, id)
			err := dial(t, addr, client.DialOption()).Invoke(callCtx(t), listSteps, &emptypb.Empty{}, &emptypb.Empty{})
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("ListSteps: %v, want Unavailable", err)
			}
		})
	}
}

// serverSerial calls the server on a new connection and returns the
// serial number of the certificate it presented.
func serverSerial(t *testing.T, addr string, client *Identity) string {
	t.Helper()
	var pr peer.Peer
	err := dial(t, addr, client.DialOption()).Invoke(callCtx(t), listSteps, &emptypb.Empty{}, &emptypb.Empty{}, grpc.Peer(&pr))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("ListSteps: %v, want Unimplemented", err)
	}
	return pr.AuthInfo.(credentials.TLSInfo).State.PeerCertificates[0].SerialNumber.Text(16)
}

// TestRotation: a server whose certificate files are replaced presents
// the new certificate on new connections, without a restart: after
// Reload (SIGHUP) and, separately, by noticing the files changed.
func TestRotation(t *testing.T) {
	for _, how := range []string{"reload", "watch"} {
		t.Run(how, func(t *testing.T) {
			p := newTestPKI(t)
			poll := time.Duration(-1)
			if how == "watch" {
				poll = 10 * time.Millisecond
			}
			server := p.load(p.issue(pki.RolePrimary, "server"), poll)
			addr := serveAll(t, server)
			client := p.load(p.issue(pki.RoleClient, "alice"), -1)
			first := server.Certificate().SerialNumber.Text(16)
			if got := serverSerial(t, addr, client); got != first {
				t.Fatalf("server presented %s, want %s", got, first)
			}
			next := p.issue(pki.RolePrimary, "server") // same files, new pair
			if how == "reload" {
				if err := server.Reload(); err != nil {
					t.Fatal(err)
				}
			} else {
				waitFor(t, func() bool { return server.Generation() > 1 })
			}
			second := server.Certificate().SerialNumber.Text(16)
			b, _ := os.ReadFile(next.Cert)
			onDisk, err := pki.ParseCertificate(b, next.Cert)
			if err != nil {
				t.Fatal(err)
			}
			if second == first || second != onDisk.SerialNumber.Text(16) {
				t.Fatalf("after rotation the server holds %s; first %s, on disk %s", second, first, onDisk.SerialNumber.Text(16))
			}
			if got := serverSerial(t, addr, client); got != second {
				t.Fatalf("after rotation the server presented %s, want %s", got, second)
			}
		})
	}
}

// TestBadReloadKeepsPair: files that do not load leave the current pair
// in use.
func TestBadReloadKeepsPair(t *testing.T) {
	p := newTestPKI(t)
	f := p.issue(pki.RolePrimary, "server")
	server := p.load(f, -1)
	addr := serveAll(t, server)
	client := p.load(p.issue(pki.RoleClient, "alice"), -1)
	first := server.Certificate().SerialNumber.Text(16)
	if err := os.WriteFile(f.Key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := server.Reload()
	if err == nil || !strings.Contains(err.Error(), f.Key) {
		t.Fatalf("Reload with a broken key: %v, want an error naming %s", err, f.Key)
	}
	if got := serverSerial(t, addr, client); got != first {
		t.Fatalf("server presented %s, want the old %s", got, first)
	}
}

// TestLoadErrors: Load names what is wrong.
func TestLoadErrors(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	good := p.issue(pki.RoleWorker, "w1")
	foreign := other.issue(pki.RoleWorker, "w2")
	expired, err := p.ca.Issue(pki.Request{Role: pki.RoleWorker, Name: "old", NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	old := p.save(expired, "old")
	cases := []struct {
		name  string
		files Files
		want  string
	}{
		{"missing key flag", Files{Cert: good.Cert, CA: good.CA}, "--tls-key is missing"},
		{"missing file", Files{Cert: good.Cert, Key: good.Key + ".nope", CA: good.CA}, "w1.key.nope"},
		{"key of another certificate", Files{Cert: good.Cert, Key: foreign.Key, CA: good.CA}, "private key does not match public key"},
		{"another CA", Files{Cert: foreign.Cert, Key: foreign.Key, CA: good.CA}, "unknown authority"},
		{"expired", old, "expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(Options{Files: c.files, Poll: -1})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestRaftStreamLayer: primaries reach each other over TLS; a worker
// certificate is refused both as a caller and as a server.
func TestRaftStreamLayer(t *testing.T) {
	p := newTestPKI(t)
	layer := func(id *Identity) *streamLayer {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := NewStreamLayer(lis, id).(*streamLayer)
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(c, c); c.Close() }()
			}
		}()
		return l
	}
	p1 := layer(p.load(p.issue(pki.RolePrimary, "p1"), -1))
	p2 := layer(p.load(p.issue(pki.RolePrimary, "p2"), -1))
	w := layer(p.load(p.issue(pki.RoleWorker, "w1"), -1))

	c, err := p2.Dial(raftAddr(p1), 5*time.Second)
	if err != nil {
		t.Fatalf("primary to primary: %v", err)
	}
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo over raft TLS: %q, %v", buf, err)
	}
	c.Close()

	// A worker dialling a primary: the primary refuses it in the
	// handshake, which the worker sees on its first read.
	if c, err := w.Dial(raftAddr(p1), 5*time.Second); err == nil {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, buf); err == nil {
			t.Fatal("a worker certificate got an answer from a primary's raft transport")
		}
		c.Close()
	}
	// A primary dialling a worker's listener refuses the worker's
	// certificate.
	if _, err := p1.Dial(raftAddr(w), 5*time.Second); err == nil || !strings.Contains(err.Error(), "is not a") {
		t.Fatalf("primary dialling a worker: %v, want a refusal of its role", err)
	}
}

func raftAddr(l *streamLayer) raft.ServerAddress { return raft.ServerAddress(l.Addr().String()) }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
