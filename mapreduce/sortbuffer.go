package mapreduce

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
)

// DefaultSortBufferBytes is a map task's default memory budget for buffered
// output, as Hadoop's mapreduce.task.io.sort.mb (100 MB): enough for a
// 64 MiB split of TeraSort records to sort without a spill.
const DefaultSortBufferBytes = 100 << 20

// MaxPartitions is the most reduce partitions a map task can write.
const MaxPartitions = 1 << 16

// recRefCost is the bookkeeping each buffered record costs beyond its
// bytes: its index entry and the radix sort's scratch copy of it.
const recRefCost = 32

// recRef indexes one buffered record. prefix holds the key's first 8 bytes,
// big-endian, so the radix sort and most comparisons never touch the key.
type recRef struct {
	prefix uint64
	off    uint32 // offset of the encoded record in data
	part   uint16
	klen   uint16 // key length, capped at 0xFFFF
}

// sortBuffer collects a map task's output, partitions it, and when it
// exceeds its budget sorts it, runs the combiner and spills it as a run.
// Records are buffered already encoded as run records, so without a
// combiner a spill copies bytes as they are.
type sortBuffer struct {
	job      *Job
	parts    int
	budget   int
	data     []byte
	recs     []recRef
	scratch  []recRef
	store    runStore
	runs     []*Run
	counters *Counters
	// tc is the map task's context, for a streaming combiner.
	tc *TaskContext
	// codec compresses the task's final run (spills stay as they are).
	codec string

	outRecords, outBytes int64
}

func newSortBuffer(job *Job, parts, budget int, store runStore, c *Counters) (*sortBuffer, error) {
	if parts < 1 || parts > MaxPartitions {
		return nil, fmt.Errorf("sort buffer needs 1 to %d partitions, got %d", MaxPartitions, parts)
	}
	if budget < 1<<10 || budget > 1<<31 {
		return nil, fmt.Errorf("sort buffer budget %d out of range [1 KiB, 2 GiB]", budget)
	}
	sb := &sortBuffer{job: job, parts: parts, budget: budget, store: store, counters: c}
	if m := spareBuffers.get(); m != nil {
		sb.data, sb.recs, sb.scratch = m.data[:0], m.recs[:0], m.scratch[:0]
	} else {
		initial := min(budget, 1<<20)
		sb.data, sb.recs = make([]byte, 0, initial), make([]recRef, 0, initial/64)
	}
	return sb, nil
}

// bufferMem is the memory of a sort buffer, kept between tasks so that a
// worker does not allocate and grow a buffer of up to the budget for each
// map task.
type bufferMem struct {
	data          []byte
	recs, scratch []recRef
}

// maxSpareBuffers is how many sort buffers' memory a process keeps for
// later tasks (enough for the slots of a worker; a sync.Pool would drop
// them at every garbage collection, which a busy map task triggers often).
const maxSpareBuffers = 4

type bufferList struct {
	mu   sync.Mutex
	list []*bufferMem
}

var spareBuffers bufferList

func (l *bufferList) get() *bufferMem {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.list); n > 0 {
		m := l.list[n-1]
		l.list = l.list[:n-1]
		return m
	}
	return nil
}

func (l *bufferList) put(m *bufferMem) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) < maxSpareBuffers {
		l.list = append(l.list, m)
	}
}

// release returns the buffer's memory for the next task to use.
func (sb *sortBuffer) release() {
	if sb.data == nil {
		return
	}
	spareBuffers.put(&bufferMem{data: sb.data, recs: sb.recs, scratch: sb.scratch})
	sb.data, sb.recs, sb.scratch = nil, nil, nil
}

func keyPrefix(key []byte) uint64 {
	if len(key) >= 8 {
		return binary.BigEndian.Uint64(key)
	}
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

// Emit buffers one pair, spilling first if it would overflow the budget.
func (sb *sortBuffer) Emit(key, value []byte) error {
	size := len(key) + len(value) + 2*binary.MaxVarintLen32
	if len(sb.recs) > 0 && len(sb.data)+size+(len(sb.recs)+1)*recRefCost > sb.budget {
		if err := sb.spill(); err != nil {
			return err
		}
	}
	off := len(sb.data)
	sb.data = binary.AppendUvarint(sb.data, uint64(len(key)))
	sb.data = binary.AppendUvarint(sb.data, uint64(len(value)))
	sb.data = append(sb.data, key...)
	sb.data = append(sb.data, value...)
	sb.recs = append(sb.recs, recRef{
		prefix: keyPrefix(key),
		off:    uint32(off),
		part:   uint16(sb.job.partition(key, sb.parts)),
		klen:   uint16(min(len(key), 0xFFFF)),
	})
	sb.outRecords++
	sb.outBytes += int64(len(key) + len(value))
	return nil
}

// record returns the key, value and whole encoding of a buffered record.
func (sb *sortBuffer) record(r *recRef) (key, value, raw []byte) {
	b := sb.data[r.off:]
	var kl, vl uint64
	var h int
	if b[0] < 0x80 && b[1] < 0x80 {
		kl, vl, h = uint64(b[0]), uint64(b[1]), 2 // short key and value: the common case
	} else {
		var n, m int
		kl, n = binary.Uvarint(b)
		vl, m = binary.Uvarint(b[n:])
		h = n + m
	}
	return b[h : h+int(kl)], b[h+int(kl) : h+int(kl)+int(vl)], b[:h+int(kl)+int(vl)]
}

func (sb *sortBuffer) key(r *recRef) []byte {
	k, _, _ := sb.record(r)
	return k
}

// sort orders the buffer by partition, then key, then emission order: an
// LSD radix sort on (partition, key prefix), which is stable, followed by a
// comparison sort of the runs of records whose prefixes tie but whose keys
// may differ.
func (sb *sortBuffer) sort() {
	if len(sb.recs) == 0 {
		return
	}
	if cap(sb.scratch) < len(sb.recs) {
		sb.scratch = make([]recRef, len(sb.recs), cap(sb.recs))
	}
	sorted := radixSort(sb.recs, sb.scratch[:len(sb.recs)])
	if &sorted[0] != &sb.recs[0] {
		// The result is in the scratch array: swap the two.
		sb.recs, sb.scratch = sorted, sb.recs
	}
	sb.scratch = sb.scratch[:0]
	for i := 0; i < len(sb.recs); {
		j := i + 1
		mixed := false
		for j < len(sb.recs) && sb.recs[j].prefix == sb.recs[i].prefix && sb.recs[j].part == sb.recs[i].part {
			if sb.recs[j].klen != sb.recs[i].klen || sb.recs[j].klen > 8 {
				mixed = true
			}
			j++
		}
		if mixed || (j-i > 1 && sb.recs[i].klen > 8) {
			// Stable: equal keys keep emission order.
			slices.SortStableFunc(sb.recs[i:j], func(a, b recRef) int { return bytes.Compare(sb.key(&a), sb.key(&b)) })
		}
		i = j
	}
}

// radixSort sorts recs by (part, prefix), stably, using tmp (of the same
// length) as scratch, and returns whichever of the two holds the result.
// Byte positions on which every record agrees are skipped.
func radixSort(recs, tmp []recRef) []recRef {
	n := len(recs)
	if n < 2 {
		return recs
	}
	// digit d < 8 is byte d of prefix (0 = least significant); 8 and 9 are
	// the bytes of part.
	var counts [10][256]int
	for i := range recs {
		p := recs[i].prefix
		for d := range 8 {
			counts[d][byte(p>>(8*d))]++
		}
		counts[8][byte(recs[i].part)]++
		counts[9][byte(recs[i].part>>8)]++
	}
	src, dst := recs, tmp
	for d := range 10 {
		c := &counts[d]
		trivial := false
		for _, k := range c {
			if k == n {
				trivial = true
				break
			}
			if k != 0 {
				break
			}
		}
		if trivial || c[firstNonZero(c)] == n {
			continue
		}
		var pos [256]int
		sum := 0
		for b := range 256 {
			pos[b] = sum
			sum += c[b]
		}
		if d < 8 {
			shift := 8 * d
			for i := range src {
				b := byte(src[i].prefix >> shift)
				dst[pos[b]] = src[i]
				pos[b]++
			}
		} else {
			shift := 8 * (d - 8)
			for i := range src {
				b := byte(src[i].part >> shift)
				dst[pos[b]] = src[i]
				pos[b]++
			}
		}
		src, dst = dst, src
	}
	return src
}

func firstNonZero(c *[256]int) int {
	for b, k := range c {
		if k != 0 {
			return b
		}
	}
	return 0
}

// spill sorts the buffer and writes it as a new run.
func (sb *sortBuffer) spill() error {
	if len(sb.recs) == 0 {
		return nil
	}
	run, err := sb.writeSorted(fmt.Sprintf("spill%d.out", len(sb.runs)), "")
	if err != nil {
		return err
	}
	sb.runs = append(sb.runs, run)
	sb.counters.Add(Spills, 1)
	sb.data = sb.data[:0]
	sb.recs = sb.recs[:0]
	return nil
}

// writeSorted sorts the buffered records and writes them, combined, as a
// run compressed with codec.
func (sb *sortBuffer) writeSorted(name, codec string) (*Run, error) {
	sb.sort()
	w, finish, err := sb.store.create(name)
	if err != nil {
		return nil, err
	}
	rw, err := newRunWriter(w, codec)
	if err != nil {
		return nil, err
	}
	i := 0
	stream, _ := sb.job.Combiner.(StreamCombiner)
	for p := 0; p < sb.parts; p++ {
		rw.startSegment(p)
		if stream != nil {
			j := i
			for j < len(sb.recs) && int(sb.recs[j].part) == p {
				j++
			}
			if err := sb.combineStream(stream, rw, sb.recs[i:j]); err != nil {
				return nil, err
			}
			i = j
		}
		for i < len(sb.recs) && int(sb.recs[i].part) == p {
			j := i + 1
			if sb.job.Combiner != nil {
				for j < len(sb.recs) && int(sb.recs[j].part) == p && sb.sameKey(&sb.recs[i], &sb.recs[j]) {
					j++
				}
				if err := sb.combine(rw, sb.recs[i:j]); err != nil {
					return nil, err
				}
			} else {
				_, _, raw := sb.record(&sb.recs[i])
				if err := rw.writeRaw(raw); err != nil {
					return nil, fmt.Errorf("write run: %w", err)
				}
			}
			i = j
		}
		if err := rw.endSegment(); err != nil {
			return nil, fmt.Errorf("write run: %w", err)
		}
		sb.counters.Add(SpilledRecords, rw.segs[p].Records)
	}
	return finish(rw.segs)
}

func (sb *sortBuffer) sameKey(a, b *recRef) bool {
	if a.prefix != b.prefix || a.klen != b.klen {
		return false
	}
	return a.klen <= 8 || bytes.Equal(sb.key(a), sb.key(b))
}

// refValues yields the values of a group of buffered records.
type refValues struct {
	sb   *sortBuffer
	recs []recRef
}

func (rv *refValues) nextValue() ([]byte, bool) {
	if len(rv.recs) == 0 {
		return nil, false
	}
	_, v, _ := rv.sb.record(&rv.recs[0])
	rv.recs = rv.recs[1:]
	return v, true
}

func (sb *sortBuffer) combine(rw *runWriter, group []recRef) error {
	key := sb.key(&group[0])
	vals := &Values{src: &refValues{sb: sb, recs: group}}
	guard := &keyGuard{key: key, out: rw.write}
	if err := sb.job.Combiner.Reduce(key, vals, guard); err != nil {
		return fmt.Errorf("combiner: %w", err)
	}
	sb.counters.Add(CombineInputRecords, vals.drain())
	sb.counters.Add(CombineOutputRecords, guard.emit)
	return nil
}

// combineStream feeds a partition's sorted records to a streaming
// combiner and writes what it emits, which must keep the keys in order.
func (sb *sortBuffer) combineStream(sc StreamCombiner, rw *runWriter, recs []recRef) error {
	in := func(yield func(key, value []byte) bool) {
		for i := range recs {
			k, v, _ := sb.record(&recs[i])
			if !yield(k, v) {
				return
			}
		}
	}
	out := &orderedEmitter{out: rw.write}
	if err := sc.CombineStream(sb.tc, in, out); err != nil {
		return fmt.Errorf("combiner: %w", err)
	}
	sb.counters.Add(CombineInputRecords, int64(len(recs)))
	sb.counters.Add(CombineOutputRecords, out.n)
	return nil
}

// orderedEmitter passes on pairs whose keys do not go down, and refuses
// the first that does: the sorted run it writes must stay sorted.
type orderedEmitter struct {
	out  func(key, value []byte) error
	last []byte
	n    int64
}

func (o *orderedEmitter) Emit(key, value []byte) error {
	if o.n > 0 && bytes.Compare(key, o.last) < 0 {
		return fmt.Errorf("combiner emitted key %q after %q: a combiner must keep its input's order", key, o.last)
	}
	o.last = append(o.last[:0], key...)
	o.n++
	return o.out(key, value)
}

// finish sorts and writes what is buffered and merges every run into one,
// the map task's output, compressed with the buffer's codec. The runs it
// merged are closed.
func (sb *sortBuffer) finish(name string) (*Run, error) {
	sb.counters.Add(MapOutputRecords, sb.outRecords)
	sb.counters.Add(MapOutputBytes, sb.outBytes)
	if len(sb.runs) == 0 {
		return sb.writeSorted(name, sb.codec)
	}
	if err := sb.spill(); err != nil {
		return nil, err
	}
	defer func() {
		for _, r := range sb.runs {
			r.Close()
		}
	}()
	return mergeRuns(sb.runs, sb.parts, sb.job.Combiner, sb.tc, sb.store, name, sb.codec, sb.counters)
}
