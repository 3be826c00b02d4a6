package mapreduce

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// DefaultSortBufferBytes is a map task's default memory budget for buffered
// output (Hadoop's mapreduce.task.io.sort.mb defaults to 100; gomr's to 64).
const DefaultSortBufferBytes = 64 << 20

// recRefSize is the bookkeeping each buffered record costs beyond its bytes.
const recRefSize = 24

// recRef indexes one buffered record. prefix holds the key's first 8 bytes,
// big-endian, so most comparisons never touch the key bytes.
type recRef struct {
	prefix uint64
	part   uint32
	off    uint32
	klen   uint32
	vlen   uint32
}

// sortBuffer collects a map task's output, partitions it, and when it
// exceeds its budget sorts it, runs the combiner and spills it as a run.
type sortBuffer struct {
	job      *Job
	parts    int
	budget   int
	data     []byte
	recs     []recRef
	store    runStore
	runs     []*Run
	counters *Counters

	outRecords, outBytes int64
}

func newSortBuffer(job *Job, parts, budget int, store runStore, c *Counters) (*sortBuffer, error) {
	if parts < 1 {
		return nil, fmt.Errorf("sort buffer needs at least one partition, got %d", parts)
	}
	if budget < 1<<10 || budget > 1<<31 {
		return nil, fmt.Errorf("sort buffer budget %d out of range [1 KiB, 2 GiB]", budget)
	}
	initial := min(budget, 1<<20)
	return &sortBuffer{
		job:      job,
		parts:    parts,
		budget:   budget,
		data:     make([]byte, 0, initial),
		recs:     make([]recRef, 0, initial/64),
		store:    store,
		counters: c,
	}, nil
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
	size := len(key) + len(value)
	if len(sb.recs) > 0 && len(sb.data)+size+(len(sb.recs)+1)*recRefSize > sb.budget {
		if err := sb.spill(); err != nil {
			return err
		}
	}
	off := len(sb.data)
	sb.data = append(sb.data, key...)
	sb.data = append(sb.data, value...)
	sb.recs = append(sb.recs, recRef{
		prefix: keyPrefix(key),
		part:   uint32(sb.job.partition(key, sb.parts)),
		off:    uint32(off),
		klen:   uint32(len(key)),
		vlen:   uint32(len(value)),
	})
	sb.outRecords++
	sb.outBytes += int64(size)
	return nil
}

func (sb *sortBuffer) key(r *recRef) []byte {
	return sb.data[r.off : r.off+r.klen]
}

func (sb *sortBuffer) value(r *recRef) []byte {
	return sb.data[r.off+r.klen : r.off+r.klen+r.vlen]
}

func (sb *sortBuffer) sort() {
	// Ties are broken by buffer offset, which is emission order, so values
	// of one key keep the order the mapper emitted them in.
	slices.SortFunc(sb.recs, func(a, b recRef) int {
		if a.part != b.part {
			if a.part < b.part {
				return -1
			}
			return 1
		}
		if a.prefix != b.prefix {
			if a.prefix < b.prefix {
				return -1
			}
			return 1
		}
		var c int
		if a.klen <= 8 && b.klen <= 8 {
			// Equal prefixes of keys no longer than 8 bytes: the shorter
			// key (padded with zeros) sorts first.
			c = int(a.klen) - int(b.klen)
		} else {
			c = bytes.Compare(sb.key(&a), sb.key(&b))
		}
		if c != 0 {
			return c
		}
		return int(a.off) - int(b.off)
	})
}

// spill sorts the buffer and writes it as a new run.
func (sb *sortBuffer) spill() error {
	if len(sb.recs) == 0 {
		return nil
	}
	run, err := sb.writeSorted(fmt.Sprintf("spill%d.out", len(sb.runs)))
	if err != nil {
		return err
	}
	sb.runs = append(sb.runs, run)
	sb.counters.Add(Spills, 1)
	sb.data = sb.data[:0]
	sb.recs = sb.recs[:0]
	return nil
}

// writeSorted sorts the buffered records and writes them, combined, as a run.
func (sb *sortBuffer) writeSorted(name string) (*Run, error) {
	sb.sort()
	w, finish, err := sb.store.create(name)
	if err != nil {
		return nil, err
	}
	rw := newRunWriter(w)
	i := 0
	for p := 0; p < sb.parts; p++ {
		rw.startSegment(p)
		for i < len(sb.recs) && int(sb.recs[i].part) == p {
			j := i + 1
			if sb.job.Combiner != nil {
				for j < len(sb.recs) && int(sb.recs[j].part) == p && sb.sameKey(&sb.recs[i], &sb.recs[j]) {
					j++
				}
				if err := sb.combine(rw, sb.recs[i:j]); err != nil {
					return nil, err
				}
			} else if err := rw.write(sb.key(&sb.recs[i]), sb.value(&sb.recs[i])); err != nil {
				return nil, fmt.Errorf("write run: %w", err)
			}
			i = j
		}
		sb.counters.Add(SpilledRecords, rw.cur.Records)
		rw.endSegment()
	}
	if err := rw.flush(); err != nil {
		return nil, fmt.Errorf("write run: %w", err)
	}
	return finish(rw.segs)
}

func (sb *sortBuffer) sameKey(a, b *recRef) bool {
	return a.prefix == b.prefix && a.klen == b.klen && bytes.Equal(sb.key(a), sb.key(b))
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
	v := rv.sb.value(&rv.recs[0])
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

// finish sorts and writes what is buffered and merges every run into one,
// the map task's output. The runs it merged are closed.
func (sb *sortBuffer) finish(name string) (*Run, error) {
	sb.counters.Add(MapOutputRecords, sb.outRecords)
	sb.counters.Add(MapOutputBytes, sb.outBytes)
	if len(sb.runs) == 0 {
		return sb.writeSorted(name)
	}
	if err := sb.spill(); err != nil {
		return nil, err
	}
	defer func() {
		for _, r := range sb.runs {
			r.Close()
		}
	}()
	return mergeRuns(sb.runs, sb.parts, sb.job.Combiner, sb.store, name, sb.counters)
}
