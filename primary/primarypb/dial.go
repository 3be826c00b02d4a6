package primarypb

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Keepalive settings of connections to primaries: a primary that stops
// answering (crashed host, paused process) is noticed within about
// KeepaliveTime+KeepaliveTimeout, and calls move to another primary.
const (
	KeepaliveTime    = 2 * time.Second
	KeepaliveTimeout = time.Second
)

// Conn is a connection to a cluster through any of its primaries.
type Conn struct {
	*grpc.ClientConn
	r     *manual.Resolver
	mu    sync.Mutex
	addrs []string
}

// Dial connects to a cluster through the primaries' gRPC addresses (each
// argument may be a comma-separated list). Calls are spread round-robin
// over the primaries that answer, and any primary forwards calls to the
// leader; so a caller that retries a failed call (no leader, a primary cut
// off from the others) reaches another primary on the next try.
func Dial(addrs []string, opts ...grpc.DialOption) (*Conn, error) {
	list := splitAddrs(addrs)
	if len(list) == 0 {
		return nil, fmt.Errorf("dial cluster: no primary address given")
	}
	r := manual.NewBuilderWithScheme("gomr")
	r.InitialState(resolverState(list))
	cc, err := grpc.NewClient(r.Scheme()+":///primaries", append([]grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout, PermitWithoutStream: true}),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}]}`),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("dial cluster %v: %w", addrs, err)
	}
	return &Conn{ClientConn: cc, r: r, addrs: list}, nil
}

// SetAddrs replaces the primaries the connection may use, keeping the ones
// it was given at first: primaries learnt from the cluster are added.
func (c *Conn) SetAddrs(addrs []string) {
	list := splitAddrs(addrs)
	if len(list) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	merged := slices.Clone(c.addrs)
	for _, a := range list {
		if !slices.Contains(merged, a) {
			merged = append(merged, a)
		}
	}
	if len(merged) == len(c.addrs) {
		return
	}
	c.addrs = merged
	c.r.UpdateState(resolverState(merged))
}

func resolverState(addrs []string) resolver.State {
	var list []resolver.Address
	for _, a := range addrs {
		// Each address is its own TLS server name: a primary's
		// certificate names the addresses it is reached by.
		list = append(list, resolver.Address{Addr: a, ServerName: a})
	}
	return resolver.State{Addresses: list}
}

func splitAddrs(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		for part := range strings.SplitSeq(a, ",") {
			if part = strings.TrimSpace(part); part != "" && !slices.Contains(out, part) {
				out = append(out, part)
			}
		}
	}
	return out
}

// ConnCache keeps one gRPC connection per address, for nodes that call
// many peers (a primary forwarding to the leader, a reducer fetching from
// workers). It is safe for concurrent use.
type ConnCache struct {
	opts  []grpc.DialOption
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// NewConnCache returns an empty cache whose connections use opts.
func NewConnCache(opts ...grpc.DialOption) *ConnCache {
	return &ConnCache{opts: opts, conns: make(map[string]*grpc.ClientConn)}
}

// Get returns the connection to addr, making it on first use.
func (c *ConnCache) Get(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, c.opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	c.conns[addr] = cc
	return cc, nil
}

// Close closes every connection.
func (c *ConnCache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cc := range c.conns {
		cc.Close()
	}
	c.conns = map[string]*grpc.ClientConn{}
}
