package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/primary/pki"
)

// TestTLSProcesses runs real gomr processes with --tls-cert, --tls-key,
// --tls-ca and --gossip-key, and the CLI with the client certificate in
// GOMR_TLS_* variables and the admin token in GOMR_TOKEN: HDFS put and
// cat (straight to the core workers), a word count, its logs (straight
// to the workers). Without the variables, or with a certificate of
// another CA, a command gets nothing; tokens made with gomr token create
// do what their role allows, until revoked.
func TestTLSProcesses(t *testing.T) {
	c := ct.StartProcesses(t, gomrBin, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core")})
	f := c.ClientTLSFiles()
	cluster := "GOMR_CLUSTER=" + strings.Join(c.Addrs(), ",")
	env := c.Env()

	_, inputs := ct.GenerateText(t, 2, 100<<10, 3)
	if _, errOut, code := gomr(t, env, "hdfs", "mkdir", "-p", "/in"); code != 0 {
		t.Fatalf("hdfs mkdir: exit %d: %s", code, errOut)
	}
	if _, errOut, code := gomr(t, env, append([]string{"hdfs", "put"}, append(inputs, "/in/")...)...); code != 0 {
		t.Fatalf("hdfs put: exit %d: %s", code, errOut)
	}
	got, errOut, code := gomr(t, env, "hdfs", "cat", "/in/"+filepath.Base(inputs[0]))
	want, _ := os.ReadFile(inputs[0])
	if code != 0 || got != string(want) {
		t.Fatalf("hdfs cat: exit %d, %d bytes, want %d: %s", code, len(got), len(want), errOut)
	}
	out := filepath.Join(t.TempDir(), "counts")
	idOut, errOut, code := gomr(t, env, "step", "add", "--job", "wordcount", "--input", "hdfs:///in", "--output", out, "--reducers", "2", "--split-size", "32KiB")
	if code != 0 {
		t.Fatalf("step add: exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(idOut)
	if _, errOut, code := gomr(t, env, "step", "wait", id); code != 0 {
		t.Fatalf("step wait: exit %d: %s", code, errOut)
	}
	if got, want := ct.PartLines(t, out), ct.WordCounts(t, inputs...); !slices.Equal(got, want) {
		t.Fatalf("word count over TLS differs from the oracle: %d lines vs %d", len(got), len(want))
	}
	if logs, errOut, code := gomr(t, env, "step", "logs", id, "--stream", "syslog"); code != 0 || logs == "" {
		t.Fatalf("step logs: exit %d, %q: %s", code, logs, errOut)
	}

	// No certificate: nothing, and a hint.
	stdout, errOut, code := gomr(t, []string{cluster}, "step", "list")
	if code == 0 || strings.Contains(stdout, id) || !strings.Contains(errOut, "GOMR_TLS_CERT") {
		t.Fatalf("step list without a certificate: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	// A certificate of another CA, made with gomr cert: nothing either.
	dir := t.TempDir()
	if _, errOut, code := gomr(t, nil, "cert", "init", "--dir", dir); code != 0 {
		t.Fatalf("cert init: %s", errOut)
	}
	if _, errOut, code := gomr(t, nil, "cert", "issue", "--dir", dir, "--role", "client", "mallory"); code != 0 {
		t.Fatalf("cert issue: %s", errOut)
	}
	foreign := []string{cluster, "GOMR_TLS_CERT=" + filepath.Join(dir, "mallory.crt"), "GOMR_TLS_KEY=" + filepath.Join(dir, "mallory.key"), "GOMR_TLS_CA=" + f.CA}
	stdout, errOut, code = gomr(t, foreign, "step", "list")
	if code == 0 || strings.Contains(stdout, id) {
		t.Fatalf("step list with another CA's certificate: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	// A worker's certificate is not a client's.
	stdout, errOut, code = gomr(t, []string{cluster, "GOMR_TLS_CERT=" + filepath.Join(filepath.Dir(f.Cert), "core-1.crt"), "GOMR_TLS_KEY=" + filepath.Join(filepath.Dir(f.Cert), "core-1.key"), "GOMR_TLS_CA=" + f.CA}, "step", "list")
	if code == 0 || strings.Contains(stdout, id) || !strings.Contains(errOut, "worker certificate") {
		t.Fatalf("step list with a worker certificate: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}

	// Tokens: the certificate without a token gets nothing; a read token
	// lists and reads but cannot submit or write; a revoked one gets
	// nothing; the bootstrap is refused once the cluster has an admin.
	var noToken []string
	for _, e := range env {
		if !strings.HasPrefix(e, "GOMR_TOKEN=") {
			noToken = append(noToken, e)
		}
	}
	stdout, errOut, code = gomr(t, noToken, "step", "list")
	if code == 0 || strings.Contains(stdout, id) || !strings.Contains(errOut, "needs a token of role read") || !strings.Contains(errOut, "GOMR_TOKEN") {
		t.Fatalf("step list without a token: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	created, errOut, code := gomr(t, env, "token", "create", "--name", "analyst", "--role", "read", "--ttl", "24h")
	lines := strings.Split(strings.TrimSpace(created), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], "gomr_") {
		t.Fatalf("token create: exit %d, %q: %s", code, created, errOut)
	}
	reader := append(slices.Clone(noToken), "GOMR_TOKEN="+lines[1])
	accessor := strings.Fields(lines[0])[1]
	if stdout, errOut, code := gomr(t, reader, "step", "list"); code != 0 || !strings.Contains(stdout, id) {
		t.Fatalf("step list with a read token: exit %d, %q: %s", code, stdout, errOut)
	}
	if got, errOut, code := gomr(t, reader, "hdfs", "cat", "/in/"+filepath.Base(inputs[0])); code != 0 || got != string(want) {
		t.Fatalf("hdfs cat with a read token: exit %d: %s", code, errOut)
	}
	if _, errOut, code := gomr(t, reader, "step", "add", "--job", "wordcount", "--input", "hdfs:///in", "--output", out+"-2"); code == 0 || !strings.Contains(errOut, "needs a token of role submit") {
		t.Fatalf("step add with a read token: exit %d: %s", code, errOut)
	}
	if _, errOut, code := gomr(t, reader, "hdfs", "put", inputs[0], "/in/again"); code == 0 || !strings.Contains(errOut, "needs a token of role submit") {
		t.Fatalf("hdfs put with a read token: exit %d: %s", code, errOut)
	}
	if _, errOut, code := gomr(t, reader, "token", "list"); code == 0 || !strings.Contains(errOut, "needs a token of role admin") {
		t.Fatalf("token list with a read token: exit %d: %s", code, errOut)
	}
	listed, errOut, code := gomr(t, env, "token", "list", "--format", "json")
	if code != 0 || !strings.Contains(listed, `"name": "analyst"`) || !strings.Contains(listed, `"role": "read"`) || strings.Contains(listed, lines[1][len("gomr_")+17:]) {
		t.Fatalf("token list: exit %d, %s: %s", code, listed, errOut)
	}
	if _, errOut, code := gomr(t, env, "token", "revoke", accessor); code != 0 {
		t.Fatalf("token revoke: exit %d: %s", code, errOut)
	}
	if stdout, errOut, code := gomr(t, reader, "step", "list"); code == 0 || strings.Contains(stdout, id) || !strings.Contains(errOut, "unknown or revoked") {
		t.Fatalf("step list with a revoked token: exit %d, %q: %s", code, stdout, errOut)
	}
	if _, errOut, code := gomr(t, noToken, "token", "bootstrap"); code == 0 || !strings.Contains(errOut, "has an admin token already") {
		t.Fatalf("a second bootstrap: exit %d: %s", code, errOut)
	}
}

// TestCertCommands checks what gomr cert init and issue write.
func TestCertCommands(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := gomr(t, nil, "cert", "init", "--dir", dir, "--days", "30"); code != 0 {
		t.Fatalf("cert init: %s", errOut)
	}
	_, errOut, code := gomr(t, nil, "cert", "init", "--dir", dir)
	if code == 0 || !strings.Contains(errOut, filepath.Join(dir, "ca.crt")+" already exists") {
		t.Fatalf("a second cert init: exit %d: %s", code, errOut)
	}
	key, err := os.ReadFile(filepath.Join(dir, "gossip.key"))
	if err != nil {
		t.Fatal(err)
	}
	if k, err := pki.ParseGossipKey(string(key)); err != nil || len(k) != 32 {
		t.Fatalf("gossip.key: %d bytes, %v", len(k), err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "ca.key")); st == nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode: %v", st)
	}
	_, errOut, code = gomr(t, nil, "cert", "issue", "--dir", dir, "--role", "worker", "core-1")
	if code == 0 || !strings.Contains(errOut, "needs at least one --addr") {
		t.Fatalf("a worker certificate without --addr: exit %d: %s", code, errOut)
	}
	_, errOut, code = gomr(t, nil, "cert", "issue", "--dir", dir, "--role", "admin", "x")
	if code == 0 || !strings.Contains(errOut, `role "admin"`) {
		t.Fatalf("an unknown role: exit %d: %s", code, errOut)
	}
	if _, errOut, code := gomr(t, nil, "cert", "issue", "--dir", dir, "--role", "worker", "core-1", "--addr", "10.0.0.5,core-1.internal", "--addr", "127.0.0.1", "--days", "7"); code != 0 {
		t.Fatalf("cert issue: %s", errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "core-1.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if p, err := pki.PrincipalOf(cert); err != nil || p != (pki.Principal{Role: pki.RoleWorker, Name: "core-1"}) {
		t.Errorf("principal %v, %v", p, err)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "gomr://role/worker/core-1" {
		t.Errorf("URI SANs %v", cert.URIs)
	}
	if !slices.Equal(ips, []string{"10.0.0.5", "127.0.0.1"}) || !slices.Equal(cert.DNSNames, []string{"core-1.internal"}) {
		t.Errorf("SANs: IPs %v, DNS %v", ips, cert.DNSNames)
	}
	if d := time.Until(cert.NotAfter); d < 7*24*time.Hour-time.Hour || d > 7*24*time.Hour {
		t.Errorf("expires in %s, want 7 days", d)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "core-1.internal", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the worker certificate does not verify as a server of core-1.internal: %v", err)
	}
}
