package worker

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/gomr/gomr/primary/access"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc/status"
)

// tokenCacheTTL is how long a worker trusts a token the primary vouched
// for: a revoked token keeps working on workers for at most this long.
const tokenCacheTTL = 10 * time.Second

// tokenCacheSize bounds the cache; a full cache is emptied.
const tokenCacheSize = 4096

// tokenCache checks the tokens of clients calling this worker (attempt
// logs, HDFS blocks) with the primary, and remembers valid ones for a
// short while so that a file's blocks do not cost a check each.
type tokenCache struct {
	client pb.WorkerClient
	now    func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]cachedGrant
}

type cachedGrant struct {
	grant access.Grant
	until time.Time
}

func newTokenCache(client pb.WorkerClient) *tokenCache {
	return &tokenCache{client: client, now: time.Now, entries: map[[32]byte]cachedGrant{}}
}

// CheckToken implements mtls.TokenChecker.
func (c *tokenCache) CheckToken(ctx context.Context, token string) (access.Grant, error) {
	if _, _, err := access.ParseToken(token); err != nil {
		return access.Grant{}, err
	}
	k := sha256.Sum256([]byte(token))
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.grant, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := c.client.CheckToken(ctx, &pb.CheckTokenRequest{Token: token})
	if err != nil {
		return access.Grant{}, fmt.Errorf("check token with the primary: %s", status.Convert(err).Message())
	}
	t := resp.GetToken()
	g := access.Grant{Accessor: t.GetAccessor(), Name: t.GetName(), Role: access.Role(t.GetRole()), ExpiresAt: t.GetExpiresUnixNano(), DataRoots: t.GetDataRoots()}
	until := now.Add(tokenCacheTTL)
	if g.ExpiresAt != 0 && time.Unix(0, g.ExpiresAt).Before(until) {
		until = time.Unix(0, g.ExpiresAt)
	}
	c.mu.Lock()
	if len(c.entries) >= tokenCacheSize {
		clear(c.entries)
	}
	c.entries[k] = cachedGrant{grant: g, until: until}
	c.mu.Unlock()
	return g, nil
}
