package localcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/gomr/gomr/primary/mtls"
	"github.com/gomr/gomr/primary/pki"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TLSDir is the folder, in a cluster's data folder, that holds its CA,
// the nodes' and the client's certificates and the gossip key.
const TLSDir = "tls"

// ClientCertName is the name of the client certificate a TLS cluster
// issues for whoever uses it (files client.crt and client.key).
const ClientCertName = "client"

// clusterPKI is the CA of a TLS cluster and the identities it issued.
// The CA and the gossip key stay in the data folder, so that a cluster
// restarted from it trusts the same CA; node and client certificates are
// issued afresh on each start.
type clusterPKI struct {
	dir         string
	ca          *pki.CA
	gossipKey   []byte
	hosts       []string
	log         *slog.Logger
	client      *mtls.Identity
	clientFiles mtls.Files
	token       string // the admin token (adminToken)

	mu  sync.Mutex
	ids []*mtls.Identity
}

// newClusterPKI opens or makes the CA in dataDir/tls and issues the
// client certificate. extraHost, if not a loopback address, is added to
// every node certificate.
func newClusterPKI(dataDir, extraHost string, log *slog.Logger) (*clusterPKI, error) {
	dir := filepath.Join(dataDir, TLSDir)
	ca, err := pki.LoadCA(dir)
	if errors.Is(err, os.ErrNotExist) {
		if ca, err = pki.NewCA("gomr local cluster CA", pki.DefaultCAValidity); err == nil {
			err = ca.Save(dir)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("local cluster CA: %w", err)
	}
	keyFile := filepath.Join(dir, pki.GossipKeyFile)
	key, err := readGossipKey(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		key = pki.NewGossipKey()
		err = pki.SaveGossipKey(keyFile, key)
	}
	if err != nil {
		return nil, fmt.Errorf("local cluster gossip key: %w", err)
	}
	p := &clusterPKI{dir: dir, ca: ca, gossipKey: key, hosts: []string{"127.0.0.1", "::1", "localhost"}, log: log}
	if extraHost != "" && !slices.Contains(p.hosts, extraHost) {
		if ip := net.ParseIP(extraHost); ip == nil || !ip.IsLoopback() {
			p.hosts = append(p.hosts, extraHost)
		}
	}
	if p.client, err = p.identity(pki.RoleClient, ClientCertName); err != nil {
		return nil, err
	}
	p.clientFiles = p.client.Files()
	return p, nil
}

func readGossipKey(file string) ([]byte, error) {
	b, err := pki.ReadSecretFile(file)
	if err != nil {
		return nil, err
	}
	k, err := pki.ParseGossipKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return k, nil
}

// identity issues a certificate for role and name into the folder and
// loads it (watching its files, so that it can be rotated by hand).
func (p *clusterPKI) identity(role pki.Role, name string) (*mtls.Identity, error) {
	req := pki.Request{Role: role, Name: name}
	if role != pki.RoleClient {
		req.Hosts = p.hosts
	}
	is, err := p.ca.Issue(req)
	if err != nil {
		return nil, err
	}
	cert, key, err := is.Save(p.dir, name)
	if err != nil {
		return nil, err
	}
	id, err := mtls.Load(mtls.Options{Files: mtls.Files{Cert: cert, Key: key, CA: filepath.Join(p.dir, pki.CACertFile)}, Logger: p.log})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.ids = append(p.ids, id)
	p.mu.Unlock()
	return id, nil
}

func (p *clusterPKI) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range p.ids {
		id.Close()
	}
	p.ids = nil
}

// ClientTLS returns the client identity of a TLS cluster (nil for a
// plaintext one): what a client in this process dials with.
func (c *Cluster) ClientTLS() *mtls.Identity {
	if c.pki == nil {
		return nil
	}
	return c.pki.client
}

// ClientTLSFiles returns the client certificate, key and CA files of a
// TLS cluster (empty for a plaintext one): what a client in another
// process is given (GOMR_TLS_CERT, GOMR_TLS_KEY, GOMR_TLS_CA).
func (c *Cluster) ClientTLSFiles() mtls.Files {
	if c.pki == nil {
		return mtls.Files{}
	}
	return c.pki.clientFiles
}

// GossipKey returns the gossip key of a TLS cluster (nil otherwise).
func (c *Cluster) GossipKey() []byte {
	if c.pki == nil {
		return nil
	}
	return c.pki.gossipKey
}

// TLSDir returns the folder of the cluster's CA and certificates ("" for
// a plaintext cluster).
func (c *Cluster) TLSDir() string {
	if c.pki == nil {
		return ""
	}
	return c.pki.dir
}

// nodeIdentity issues a certificate for a node of a TLS cluster (nil,
// nil for a plaintext one).
func (c *Cluster) nodeIdentity(role pki.Role, name string) (*mtls.Identity, error) {
	if c.pki == nil {
		return nil, nil
	}
	id, err := c.pki.identity(role, name)
	if err != nil {
		return nil, fmt.Errorf("certificate of %s: %w", name, err)
	}
	return id, nil
}

// PrimaryTLS returns the identity of primary i of a TLS cluster (nil for
// a plaintext one); tests make primaries' calls (Peer.Status) with it.
func (c *Cluster) PrimaryTLS(i int) *mtls.Identity { return c.primaryCfgs[i].TLS }

// AdminTokenFile is the file, in the TLS folder, that holds the admin
// token of a TLS cluster (mode 0600).
const AdminTokenFile = "admin.token"

// adminToken gives the cluster its first admin token (the bootstrap)
// and keeps it in the TLS folder; a cluster restarted from its data
// folder has one already, and the file is read back.
func (p *clusterPKI) adminToken(ctx context.Context, addrs []string) error {
	if p == nil {
		return nil
	}
	file := filepath.Join(p.dir, AdminTokenFile)
	cc, err := pb.Dial(addrs, p.client.DialOption())
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := pb.NewClientClient(cc).BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: "local-admin"})
	if status.Code(err) == codes.PermissionDenied {
		// Bootstrapped on an earlier start: the token is in the folder.
		t, rerr := pki.ReadSecretFile(file)
		if rerr != nil {
			return fmt.Errorf("the cluster has an admin token but its file cannot be read: %w", rerr)
		}
		p.token = strings.TrimSpace(string(t))
		return nil
	}
	if err != nil {
		return fmt.Errorf("bootstrap the admin token: %w", err)
	}
	if err := pki.WriteSecretFile(file, []byte(resp.SecretToken+"\n")); err != nil {
		return fmt.Errorf("save the admin token: %w", err)
	}
	p.token = resp.SecretToken
	return nil
}

// ClientToken returns the admin token of a TLS cluster ("" for a
// plaintext one).
func (c *Cluster) ClientToken() string {
	if c.pki == nil {
		return ""
	}
	return c.pki.token
}

// ClientTokenFile returns the file holding the admin token of a TLS
// cluster ("" for a plaintext one).
func (c *Cluster) ClientTokenFile() string {
	if c.pki == nil {
		return ""
	}
	return filepath.Join(c.pki.dir, AdminTokenFile)
}
