package pki

import (
	"crypto/x509"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestIssueAndPrincipal(t *testing.T) {
	ca, err := NewCA("test CA", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.Issue(Request{Role: RoleWorker, Name: "core-1", Hosts: []string{"10.0.0.5", "core-1.internal", "::1"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := PrincipalOf(is.Cert)
	if err != nil || p != (Principal{Role: RoleWorker, Name: "core-1"}) || p.String() != "worker/core-1" {
		t.Fatalf("principal %v, %v", p, err)
	}
	if len(is.Cert.IPAddresses) != 2 || is.Cert.IPAddresses[0].String() != "10.0.0.5" || is.Cert.IPAddresses[1].String() != "::1" ||
		len(is.Cert.DNSNames) != 1 || is.Cert.DNSNames[0] != "core-1.internal" {
		t.Fatalf("SANs %v %v", is.Cert.IPAddresses, is.Cert.DNSNames)
	}
	// No longer than the CA: the default year is cut to the CA's life.
	if !is.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Fatalf("expires %s, the CA %s", is.Cert.NotAfter, ca.Cert.NotAfter)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := is.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("worker certificate for usage %v: %v", usage, err)
		}
	}
	client, err := ca.Issue(Request{Role: RoleClient, Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("a client certificate verifies as a server's")
	}
}

func TestIssueRefuses(t *testing.T) {
	ca, err := NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, c := range []struct {
		req  Request
		want string
	}{
		{Request{Role: "admin", Name: "x"}, `role "admin"`},
		{Request{Role: RoleClient, Name: ""}, "name is empty"},
		{Request{Role: RoleClient, Name: "../x"}, "letters, digits"},
		{Request{Role: RoleClient, Name: "ca"}, `"ca" is the CA's own`},
		{Request{Role: RoleClient, Name: "x", NotBefore: now, NotAfter: now.Add(-time.Minute)}, "before it is valid"},
		{Request{Role: RoleClient, Name: "x", NotAfter: now.Add(2 * time.Hour)}, "outlive its CA"},
	} {
		if _, err := ca.Issue(c.req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Issue(%+v): %v, want an error containing %q", c.req, err, c.want)
		}
	}
}

func TestPrincipalOfBadURIs(t *testing.T) {
	for _, c := range []struct {
		uris []string
		want string
	}{
		{nil, "names no gomr role"},
		{[]string{"spiffe://x/y"}, "names no gomr role"},
		{[]string{"gomr://role/worker"}, "want gomr://role/ROLE/NAME"},
		{[]string{"gomr://role/admin/x"}, `role "admin"`},
	} {
		cert := &x509.Certificate{}
		for _, u := range c.uris {
			parsed, _ := url.Parse(u)
			cert.URIs = append(cert.URIs, parsed)
		}
		if _, err := PrincipalOf(cert); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("PrincipalOf(%v): %v, want %q", c.uris, err, c.want)
		}
	}
}

func TestCASaveLoad(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Save: %v", err)
	}
	back, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Cert.Equal(ca.Cert) {
		t.Fatal("loaded CA differs")
	}
	if _, err := LoadCA(t.TempDir()); err == nil || !strings.Contains(err.Error(), "gomr cert init") {
		t.Fatalf("LoadCA of an empty folder: %v", err)
	}
}

func TestGossipKey(t *testing.T) {
	k := NewGossipKey()
	back, err := ParseGossipKey(EncodeGossipKey(k) + "\n")
	if err != nil || string(back) != string(k) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := ParseGossipKey("AAAA"); err == nil || !strings.Contains(err.Error(), "3 bytes") {
		t.Fatalf("short key: %v", err)
	}
	if _, err := ParseGossipKey("%%%"); err == nil || !strings.Contains(err.Error(), "not base64") {
		t.Fatalf("bad base64: %v", err)
	}
}
