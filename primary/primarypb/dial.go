package primarypb

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Dial connects to a cluster through any of its primaries' gRPC addresses.
// The connection uses the first address that answers and moves to another
// when it fails; any primary forwards calls to the leader.
func Dial(addrs []string) (*grpc.ClientConn, error) {
	var list []resolver.Address
	for _, a := range addrs {
		for part := range strings.SplitSeq(a, ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, resolver.Address{Addr: part})
			}
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("dial cluster: no primary address given")
	}
	r := manual.NewBuilderWithScheme("gomr")
	r.InitialState(resolver.State{Addresses: list})
	cc, err := grpc.NewClient(r.Scheme()+":///primaries",
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
	)
	if err != nil {
		return nil, fmt.Errorf("dial cluster %v: %w", addrs, err)
	}
	return cc, nil
}
