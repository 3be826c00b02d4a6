package primary

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomr/gomr/primary/access"
	"github.com/gomr/gomr/primary/mtls"
	"github.com/gomr/gomr/primary/pki"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// forwardedForKey carries, on a call a follower forwards, who made it,
// so that the leader records the client rather than the follower. The
// leader believes it only from a primary's certificate.
const forwardedForKey = "gomr-forwarded-for"

// maxTokenTTL bounds a token's lifetime as given (100 years: "never" is
// a ttl of 0).
const maxTokenTTL = 100 * 365 * 24 * time.Hour

// stateTokens checks client tokens against this primary's replicated
// state.
type stateTokens struct{ s *Server }

// CheckToken implements mtls.TokenChecker.
func (t stateTokens) CheckToken(_ context.Context, token string) (access.Grant, error) {
	tok, err := t.s.lookupToken(token)
	if err != nil {
		return access.Grant{}, err
	}
	return grantOf(tok), nil
}

// lookupToken returns the stored token a client's token string names, or
// an error saying why it is not valid (never quoting the secret).
func (s *Server) lookupToken(token string) (*state.Token, error) {
	accessor, secret, err := access.ParseToken(token)
	if err != nil {
		return nil, err
	}
	tok, ok := s.fsm.view().Token(accessor)
	if !ok || !access.SecretMatches(secret, tok.SecretHash) {
		return nil, fmt.Errorf("token %s is unknown or revoked", accessor)
	}
	if !tok.Valid(time.Now().UnixNano()) {
		return nil, fmt.Errorf("token %s (%q) expired at %s", accessor, tok.Name, time.Unix(0, tok.ExpiresAt).UTC().Format(time.RFC3339))
	}
	return tok, nil
}

func grantOf(t *state.Token) access.Grant {
	return access.Grant{Accessor: t.Accessor, Name: t.Name, Role: t.Role, ExpiresAt: t.ExpiresAt, DataRoots: t.DataRoots}
}

func tokenToProto(t *state.Token) *pb.Token {
	return &pb.Token{Accessor: t.Accessor, Name: t.Name, Role: string(t.Role), CreatedUnixNano: t.CreatedAt, ExpiresUnixNano: t.ExpiresAt, CreatedBy: t.CreatedBy, DataRoots: t.DataRoots}
}

// callerName names who made a call, for the records: the client of a
// call a follower forwarded, else the caller of this one; "" on a
// cluster without TLS.
func callerName(ctx context.Context) string {
	c, ok := mtls.CallerFrom(ctx)
	if !ok {
		return ""
	}
	if c.Principal.Role == pki.RolePrimary {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(forwardedForKey); len(v) > 0 {
				return v[0]
			}
		}
	}
	return c.String()
}

// withForwardedFor adds to the outgoing context of a forwarded call who
// made it.
func withForwardedFor(ctx context.Context) context.Context {
	if name := callerName(ctx); name != "" {
		return metadata.AppendToOutgoingContext(ctx, forwardedForKey, name)
	}
	return ctx
}

// newToken makes a token of role and stores it through Raft; bootstrap
// makes the first admin token.
func (s *Server) newToken(ctx context.Context, name string, role access.Role, ttl time.Duration, roots []string, bootstrap bool) (*pb.CreateTokenResponse, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: a token needs a name (--name): who or what holds it", errInvalid)
	}
	if ttl < 0 || ttl > maxTokenTTL {
		return nil, fmt.Errorf("%w: token lifetime %s out of range (0 for no expiry, at most %s)", errInvalid, ttl, maxTokenTTL)
	}
	if _, err := parseDataRoots(roots); err != nil {
		return nil, fmt.Errorf("%w: token %v", errInvalid, err)
	}
	secret, accessor, hash := access.NewToken()
	now := time.Now().UnixNano()
	tok := state.Token{Accessor: accessor, Name: name, Role: role, SecretHash: hash, CreatedAt: now, CreatedBy: callerName(ctx), DataRoots: roots}
	if ttl > 0 {
		tok.ExpiresAt = now + int64(ttl)
	}
	if err := s.apply(&state.CreateToken{Token: tok, Bootstrap: bootstrap, Time: now}); err != nil {
		return nil, err
	}
	s.log.Info("token created", "token", grantOf(&tok).String(), "by", tok.CreatedBy, "expires", tok.ExpiresAt, "bootstrap", bootstrap)
	return &pb.CreateTokenResponse{Token: tokenToProto(&tok), SecretToken: secret}, nil
}

// CreateToken makes a client token.
func (c *clientService) CreateToken(ctx context.Context, req *pb.CreateTokenRequest) (*pb.CreateTokenResponse, error) {
	return forward(c.s, withForwardedFor(ctx), func(ctx context.Context, cc *grpc.ClientConn) (*pb.CreateTokenResponse, error) {
		return pb.NewClientClient(cc).CreateToken(ctx, req)
	}, func() (*pb.CreateTokenResponse, error) {
		role, err := access.ParseRole(req.Role)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errInvalid, err)
		}
		return c.s.newToken(ctx, req.Name, role, time.Duration(req.TtlSeconds)*time.Second, req.DataRoots, false)
	})
}

// BootstrapToken makes the first admin token: refused once the cluster
// has a valid admin token.
func (c *clientService) BootstrapToken(ctx context.Context, req *pb.BootstrapTokenRequest) (*pb.CreateTokenResponse, error) {
	return forward(c.s, withForwardedFor(ctx), func(ctx context.Context, cc *grpc.ClientConn) (*pb.CreateTokenResponse, error) {
		return pb.NewClientClient(cc).BootstrapToken(ctx, req)
	}, func() (*pb.CreateTokenResponse, error) {
		name := req.Name
		if name == "" {
			name = "bootstrap"
		}
		resp, err := c.s.newToken(ctx, name, access.RoleAdmin, 0, nil, true)
		if errors.Is(err, state.ErrConflict) {
			c.s.log.Warn("bootstrap refused: the cluster has an admin token", "by", callerName(ctx))
			return nil, status.Errorf(codes.PermissionDenied, "%v: ask an admin for a token (gomr token create)", err)
		}
		return resp, err
	})
}

// ListTokens returns every token, without secrets.
func (c *clientService) ListTokens(ctx context.Context, req *pb.ListTokensRequest) (*pb.ListTokensResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.ListTokensResponse, error) {
		return pb.NewClientClient(cc).ListTokens(ctx, req)
	}, func() (*pb.ListTokensResponse, error) {
		if err := c.s.verifyLeader(); err != nil {
			return nil, err
		}
		resp := &pb.ListTokensResponse{}
		for _, t := range c.s.fsm.view().Tokens() {
			resp.Tokens = append(resp.Tokens, tokenToProto(t))
		}
		return resp, nil
	})
}

// RevokeToken deletes a token.
func (c *clientService) RevokeToken(ctx context.Context, req *pb.RevokeTokenRequest) (*pb.RevokeTokenResponse, error) {
	return forward(c.s, withForwardedFor(ctx), func(ctx context.Context, cc *grpc.ClientConn) (*pb.RevokeTokenResponse, error) {
		return pb.NewClientClient(cc).RevokeToken(ctx, req)
	}, func() (*pb.RevokeTokenResponse, error) {
		if !access.ValidAccessor(req.Accessor) {
			return nil, fmt.Errorf("%w: %q is not a token accessor (16 hex digits, as gomr token list shows)", errInvalid, req.Accessor)
		}
		if err := c.s.apply(&state.RevokeToken{Accessor: req.Accessor}); err != nil {
			return nil, err
		}
		c.s.log.Info("token revoked", "accessor", req.Accessor, "by", callerName(ctx))
		return &pb.RevokeTokenResponse{}, nil
	})
}

// CheckToken tells a worker whether a client's token is valid, as the
// leader knows it: a token revoked a moment ago is refused at once.
func (w *workerService) CheckToken(ctx context.Context, req *pb.CheckTokenRequest) (*pb.CheckTokenResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.CheckTokenResponse, error) {
		return pb.NewWorkerClient(cc).CheckToken(ctx, req)
	}, func() (*pb.CheckTokenResponse, error) {
		tok, err := w.s.lookupToken(req.Token)
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		return &pb.CheckTokenResponse{Token: tokenToProto(tok)}, nil
	})
}
