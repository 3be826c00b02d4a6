package mtls

import (
	"context"
	"strings"

	"github.com/gomr/gomr/primary/access"
	"github.com/gomr/gomr/primary/pki"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// authorizationKey is the metadata key of a call's token, as in HTTP.
const authorizationKey = "authorization"

// TokenChecker finds what a client token grants: an error for a token
// that is malformed, unknown, revoked or expired. Its errors name the
// token by accessor only.
type TokenChecker interface {
	CheckToken(ctx context.Context, token string) (access.Grant, error)
}

// Caller is who made a call: the certificate's principal and, for a
// client, the token it presented.
type Caller struct {
	Principal pki.Principal
	// Token is nil for primaries and workers, and for the one open
	// method (BootstrapToken).
	Token *access.Grant
}

// String names the caller for logs and records.
func (c Caller) String() string {
	if c.Token == nil {
		return c.Principal.String()
	}
	return c.Principal.String() + " with " + c.Token.String()
}

type callerKey struct{}

// CallerFrom returns who made the call whose server context ctx is, on a
// server with an identity.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// authorizeToken checks the token of a call from a client certificate
// against the token policy, and returns ctx naming the caller. Calls
// from primaries and workers need no token; on a server without a
// TokenChecker, none is asked for.
func (a *authz) authorizeToken(ctx context.Context, method string, who pki.Principal) (context.Context, error) {
	caller := Caller{Principal: who}
	if who.Role != pki.RoleClient || a.tokens == nil {
		return context.WithValue(ctx, callerKey{}, caller), nil
	}
	need, ok := TokenPolicy[method]
	if !ok {
		a.id.log.Warn("call denied: no token may call this method", "principal", who.String(), "method", method)
		return ctx, status.Errorf(codes.PermissionDenied, "%s may not be called by a client", method)
	}
	if need == openMethod {
		return context.WithValue(ctx, callerKey{}, caller), nil
	}
	token := tokenOf(ctx)
	if token == "" {
		a.id.log.Warn("call denied: no token", "principal", who.String(), "method", method)
		return ctx, status.Errorf(codes.Unauthenticated, "%s needs a token of role %s or above: give one with --token or GOMR_TOKEN (gomr token create makes one)", method, need)
	}
	grant, err := a.tokens.CheckToken(ctx, token)
	if err != nil {
		a.id.log.Warn("call denied: bad token", "principal", who.String(), "method", method, "err", err)
		return ctx, status.Errorf(codes.Unauthenticated, "%s: %v", method, err)
	}
	if !grant.Role.Allows(need) {
		a.id.log.Warn("call denied: token role too low", "principal", who.String(), "token", grant.String(), "method", method, "needs", need)
		return ctx, status.Errorf(codes.PermissionDenied, "%s needs a token of role %s or above; %s is %s", method, need, grant.String(), grant.Role)
	}
	caller.Token = &grant
	return context.WithValue(ctx, callerKey{}, caller), nil
}

// tokenOf returns the bearer token in a call's metadata, or "".
func tokenOf(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(authorizationKey) {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// Bearer returns per-call credentials that send token with every call,
// over TLS only.
func Bearer(token string) credentials.PerRPCCredentials { return bearer(token) }

// ClientDialOptions returns the credentials of a client's connections:
// the identity's (plaintext for nil) and, over TLS, token with every
// call ("" for none).
func (id *Identity) ClientDialOptions(token string) []grpc.DialOption {
	opts := []grpc.DialOption{id.DialOption()}
	if id != nil && token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(Bearer(token)))
	}
	return opts
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{authorizationKey: "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return true }
