package mtls

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DialOption returns the transport credentials of a gRPC client: mutual
// TLS with the identity, or plaintext for a nil identity.
func (id *Identity) DialOption() grpc.DialOption {
	if id == nil {
		return grpc.WithTransportCredentials(insecure.NewCredentials())
	}
	return grpc.WithTransportCredentials(id.TransportCredentials())
}

// ServerOptions returns the options a gRPC server needs to serve with the
// identity: mutual TLS credentials and the interceptors that check each
// caller's certificate role against the policy table and, for a client
// certificate, the token of the call against the token policy, with
// tokens. A nil identity needs none.
func (id *Identity) ServerOptions(tokens TokenChecker) []grpc.ServerOption {
	if id == nil {
		return nil
	}
	a := &authz{id: id, tokens: tokens}
	return []grpc.ServerOption{
		grpc.Creds(id.TransportCredentials()),
		grpc.ChainUnaryInterceptor(a.unary),
		grpc.ChainStreamInterceptor(a.stream),
	}
}

// authz authorises the calls a server receives.
type authz struct {
	id     *Identity
	tokens TokenChecker
}

// TransportCredentials returns gRPC credentials that use the identity's
// current pair and CA for every handshake.
func (id *Identity) TransportCredentials() credentials.TransportCredentials {
	return &creds{id: id, server: credentials.NewTLS(id.serverConfig(nil))}
}

// creds builds the TLS state of each client handshake from the current
// files; the server side reads them through GetConfigForClient.
type creds struct {
	id         *Identity
	server     credentials.TransportCredentials
	serverName string
}

func (c *creds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cfg := c.id.clientConfig(nil)
	if c.serverName != "" {
		authority = c.serverName
	}
	return credentials.NewTLS(cfg).ClientHandshake(ctx, authority, raw)
}

func (c *creds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.server.ServerHandshake(raw)
}

func (c *creds) Info() credentials.ProtocolInfo {
	info := c.server.Info()
	info.SecurityVersion = "1.3"
	info.ServerName = c.serverName
	return info
}

func (c *creds) Clone() credentials.TransportCredentials {
	cp := *c
	return &cp
}

func (c *creds) OverrideServerName(name string) error { //nolint:staticcheck // part of the interface
	c.serverName = name
	return nil
}
