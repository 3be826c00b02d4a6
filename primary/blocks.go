package primary

import (
	"slices"
	"sync"
	"time"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/hdfs/placement"
)

// blockMap is what the leader knows of HDFS replicas: soft state, like
// worker liveness, rebuilt from the core workers' block reports after a
// failover (a full report when a worker starts, registers again or is
// asked, then deltas with every heartbeat). Only the namespace (which
// blocks each file has) is replicated.
type blockMap struct {
	mu sync.Mutex
	// replicas are the good replicas of each block, by worker.
	replicas map[int64]map[string]bool
	// lengths are the lengths the workers reported their replicas at: a
	// replica whose length is not its block's (as the namespace records
	// it once the file is complete) is corrupt, as HDFS's NameNode rules.
	lengths map[int64]map[string]int64
	// corrupt are replicas found bad (by a reader or a block scanner).
	corrupt map[int64]map[string]bool
	// unconfirmed are replicas a write pipeline reported stored that the
	// worker has not reported yet, with the report sequence number of the
	// worker when they were recorded: a full report made before the block
	// was stored does not drop them, the next report confirms them.
	unconfirmed map[int64]map[string]int64
	// nodes are the core workers that reported, with their storage.
	nodes map[string]*dataNode
	// transfers are replications under way, by block.
	transfers map[int64]transfer
	// deletes are replicas each worker is to delete, sent with its next
	// heartbeat reply; commands the next transfer orders.
	deletes  map[string][]int64
	commands map[string][]*hdfspb.BlockCommand
}

// dataNode is one core worker's storage as it reported it.
type dataNode struct {
	addr                      string
	capacity, used, remaining int64
	blocks                    int
	reported                  bool // a full report arrived since this leader took over
	seq                       int64
	transfers                 int // transfers it is the source of
}

// transfer is one re-replication: a source copying a block to targets.
type transfer struct {
	source   string
	targets  []string
	deadline time.Time
}

func newBlockMap() *blockMap {
	b := &blockMap{}
	b.reset()
	return b
}

// reset forgets everything (a new leader).
func (b *blockMap) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.replicas = make(map[int64]map[string]bool)
	b.lengths = make(map[int64]map[string]int64)
	b.corrupt = make(map[int64]map[string]bool)
	b.unconfirmed = make(map[int64]map[string]int64)
	b.nodes = make(map[string]*dataNode)
	b.transfers = make(map[int64]transfer)
	b.deletes = make(map[string][]int64)
	b.commands = make(map[string][]*hdfspb.BlockCommand)
}

func add(m map[int64]map[string]bool, id int64, worker string) {
	if m[id] == nil {
		m[id] = make(map[string]bool)
	}
	m[id][worker] = true
}

// setLength records the length a worker reported its replica at.
func (b *blockMap) setLength(id int64, worker string, length int64) {
	if b.lengths[id] == nil {
		b.lengths[id] = make(map[string]int64)
	}
	b.lengths[id][worker] = length
}

// dropLength forgets a reported length.
func (b *blockMap) dropLength(id int64, worker string) {
	if set := b.lengths[id]; set != nil {
		delete(set, worker)
		if len(set) == 0 {
			delete(b.lengths, id)
		}
	}
}

// wrongLength reports whether a worker reported its replica of a block
// at another length than length.
func (b *blockMap) wrongLength(id int64, worker string, length int64) bool {
	l, ok := b.lengths[id][worker]
	return ok && l != length
}

func remove(m map[int64]map[string]bool, id int64, worker string) {
	if set := m[id]; set != nil {
		delete(set, worker)
		if len(set) == 0 {
			delete(m, id)
		}
	}
}

// report applies a block report of a core worker. known tells whether a
// block belongs to a file of the namespace; a replica of any other block
// (an abandoned write, a deleted file) is ordered deleted. It returns
// whether the worker should send a full report (this leader has none of
// it yet).
func (b *blockMap) report(worker, addr string, r *hdfspb.BlockReport, known func(id int64) bool) (needFull bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nodes[worker]
	if n == nil {
		n = &dataNode{}
		b.nodes[worker] = n
	}
	n.addr = addr
	if r == nil {
		return !n.reported
	}
	n.capacity, n.used, n.remaining = r.Capacity, r.Used, r.Remaining
	if r.Full {
		for id, set := range b.replicas {
			if set[worker] && !b.isUnconfirmed(id, worker, r.Seq) {
				remove(b.replicas, id, worker)
				b.dropLength(id, worker)
				n.blocks--
			}
		}
		n.reported = true
	} else if !n.reported || (n.seq != 0 && r.Seq != n.seq+1) {
		n.reported = false // a delta cannot be trusted without the full list it follows
		return true
	}
	n.seq = r.Seq
	for id, set := range b.unconfirmed {
		if s, ok := set[worker]; ok && r.Seq > s+2 {
			// Not reported in two reports after its write: it is not there.
			delete(set, worker)
			if len(set) == 0 {
				delete(b.unconfirmed, id)
			}
			if b.replicas[id][worker] {
				remove(b.replicas, id, worker)
				n.blocks--
			}
		}
	}
	for _, blk := range r.Blocks {
		if !known(blk.Id) {
			b.deletes[worker] = append(b.deletes[worker], blk.Id)
			continue
		}
		if !b.replicas[blk.Id][worker] {
			add(b.replicas, blk.Id, worker)
			n.blocks++
		}
		b.setLength(blk.Id, worker, blk.Length)
		b.confirm(blk.Id, worker)
		remove(b.corrupt, blk.Id, worker)
		if t, ok := b.transfers[blk.Id]; ok && slices.Contains(t.targets, worker) {
			b.endTransfer(blk.Id)
		}
	}
	for _, id := range r.Deleted {
		if b.replicas[id][worker] {
			remove(b.replicas, id, worker)
			n.blocks--
		}
		b.dropLength(id, worker)
		remove(b.corrupt, id, worker)
	}
	for _, id := range r.Corrupt {
		b.markCorrupt(id, worker)
	}
	return false
}

// isUnconfirmed reports whether a replica was recorded from a write
// pipeline so recently that a report of sequence seq may predate it.
func (b *blockMap) isUnconfirmed(id int64, worker string, seq int64) bool {
	s, ok := b.unconfirmed[id][worker]
	return ok && seq <= s+2
}

func (b *blockMap) confirm(id int64, worker string) {
	if set := b.unconfirmed[id]; set != nil {
		delete(set, worker)
		if len(set) == 0 {
			delete(b.unconfirmed, id)
		}
	}
}

func (b *blockMap) endTransfer(id int64) {
	if t, ok := b.transfers[id]; ok {
		if src := b.nodes[t.source]; src != nil {
			src.transfers--
		}
		delete(b.transfers, id)
	}
}

// markCorrupt records a bad replica: it no longer counts, and it is
// deleted once the block has a good replica elsewhere.
func (b *blockMap) markCorrupt(id int64, worker string) {
	if b.replicas[id][worker] {
		remove(b.replicas, id, worker)
		if n := b.nodes[worker]; n != nil {
			n.blocks--
		}
	}
	add(b.corrupt, id, worker)
}

// reportBad records replicas a reader found bad.
func (b *blockMap) reportBad(worker string, ids []int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		b.markCorrupt(id, worker)
	}
}

// forget drops a core worker that died or restarted: its replicas no
// longer count.
func (b *blockMap) forget(worker string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, set := range b.replicas {
		if set[worker] {
			remove(b.replicas, id, worker)
		}
	}
	for id, set := range b.lengths {
		if _, ok := set[worker]; ok {
			b.dropLength(id, worker)
		}
	}
	for id, set := range b.corrupt {
		if set[worker] {
			remove(b.corrupt, id, worker)
		}
	}
	for id := range b.unconfirmed {
		b.confirm(id, worker)
	}
	for id, t := range b.transfers {
		if t.source == worker || slices.Contains(t.targets, worker) {
			b.endTransfer(id)
		}
	}
	delete(b.nodes, worker)
	delete(b.deletes, worker)
	delete(b.commands, worker)
}

// holders returns the workers with a good replica of a block of length
// bytes (a complete file's block), sorted: a replica reported at another
// length does not count.
func (b *blockMap) holders(id, length int64) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := sortedKeys(b.replicas[id])
	return slices.DeleteFunc(out, func(w string) bool { return b.wrongLength(id, w, length) })
}

// checkLength marks corrupt the replicas of a block of length bytes (a
// complete file's block) that their workers reported at another length:
// they are deleted once the block has a good replica, and replaced. It
// returns those workers.
func (b *blockMap) checkLength(id, length int64) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var bad []string
	for w := range b.replicas[id] {
		if b.wrongLength(id, w, length) {
			bad = append(bad, w)
		}
	}
	for _, w := range bad {
		b.markCorrupt(id, w)
	}
	return bad
}

// corruptHolders returns the workers with a bad replica of a block.
func (b *blockMap) corruptHolders(id int64) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return sortedKeys(b.corrupt[id])
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// node returns what a core worker reported of its storage.
func (b *blockMap) node(worker string) (dataNode, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.nodes[worker]
	if !ok {
		return dataNode{}, false
	}
	return *n, true
}

// placementNodes describes the given live core workers for placement.
func (b *blockMap) placementNodes(live map[string]string, decommissioning map[string]bool) []placement.Node {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []placement.Node
	for id, addr := range live {
		n := b.nodes[id]
		if n == nil || !n.reported {
			continue // no report yet: its disk is unknown
		}
		out = append(out, placement.Node{ID: id, Addr: addr, Capacity: n.capacity, Used: n.used, Remaining: n.remaining, Blocks: n.blocks,
			Decommissioning: decommissioning[id], Transfers: n.transfers})
	}
	slices.SortFunc(out, func(a, b placement.Node) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// allocated accounts a new replica on the chosen workers before they
// report it, so that the blocks of one burst spread out (the next report
// of each worker replaces the estimate).
func (b *blockMap) allocated(workers []string, size int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range workers {
		if n := b.nodes[w]; n != nil {
			n.used += size
			n.remaining -= size
		}
	}
}

// stored records the replicas a write pipeline reported stored, so that
// a file can be read as soon as it is closed; the workers' own reports
// confirm them.
func (b *blockMap) stored(id int64, workers []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range workers {
		n := b.nodes[w]
		if n == nil || b.replicas[id][w] {
			continue
		}
		add(b.replicas, id, w)
		n.blocks++
		if b.unconfirmed[id] == nil {
			b.unconfirmed[id] = make(map[string]int64)
		}
		b.unconfirmed[id][w] = n.seq
	}
}

// startTransfer records a re-replication and queues its command for the
// source's next heartbeat.
func (b *blockMap) startTransfer(id, length int64, source string, targets []placement.Node, deadline time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	req := &hdfspb.TransferBlockRequest{Block: &hdfspb.Block{Id: id, Length: length}}
	var ids []string
	for _, t := range targets {
		req.Targets = append(req.Targets, &hdfspb.Location{Worker: t.ID, Address: t.Addr})
		ids = append(ids, t.ID)
	}
	b.transfers[id] = transfer{source: source, targets: ids, deadline: deadline}
	if n := b.nodes[source]; n != nil {
		n.transfers++
	}
	b.commands[source] = append(b.commands[source], &hdfspb.BlockCommand{Transfer: req})
}

// transferring reports whether a block has a re-replication under way
// (one past its deadline is given up).
func (b *blockMap) transferring(id int64, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.transfers[id]
	if ok && now.After(t.deadline) {
		b.endTransfer(id)
		return false
	}
	return ok
}

// deleteReplica orders a worker to delete its replica of a block.
//
// The replica stops counting at once: the next checks, made before the
// worker reports the deletion, must not see it and order the deletion of
// another replica of the same block.
func (b *blockMap) deleteReplica(worker string, id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.Contains(b.deletes[worker], id) {
		b.deletes[worker] = append(b.deletes[worker], id)
	}
	if b.replicas[id][worker] {
		remove(b.replicas, id, worker)
		if n := b.nodes[worker]; n != nil {
			n.blocks--
		}
	}
	b.dropLength(id, worker)
	b.confirm(id, worker)
}

// allReported reports whether every one of the live core workers has
// sent this leader a full block report: until then a block may have
// replicas the leader does not know of, and it deletes no excess replica
// (HDFS postpones them likewise after a failover).
func (b *blockMap) allReported(live map[string]string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for w := range live {
		if n := b.nodes[w]; n == nil || !n.reported {
			return false
		}
	}
	return true
}

// commandsFor returns, and forgets, the work queued for a worker.
func (b *blockMap) commandsFor(worker string, needFull bool) []*hdfspb.BlockCommand {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.commands[worker]
	delete(b.commands, worker)
	if ids := b.deletes[worker]; len(ids) > 0 {
		out = append(out, &hdfspb.BlockCommand{Delete: ids})
		delete(b.deletes, worker)
	}
	if needFull {
		out = append(out, &hdfspb.BlockCommand{FullReport: true})
	}
	return out
}

// reportedWorkers returns how many core workers sent a full report.
func (b *blockMap) reportedWorkers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, d := range b.nodes {
		if d.reported {
			n++
		}
	}
	return n
}

// all returns every block with replicas, and its holders.
func (b *blockMap) all() map[int64][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[int64][]string, len(b.replicas))
	for id, set := range b.replicas {
		out[id] = sortedKeys(set)
	}
	return out
}
