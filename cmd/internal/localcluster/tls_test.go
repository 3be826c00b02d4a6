package localcluster_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/primary/mtls"
	"github.com/gomr/gomr/primary/pki"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestTLSCluster runs a cluster with mutual TLS everywhere (three
// primaries over a TLS Raft transport, core and task workers, HDFS
// blocks written through a pipeline and read back, the shuffle) and
// checks a word count exactly; then that strangers get nothing and that
// certificates of the wrong role are refused.
func TestTLSCluster(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "core", "task"), Slots: 2})
	id := c.ClientTLS()
	if id == nil || id.Principal().Role != pki.RoleClient {
		t.Fatalf("a TLS test cluster's client identity: %v", id)
	}
	cl := c.Client()

	var stepID string
	t.Run("wordcount", func(t *testing.T) {
		_, files := ct.GenerateText(t, 3, 64<<10, 7)
		bearer := grpc.WithPerRPCCredentials(mtls.Bearer(c.ClientToken()))
		conn, err := pb.Dial(c.Addrs(), id.DialOption(), bearer)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		workers := pb.NewConnCache(id.DialOption(), bearer)
		defer workers.Close()
		hc := client.New(client.Config{Primaries: conn, Dial: func(addr string) (grpc.ClientConnInterface, error) { return workers.Get(addr) }, Owner: "test"})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for i, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// Two replicas: each block goes client -> core -> core.
			w, err := hc.Create(ctx, fmt.Sprintf("/in/part-%d.txt", i), client.CreateOptions{Replication: 2, BlockSize: 16 << 10, CreateParent: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(b); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		// Read one back over TLS from the core workers.
		r, err := hc.Open(ctx, "/in/part-0.txt")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
		r.Close()
		want, _ := os.ReadFile(files[0])
		if err != nil || string(got) != string(want) {
			t.Fatalf("read back /in/part-0.txt over TLS: %d bytes, want %d (%v)", len(got), len(want), err)
		}
		out := filepath.Join(t.TempDir(), "out")
		st := ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{"hdfs:///in"}, Output: out, Reducers: 3, SplitSize: 16 << 10})
		ct.MustComplete(t, st)
		ct.CheckRanOnce(t, st)
		if st.MapsTotal < 12 {
			t.Fatalf("only %d maps over 192 KiB in 16 KiB blocks", st.MapsTotal)
		}
		ct.DiffLines(t, ct.OutputLines(t, out, 3), ct.WordCounts(t, files...))
		stepID = st.Id
	})

	ca, err := pki.LoadCA(c.LC.TLSDir())
	if err != nil {
		t.Fatal(err)
	}
	caPool := x509.NewCertPool()
	caPool.AddCert(ca.Cert)
	rawTLS := func(pair *tls.Certificate) grpc.DialOption {
		cfg := &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS13}
		if pair != nil {
			cfg.Certificates = []tls.Certificate{*pair}
		}
		return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	pair := func(ca *pki.CA, req pki.Request) *tls.Certificate {
		is, err := ca.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	other, err := pki.NewCA("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctxFor := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("strangers get nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			opt  grpc.DialOption
		}{
			{"plaintext", grpc.WithTransportCredentials(insecure.NewCredentials())},
			{"no certificate", rawTLS(nil)},
			{"another CA", rawTLS(pair(other, pki.Request{Role: pki.RoleClient, Name: "mallory"}))},
			{"expired", rawTLS(pair(ca, pki.Request{Role: pki.RoleClient, Name: "old", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}))},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, addr := range c.Addrs() {
					conn, err := grpc.NewClient(addr, tc.opt)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := pb.NewClientClient(conn).ListSteps(ctxFor(t), &pb.ListStepsRequest{})
					conn.Close()
					if status.Code(err) != codes.Unavailable || resp != nil {
						t.Fatalf("ListSteps on %s: %v, %v; want no answer (Unavailable)", addr, resp, err)
					}
				}
				for _, w := range c.Workers() {
					conn, err := grpc.NewClient(w.Addr(), tc.opt)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := workerpb.NewLogsClient(conn).ListLogs(ctxFor(t), &workerpb.ListLogsRequest{StepId: stepID})
					conn.Close()
					if status.Code(err) != codes.Unavailable || resp != nil {
						t.Fatalf("ListLogs on %s: %v, %v; want no answer (Unavailable)", w.Name(), resp, err)
					}
				}
			})
		}
		// The Raft transport speaks TLS with the primary's certificate and
		// answers no one without one.
		for i, p := range c.LC.Primaries {
			tc, err := tls.Dial("tcp", p.RaftAddr(), &tls.Config{RootCAs: caPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
			if err != nil {
				t.Fatalf("TLS handshake with %s's raft transport: %v", p.ID(), err)
			}
			who, err := pki.PrincipalOf(tc.ConnectionState().PeerCertificates[0])
			if err != nil || who != (pki.Principal{Role: pki.RolePrimary, Name: fmt.Sprintf("primary-%d", i+1)}) {
				t.Fatalf("raft transport of %s presented %v (%v)", p.ID(), who, err)
			}
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			tc.Write([]byte{0})
			if n, err := tc.Read(make([]byte, 1)); err == nil {
				t.Fatalf("raft transport of %s answered %d bytes to a caller without a certificate", p.ID(), n)
			}
			tc.Close()
		}
		// The control: the cluster's client certificate, through the same
		// kind of raw client, lists the step.
		conn, err := grpc.NewClient(c.Addrs()[0], rawTLS(pair(ca, pki.Request{Role: pki.RoleClient, Name: "bob"})), grpc.WithPerRPCCredentials(mtls.Bearer(c.ClientToken())))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		resp, err := pb.NewClientClient(conn).ListSteps(ctxFor(t), &pb.ListStepsRequest{})
		if err != nil || len(resp.Steps) != 1 || resp.Steps[0].Id != stepID {
			t.Fatalf("a good client certificate: %v, %v; want the one step %s", resp, err, stepID)
		}
	})

	t.Run("wrong roles are denied", func(t *testing.T) {
		ident := func(role pki.Role, name string) *mtls.Identity {
			is, err := ca.Issue(pki.Request{Role: role, Name: name, Hosts: []string{"127.0.0.1"}})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cert, key, err := is.Save(dir, name)
			if err != nil {
				t.Fatal(err)
			}
			id, err := mtls.Load(mtls.Options{Files: mtls.Files{Cert: cert, Key: key, CA: filepath.Join(c.LC.TLSDir(), pki.CACertFile)}, Poll: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(id.Close)
			return id
		}
		wconn, err := pb.Dial(c.Addrs(), ident(pki.RoleWorker, "rogue-worker").DialOption())
		if err != nil {
			t.Fatal(err)
		}
		defer wconn.Close()
		_, err = pb.NewClientClient(wconn).SubmitStep(ctxFor(t), &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{"hdfs:///in"}, Output: t.TempDir() + "/x"}})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("a worker certificate submitting a step: %v, want PermissionDenied", err)
		}
		_, err = pb.NewClientClient(wconn).ListSteps(ctxFor(t), &pb.ListStepsRequest{})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("a worker certificate listing steps: %v, want PermissionDenied", err)
		}
		_, err = pb.NewClientClient(conn(t, c.Addrs(), id, grpc.WithPerRPCCredentials(mtls.Bearer(c.ClientToken())))).ListNodes(ctxFor(t), &pb.ListNodesRequest{})
		if err != nil {
			t.Errorf("control: the client lists nodes: %v", err)
		}
		_, err = pb.NewWorkerClient(conn(t, c.Addrs(), id)).Register(ctxFor(t), &pb.RegisterRequest{Worker: &pb.WorkerInfo{Id: "core-1", Incarnation: 1, Role: pb.WorkerRole_CORE, Address: "127.0.0.1:1", Slots: 1}})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("a client certificate registering as a worker: %v, want PermissionDenied", err)
		}
		_, err = pb.NewPeerClient(conn(t, c.Addrs(), id)).Status(ctxFor(t), &pb.StatusRequest{})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("a client certificate calling Peer.Status: %v, want PermissionDenied", err)
		}
		// Shuffle fetches are the workers' own.
		wc, err := grpc.NewClient(c.Workers()[0].Addr(), id.DialOption())
		if err != nil {
			t.Fatal(err)
		}
		defer wc.Close()
		s, err := workerpb.NewShuffleClient(wc).Fetch(ctxFor(t), &workerpb.FetchRequest{AttemptId: "x", Partition: 0})
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("a client certificate fetching map output: %v, want PermissionDenied", err)
		}
	})

	// A new leader is elected over the TLS Raft transport, reached by the
	// workers and the client, and the step completes exactly.
	t.Run("leader killed mid-step", func(t *testing.T) {
		_, files := ct.GenerateText(t, 4, 64<<10, 11)
		out := filepath.Join(t.TempDir(), "out")
		stepID := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: files, Output: out, Reducers: 2, SplitSize: 8 << 10})
		c.WaitUntil(stepID, "some maps done", func(st *ct.Step) bool { return st.MapsDone > 0 })
		old := c.Leader()
		c.Kill(old)
		if now := c.Leader(); now.Name() == old.Name() {
			t.Fatalf("leader still %s", old.Name())
		}
		st := c.Wait(stepID)
		ct.MustComplete(t, st)
		ct.DiffLines(t, ct.OutputLines(t, out, 2), ct.WordCounts(t, files...))
	})
}

func conn(t *testing.T, addrs []string, id *mtls.Identity, opts ...grpc.DialOption) *pb.Conn {
	t.Helper()
	cc, err := pb.Dial(addrs, append([]grpc.DialOption{id.DialOption()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}
