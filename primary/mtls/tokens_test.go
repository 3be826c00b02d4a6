package mtls

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomr/gomr/primary/access"
	"github.com/gomr/gomr/primary/pki"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tokenTable is a TokenChecker over fixed tokens, standing in for the
// replicated state (the primary's checker is tested on a real cluster).
type tokenTable map[string]access.Grant

func (tt tokenTable) CheckToken(_ context.Context, token string) (access.Grant, error) {
	accessor, _, err := access.ParseToken(token)
	if err != nil {
		return access.Grant{}, err
	}
	g, ok := tt[token]
	if !ok {
		return access.Grant{}, fmt.Errorf("token %s is unknown or revoked", accessor)
	}
	return g, nil
}

// tokenNeeds is the intended least role of each client-callable RPC,
// written by service with the exceptions spelt out, independently of
// TokenPolicy; "" for the one open method, "-" for methods no client may
// call.
func tokenNeeds(r rpc) access.Role {
	if !expected(r, pki.RoleClient) {
		return "-"
	}
	switch r.service + "/" + r.method {
	case "gomr.primary.Client/BootstrapToken":
		return ""
	case "gomr.primary.Client/ListSteps", "gomr.primary.Client/DescribeStep", "gomr.primary.Client/ListTasks", "gomr.primary.Client/ListNodes",
		"gomr.hdfs.NameNode/GetFileInfo", "gomr.hdfs.NameNode/List", "gomr.hdfs.NameNode/GetBlockLocations", "gomr.hdfs.NameNode/ContentSummary",
		"gomr.hdfs.NameNode/ReportBadBlocks", "gomr.hdfs.NameNode/Stats", "gomr.hdfs.DataNode/ReadBlock",
		"gomr.worker.Logs/ListLogs", "gomr.worker.Logs/ReadLog":
		return access.RoleRead
	case "gomr.primary.Client/SubmitStep", "gomr.primary.Client/CancelStep", "gomr.primary.Client/KillAttempt":
		return access.RoleSubmit
	}
	switch r.service {
	case "gomr.hdfs.NameNode", "gomr.hdfs.DataNode":
		if r.method == "Fsck" || r.method == "SafeMode" {
			return access.RoleAdmin
		}
		return access.RoleSubmit // writing files
	}
	return access.RoleAdmin // node and token administration
}

// TestTokenPolicyCoversEveryClientRPC: every RPC a client certificate
// may call has a token row, and no other RPC has one.
func TestTokenPolicyCoversEveryClientRPC(t *testing.T) {
	for _, r := range allRPCs(t) {
		need, ok := TokenPolicy[r.fullName()]
		if want := tokenNeeds(r); want == "-" {
			if ok {
				t.Errorf("%s has a token row but no client may call it", r.fullName())
			}
		} else if !ok || need != want {
			t.Errorf("%s: token row %q (present %v), want %q", r.fullName(), need, ok, want)
		}
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEveryRPCEveryToken calls every RPC of every service with a client
// certificate and each kind of token, over real TLS connections: no
// token, a malformed one, an unknown (revoked or expired) one, and one
// of each role. Exactly the calls the role allows reach the handler; the
// others get Unauthenticated (no valid token) or PermissionDenied (a
// role too low, or a method no client may call), and each denial is
// logged with the principal and the method, never the secret.
func TestEveryRPCEveryToken(t *testing.T) {
	p := newTestPKI(t)
	logs := &syncBuffer{}
	server := p.issue(pki.RolePrimary, "server")
	id, err := Load(Options{Files: server, Poll: -1, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(id.Close)
	tokens := tokenTable{}
	secrets := map[string]string{}
	for _, role := range access.Roles {
		tok, accessor, _ := access.NewToken()
		tokens[tok] = access.Grant{Accessor: accessor, Name: "holder-" + string(role), Role: role}
		secrets[string(role)] = tok
	}
	unknown, _, _ := access.NewToken()
	secrets["unknown"] = unknown
	secrets["malformed"] = "gomr_not-a-token"
	secrets["none"] = ""
	addr := serveAllWithTokens(t, id, tokens)
	client := p.load(p.issue(pki.RoleClient, "alice"), -1)
	rpcs := allRPCs(t)
	for _, kind := range []string{"none", "malformed", "unknown", "read", "submit", "admin"} {
		opts := []grpc.DialOption{client.DialOption()}
		if secrets[kind] != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(Bearer(secrets[kind])))
		}
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		for _, r := range rpcs {
			t.Run(kind+"/"+strings.TrimPrefix(r.fullName(), "/"), func(t *testing.T) {
				err := invoke(t, cc, r, request(t, r, "alice"))
				need := tokenNeeds(r)
				var want codes.Code
				switch {
				case need == "-":
					want = codes.PermissionDenied // the certificate policy
				case need == "":
					want = codes.Unimplemented
				case kind == "none" || kind == "malformed" || kind == "unknown":
					want = codes.Unauthenticated
				case access.Role(kind).Allows(need):
					want = codes.Unimplemented
				default:
					want = codes.PermissionDenied
				}
				if got := status.Code(err); got != want {
					t.Fatalf("%s with token %s: got %v (%v), want %v", r.fullName(), kind, got, err, want)
				}
			})
		}
	}
	log := logs.String()
	for _, want := range [][]string{
		{`msg="call denied: no token"`, "principal=client/alice", "method=/gomr.primary.Client/ListSteps"},
		{`msg="call denied: token role too low"`, "principal=client/alice", `token="token `, "method=/gomr.primary.Client/SubmitStep", "needs=submit"},
		{`msg="call denied: bad token"`, "principal=client/alice", "method=/gomr.hdfs.NameNode/List"},
	} {
		if !slices.ContainsFunc(strings.Split(log, "\n"), func(line string) bool {
			return !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(line, w) })
		}) {
			t.Errorf("no line of the server's log has all of %q", want)
		}
	}
	for kind, secret := range secrets {
		if _, s, err := access.ParseToken(secret); err == nil && strings.Contains(log, s) {
			t.Errorf("the server's log holds the secret of the %s token", kind)
		}
	}
}

// TestTokensAreNotSentInTheClear: a client never sends its token over a
// connection without TLS.
func TestTokensAreNotSentInTheClear(t *testing.T) {
	tok, _, _ := access.NewToken()
	var plaintext *Identity
	cc, err := grpc.NewClient("127.0.0.1:1", plaintext.DialOption(), grpc.WithPerRPCCredentials(Bearer(tok)))
	if err == nil {
		cc.Close()
		t.Fatal("a plaintext connection took credentials that need TLS")
	}
	if !strings.Contains(err.Error(), "transport level security") {
		t.Fatalf("refused for another reason: %v", err)
	}
}
