package mapreduce

import (
	"bytes"
	"fmt"
	"io"
)

// mergeIter merges sorted segments into one sorted stream. Records with equal
// keys come out in the order of their segments, so the merge is stable.
//
// It is a tournament (loser) tree: each internal node holds the segment
// that lost the match played there, and the root's winner is the next
// record. Advancing the winner replays only its path to the root, one
// comparison a level, where a binary heap makes two. Each segment's key
// is also kept as its first 8 bytes in an integer, which decides most
// comparisons of random keys (TeraSort's) without reading the key.
type mergeIter struct {
	segs []*segmentReader
	// prefix[i] is keyPrefix of segment i's current key; done[i] is set
	// once segment i has no record left (it loses every match).
	prefix []uint64
	done   []bool
	// tree[0] is the winner; tree[1:] are the losers of the internal
	// nodes, the leaves being at len(segs)+i, node n's parent at n/2.
	tree []int
	last int // the winner last returned, -1 before the first
}

// newMergeIter merges readers; their order in the slice breaks key ties.
func newMergeIter(readers []*segmentReader) (*mergeIter, error) {
	k := len(readers)
	m := &mergeIter{segs: readers, prefix: make([]uint64, k), done: make([]bool, k), tree: make([]int, max(k, 1)), last: -1}
	for i, r := range readers {
		if !m.advance(i) {
			if err := r.err(); err != nil {
				return nil, err
			}
		}
	}
	if k == 0 {
		return m, nil
	}
	// Play every match bottom-up: winners[n] is node n's winner.
	winners := make([]int, 2*k)
	for i := range k {
		winners[k+i] = i
	}
	for n := k - 1; n >= 1; n-- {
		a, b := winners[2*n], winners[2*n+1]
		if m.before(b, a) {
			a, b = b, a
		}
		winners[n], m.tree[n] = a, b
	}
	if k == 1 {
		m.tree[0] = 0
	} else {
		m.tree[0] = winners[1]
	}
	return m, nil
}

// advance moves segment i to its next record, noting its key's prefix,
// and reports whether it has one.
func (m *mergeIter) advance(i int) bool {
	if !m.segs[i].next() {
		m.done[i] = true
		return false
	}
	m.prefix[i] = keyPrefix(m.segs[i].key)
	return true
}

// before reports whether segment a's record comes before segment b's.
func (m *mergeIter) before(a, b int) bool {
	switch {
	case m.done[a]:
		return false
	case m.done[b]:
		return true
	case m.prefix[a] != m.prefix[b]:
		return m.prefix[a] < m.prefix[b]
	}
	if c := bytes.Compare(m.segs[a].key, m.segs[b].key); c != 0 {
		return c < 0
	}
	return a < b
}

// next returns the next record; key and value are valid until the next call.
func (m *mergeIter) next() (key, value []byte, ok bool, err error) {
	k := len(m.segs)
	if k == 0 {
		return nil, nil, false, nil
	}
	if w := m.last; w >= 0 {
		if !m.advance(w) {
			if err := m.segs[w].err(); err != nil {
				return nil, nil, false, err
			}
		}
		// Replay the winner's path: at each node the loser stays, the
		// winner goes up.
		for n := (k + w) / 2; n >= 1; n /= 2 {
			if m.before(m.tree[n], w) {
				m.tree[n], w = w, m.tree[n]
			}
		}
		m.tree[0] = w
	}
	top := m.tree[0]
	if m.done[top] {
		m.last = -1
		return nil, nil, false, nil
	}
	m.last = top
	return m.segs[top].key, m.segs[top].value, true, nil
}

// grouper walks a merged stream one key at a time.
type grouper struct {
	it         *mergeIter
	key        []byte // the current group's key
	nextKey    []byte // the key of the pending record
	pendingVal []byte
	hasPending bool // a record was read but not yet delivered
	inGroup    bool
	eof        bool
	err        error
	vals       Values
	// progress, if set, ticks every 64Ki values, so that a reducer busy
	// with one huge key is not taken for hung.
	progress *Progress
	read     int64
}

func newGrouper(it *mergeIter) *grouper { return &grouper{it: it} }

// nextGroup moves to the next key, returning false at the end or on error
// (see err). Values the previous group's reducer left unread are skipped.
func (g *grouper) nextGroup() bool {
	if g.inGroup {
		g.vals.drain()
	}
	if g.err != nil {
		return false
	}
	if !g.hasPending {
		if g.eof || !g.fetch() {
			return false
		}
	}
	g.key, g.nextKey = g.nextKey, g.key[:0]
	g.inGroup = true
	g.vals = Values{src: g}
	return true
}

// fetch reads the next record into the pending slot.
func (g *grouper) fetch() bool {
	if g.read++; g.progress != nil && g.read&0xFFFF == 0 {
		g.progress.Tick()
	}
	k, v, ok, err := g.it.next()
	if err != nil || !ok {
		g.err, g.eof = err, true
		return false
	}
	g.nextKey = append(g.nextKey[:0], k...)
	g.pendingVal, g.hasPending = v, true
	return true
}

func (g *grouper) nextValue() ([]byte, bool) {
	if !g.inGroup {
		return nil, false
	}
	if g.hasPending {
		g.hasPending = false
		return g.pendingVal, true
	}
	if !g.fetch() {
		g.inGroup = false
		return nil, false
	}
	if !bytes.Equal(g.nextKey, g.key) {
		g.inGroup = false
		return nil, false
	}
	g.hasPending = false
	return g.pendingVal, true
}

// mergeRuns merges the runs' segments partition by partition into one new
// run compressed with codec, running the combiner (if any) on each key.
func mergeRuns(runs []*Run, parts int, combiner Reducer, tc *TaskContext, store runStore, name, codec string, c *Counters) (*Run, error) {
	w, finish, err := store.create(name)
	if err != nil {
		return nil, err
	}
	rw, err := newRunWriter(w, codec)
	if err != nil {
		return nil, err
	}
	for p := 0; p < parts; p++ {
		inputs := make([]SegmentInput, len(runs))
		for i, r := range runs {
			sr, seg := r.OpenSegment(p)
			inputs[i] = SegmentInput{Name: fmt.Sprintf("spill %d partition %d", i, p), Reader: sr, Segment: seg}
		}
		if err := writeMergedSegment(rw, p, inputs, combiner, tc, c); err != nil {
			return nil, err
		}
	}
	return finish(rw.segs)
}

// writeMergedSegment merges inputs into rw's segment of partition p,
// running the combiner (if any) on each key.
func writeMergedSegment(rw *runWriter, p int, inputs []SegmentInput, combiner Reducer, tc *TaskContext, c *Counters) error {
	it, err := newMergeIter(newSegmentReaders(inputs))
	if err != nil {
		return err
	}
	rw.startSegment(p)
	if err := writeMerged(rw, it, combiner, tc, c); err != nil {
		return err
	}
	if err := rw.endSegment(); err != nil {
		return fmt.Errorf("write merged run: %w", err)
	}
	return nil
}

func writeMerged(rw *runWriter, it *mergeIter, combiner Reducer, tc *TaskContext, c *Counters) error {
	if sc, ok := combiner.(StreamCombiner); ok {
		var readErr error
		var in int64
		feed := func(yield func(key, value []byte) bool) {
			for {
				k, v, ok, err := it.next()
				if err != nil {
					readErr = err
					return
				}
				if !ok {
					return
				}
				in++
				if !yield(k, v) {
					return
				}
			}
		}
		out := &orderedEmitter{out: rw.write}
		if err := sc.CombineStream(tc, feed, out); err != nil {
			return fmt.Errorf("combiner: %w", err)
		}
		c.Add(CombineInputRecords, in)
		c.Add(CombineOutputRecords, out.n)
		return readErr
	}
	if combiner == nil {
		for {
			k, v, ok, err := it.next()
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			if err := rw.write(k, v); err != nil {
				return fmt.Errorf("write merged run: %w", err)
			}
		}
	}
	g := newGrouper(it)
	for g.nextGroup() {
		guard := &keyGuard{key: g.key, out: rw.write}
		if err := combiner.Reduce(g.key, &g.vals, guard); err != nil {
			return fmt.Errorf("combiner: %w", err)
		}
		c.Add(CombineInputRecords, g.vals.drain())
		c.Add(CombineOutputRecords, guard.emit)
	}
	return g.err
}

// ReadPairs calls fn for every record of a segment in order; it is how
// tests and tools read a run.
func ReadPairs(r io.Reader, seg Segment, fn func(key, value []byte) error) error {
	sr := newSegmentReader(r, seg, fmt.Sprintf("partition %d", seg.Partition), mergeBufferSize(1))
	for sr.next() {
		if err := fn(sr.key, sr.value); err != nil {
			return err
		}
	}
	return sr.err()
}
