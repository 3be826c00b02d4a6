package placement

import (
	"cmp"
	"math/bits"
	"slices"
)

// Node describes a live core worker, a DataNode, as its last heartbeat
// reported it.
type Node struct {
	// ID names the worker; it is how the namespace records the replicas
	// it holds.
	ID string
	// Addr is where its DataNode service listens.
	Addr string
	// Capacity is the bytes its block store may use, Used the bytes its
	// blocks take and Remaining the bytes still free for blocks.
	Capacity, Used, Remaining int64
	// Blocks is the number of block replicas it holds.
	Blocks int
	// Decommissioning is set while the worker is being drained: it gets no
	// new replicas, but its replicas are still read and copied.
	Decommissioning bool
	// Transfers is the number of replica copies it is sending now.
	Transfers int
}

// Choose returns the nodes to write a new block's n replicas to, in
// pipeline order. When writer (the ID of the worker the writing client
// runs on) is one of nodes and may take the block, it comes first (the
// first replica is local); the others follow from the least used: by
// fraction of capacity used, then fewest blocks, then ID. A node never
// gets a replica when it is decommissioning, its ID is in exclude (it
// failed a pipeline), or it has no room for a block (Remaining less than
// blockSize); each node is chosen at most once. Fewer than n nodes come
// back when not enough may take the block, none when n is not positive. A
// writer that is not one of nodes (a task worker, a client outside the
// cluster) gets no special place.
func Choose(nodes []Node, writer string, n int, blockSize int64, exclude []string) []Node {
	if n <= 0 {
		return nil
	}
	var out []Node
	seen := make(map[string]bool, len(nodes)+len(exclude))
	for _, id := range exclude {
		seen[id] = true
	}
	if writer != "" && !seen[writer] {
		for _, nd := range nodes {
			if nd.ID == writer {
				if canTake(nd, blockSize) {
					out = append(out, nd)
				}
				break
			}
		}
		seen[writer] = true
	}
	var rest []Node
	for _, nd := range nodes {
		if !seen[nd.ID] && canTake(nd, blockSize) {
			seen[nd.ID] = true
			rest = append(rest, nd)
		}
	}
	slices.SortFunc(rest, leastUsedFirst)
	for _, nd := range rest {
		if len(out) >= n {
			break
		}
		out = append(out, nd)
	}
	return out
}

// ChooseTargets returns up to n more nodes to copy a block to when it has
// too few replicas: nodes not among holders (the IDs of the workers that
// hold it), by the rules and order of Choose without a writer.
func ChooseTargets(nodes []Node, holders []string, n int, blockSize int64) []Node {
	return Choose(nodes, "", n, blockSize, holders)
}

// ChooseSource returns the holder of a block to copy it from: of the
// nodes whose ID is among holders, the one with the fewest transfers in
// flight, ties going to the smallest ID. Decommissioning holders may be
// chosen (they are the usual source: their replicas must move). It
// reports false when no holder is among nodes (none is live).
func ChooseSource(nodes []Node, holders []string) (Node, bool) {
	var best Node
	found := false
	for _, nd := range nodes {
		if !slices.Contains(holders, nd.ID) {
			continue
		}
		if !found || nd.Transfers < best.Transfers || nd.Transfers == best.Transfers && nd.ID < best.ID {
			best, found = nd, true
		}
	}
	return best, found
}

// SortByDistance returns holders (the IDs of the workers holding a
// block's replicas) in the order a reader on the worker reader should try
// them: reader's own replica first, then the others in their given order.
// holders itself is left as it is.
func SortByDistance(holders []string, reader string) []string {
	out := make([]string, 0, len(holders))
	for _, h := range holders {
		if h == reader {
			out = append(out, h)
		}
	}
	for _, h := range holders {
		if h != reader {
			out = append(out, h)
		}
	}
	return out
}

// Excess returns the IDs of the replicas to delete when a block has more
// than n live ones: of the holders that are among nodes, those on
// decommissioning nodes first, then the most used (by fraction of
// capacity used, then most blocks, then ID), until n are left. Holders not
// among nodes are not live: they neither count nor are chosen; a holder
// named twice counts once. n below 1 counts as 1, so a block always keeps
// a replica.
func Excess(nodes []Node, holders []string, n int) []string {
	n = max(n, 1)
	var live []Node
	seen := make(map[string]bool, len(holders))
	for _, nd := range nodes {
		if !seen[nd.ID] && slices.Contains(holders, nd.ID) {
			seen[nd.ID] = true
			live = append(live, nd)
		}
	}
	if len(live) <= n {
		return nil
	}
	slices.SortFunc(live, func(a, b Node) int {
		if a.Decommissioning != b.Decommissioning {
			if a.Decommissioning {
				return -1
			}
			return 1
		}
		if c := usedFraction(b, a); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Blocks, a.Blocks); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	out := make([]string, 0, len(live)-n)
	for _, nd := range live[:len(live)-n] {
		out = append(out, nd.ID)
	}
	return out
}

// canTake reports whether a new replica of a block of blockSize bytes may
// go to nd: it is not decommissioning and has room (and some room at all,
// whatever blockSize).
func canTake(nd Node, blockSize int64) bool {
	return !nd.Decommissioning && nd.Remaining >= blockSize && nd.Remaining > 0
}

// leastUsedFirst orders nodes for new replicas: the smallest fraction of
// capacity used first, then the fewest blocks, then by ID.
func leastUsedFirst(a, b Node) int {
	if c := usedFraction(a, b); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Blocks, b.Blocks); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// usedFraction compares a.Used/a.Capacity with b.Used/b.Capacity exactly
// (in 128 bits, no rounding). A node without capacity counts as full;
// negative figures count as 0.
func usedFraction(a, b Node) int {
	au, ac := fraction(a)
	bu, bc := fraction(b)
	// au/ac <=> bu/bc is au*bc <=> bu*ac, denominators being positive.
	lh, ll := bits.Mul64(au, bc)
	rh, rl := bits.Mul64(bu, ac)
	if c := cmp.Compare(lh, rh); c != 0 {
		return c
	}
	return cmp.Compare(ll, rl)
}

// fraction returns nd's used fraction as numerator and positive
// denominator.
func fraction(nd Node) (used, capacity uint64) {
	if nd.Capacity <= 0 {
		return 1, 1
	}
	return uint64(max(nd.Used, 0)), uint64(nd.Capacity)
}
