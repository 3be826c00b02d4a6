package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/gomr/gomr/primary/pki"
)

// nodeRoles are the roles that serve calls: a client connects only to
// primaries and workers.
var nodeRoles = []pki.Role{pki.RolePrimary, pki.RoleWorker}

// serverConfig returns the TLS configuration of a server. Each handshake
// takes the current pair and CA; the client must present a certificate
// of the CA, and, if peers is not empty, one of those roles.
func (id *Identity) serverConfig(peers []pki.Role) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := id.cur.Load()
			return &tls.Config{
				MinVersion:       tls.VersionTLS13,
				Certificates:     []tls.Certificate{m.cert},
				ClientAuth:       tls.RequireAndVerifyClientCert,
				ClientCAs:        m.pool,
				VerifyConnection: requireRole(peers),
			}, nil
		},
	}
}

// clientConfig returns the TLS configuration of one outgoing connection:
// the current CA verifies the server, which must be a node (of one of
// peers if given), and the current pair answers the server's request.
func (id *Identity) clientConfig(peers []pki.Role) *tls.Config {
	m := id.cur.Load()
	if len(peers) == 0 {
		peers = nodeRoles
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    m.pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := id.cur.Load().cert
			return &c, nil
		},
		VerifyConnection: requireRole(peers),
	}
}

// requireRole returns a check that the peer's verified certificate names
// one of roles (any role when roles is empty).
func requireRole(roles []pki.Role) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("tls: peer sent no certificate")
		}
		p, err := pki.PrincipalOf(cs.PeerCertificates[0])
		if err != nil {
			return fmt.Errorf("tls: peer: %w", err)
		}
		if len(roles) > 0 && !slices.Contains(roles, p.Role) {
			return fmt.Errorf("tls: peer %s is not a %v", p, roles)
		}
		return nil
	}
}

// peerPrincipal returns who a verified connection's peer is.
func peerPrincipal(chains [][]*x509.Certificate, certs []*x509.Certificate) (pki.Principal, error) {
	if len(chains) > 0 && len(chains[0]) > 0 {
		return pki.PrincipalOf(chains[0][0])
	}
	if len(certs) > 0 {
		return pki.PrincipalOf(certs[0])
	}
	return pki.Principal{}, fmt.Errorf("no verified peer certificate")
}
