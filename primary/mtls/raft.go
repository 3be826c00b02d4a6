package mtls

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/gomr/gomr/primary/pki"
	"github.com/hashicorp/raft"
)

// NewStreamLayer returns the stream layer of a primary's Raft transport
// over a bound listener: mutual TLS 1.3 between primaries (a peer with
// any other role is refused in the handshake), or plain TCP for a nil
// identity.
func NewStreamLayer(lis net.Listener, id *Identity) raft.StreamLayer {
	if id == nil {
		return &streamLayer{Listener: lis}
	}
	return &streamLayer{Listener: tls.NewListener(lis, id.serverConfig(primaryOnly)), id: id}
}

// streamLayer implements raft.StreamLayer.
type streamLayer struct {
	net.Listener
	id *Identity
}

// Dial connects to another primary's Raft address within timeout; with
// TLS the handshake is part of the dial.
func (l *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if l.id == nil {
		return d.Dial("tcp", string(addr))
	}
	host, _, err := net.SplitHostPort(string(addr))
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", addr, err)
	}
	cfg := l.id.clientConfig([]pki.Role{pki.RolePrimary})
	cfg.ServerName = host
	c, err := (&tls.Dialer{NetDialer: d, Config: cfg}).Dial("tcp", string(addr))
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", addr, err)
	}
	return c, nil
}
