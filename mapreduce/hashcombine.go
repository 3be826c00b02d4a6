package mapreduce

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"unsafe"
)

// Folder is implemented by combiners that can also combine one value at a
// time into a running value. A map task whose job's combiner is a Folder
// combines its output in a hash table keyed by the serialized key (as
// Spark's map-side combine and Hadoop's in-mapper combining do) instead
// of buffering and sorting every pair: only the table's distinct keys are
// sorted and spilled, when the table reaches its memory budget, and the
// combiner's Reduce still merges the spills.
//
// Folding a key's values v1, v2, ..., vn as Fold(...Fold(Fold(v1, v2),
// v3)..., vn) must give the value Reduce emits for that key over the same
// values (Reduce emitting exactly one pair), so the output does not
// depend on which path combined it.
type Folder interface {
	// Fold returns the combined value of acc (the value combined so far,
	// in the mapper's encoding) and value. It may write the result over
	// acc, within acc's capacity (append to acc[:0]); it must keep
	// neither slice.
	Fold(acc, value []byte) ([]byte, error)
}

// UvarintSums is implemented by a Folder whose values are a fixed number
// of uvarints and whose fold adds them field by field: word count's and
// grep's counts (one field), logagg's requests and bytes (two). The hash
// table then keeps each key's sums as integers, adds a value to them
// without a call per value, and encodes them, as the same number of
// uvarints, only when it writes a run. A value that is not exactly that
// many uvarints is an error. Sums wrap around at 2^64, as adding uint64s
// does.
type UvarintSums interface {
	Folder
	// UvarintFields returns the number of uvarints in a value, from 1 to
	// MaxUvarintFields. A map task calls it once, when it starts.
	UvarintFields() int
}

// MaxUvarintFields is the most uvarints a UvarintSums value may hold.
const MaxUvarintFields = 16

// hashEntry is one distinct key of a hashCombiner.
type hashEntry struct {
	hash   uint64
	prefix uint64 // the key's first 8 bytes, big-endian, for sorting
	keyOff uint32
	keyLen uint32
	accOff uint32
	accLen uint32
	accCap uint32
	part   uint32
}

// hashEntryCost is what a distinct key costs beyond its bytes: its entry
// and its share of the table (kept at most half full).
const hashEntryCost = int(unsafe.Sizeof(hashEntry{})) + 2*4

// minAccCap is the room kept for a key's combined value: a running
// count or sum grows in place up to it.
const minAccCap = 16

// hashCombiner is the map output buffer of a job whose combiner is a
// Folder: pairs are combined into a hash table as they are emitted, and
// the table is sorted and written as a run when it reaches its budget and
// when the task ends. Emitting a key already in the table allocates
// nothing.
type hashCombiner struct {
	job      *Job
	folder   Folder
	fields   int // uvarints per value of a UvarintSums folder, else 0
	scratch  []byte
	parts    int
	budget   int
	seed     maphash.Seed
	arena    []byte // keys and combined values (a UvarintSums folder's sums)
	entries  []hashEntry
	table    []uint32 // entry index + 1; 0 is an empty slot
	order    []uint32 // scratch for sorting entries
	store    runStore
	runs     []*Run
	counters *Counters
	tc       *TaskContext
	codec    string // compresses the task's final run

	outRecords, outBytes int64
}

func newHashCombiner(job *Job, folder Folder, parts, budget int, store runStore, c *Counters) (*hashCombiner, error) {
	if parts < 1 || parts > MaxPartitions {
		return nil, fmt.Errorf("map output buffer needs 1 to %d partitions, got %d", MaxPartitions, parts)
	}
	if budget < 1<<10 || budget > 1<<31 {
		return nil, fmt.Errorf("map output buffer budget %d out of range [1 KiB, 2 GiB]", budget)
	}
	h := &hashCombiner{job: job, folder: folder, parts: parts, budget: budget, seed: maphash.MakeSeed(), store: store, counters: c}
	if us, ok := folder.(UvarintSums); ok {
		h.fields = us.UvarintFields()
		if h.fields < 1 || h.fields > MaxUvarintFields {
			return nil, fmt.Errorf("combiner %T: %d uvarints a value, want 1 to %d", folder, h.fields, MaxUvarintFields)
		}
	}
	h.resetTable(1 << 7) // grows as keys come: a tiny split's table stays tiny
	return h, nil
}

// resetTable empties the table and gives it n slots (a power of two).
func (h *hashCombiner) resetTable(n int) {
	if cap(h.table) >= n {
		h.table = h.table[:n]
		clear(h.table)
	} else {
		h.table = make([]uint32, n)
	}
}

// reserve makes room for n more bytes in the arena, growing it at most
// to the budget (unless n alone needs more), from 4 KiB.
func (h *hashCombiner) reserve(n int) {
	if len(h.arena)+n <= cap(h.arena) {
		return
	}
	c := max(min(2*cap(h.arena), h.budget), len(h.arena)+n, 4<<10)
	a := make([]byte, len(h.arena), c)
	copy(a, h.arena)
	h.arena = a
}

// used is the memory the table's contents take.
func (h *hashCombiner) used() int {
	return len(h.arena) + len(h.entries)*hashEntryCost
}

func (h *hashCombiner) key(e *hashEntry) []byte {
	return h.arena[e.keyOff : e.keyOff+e.keyLen]
}

// Emit combines one pair into the table.
func (h *hashCombiner) Emit(key, value []byte) error {
	h.outRecords++
	h.outBytes += int64(len(key) + len(value))
	hash := maphash.Bytes(h.seed, key)
	mask := uint64(len(h.table) - 1)
	for i := hash & mask; ; i = (i + 1) & mask {
		slot := h.table[i]
		if slot == 0 {
			return h.insert(i, hash, key, value)
		}
		e := &h.entries[slot-1]
		if e.hash == hash && bytes.Equal(h.key(e), key) {
			if h.fields > 0 {
				sums := h.arena[e.accOff : e.accOff+e.accLen]
				if len(sums) == 8 && len(value) == 1 && value[0] < 0x80 {
					// One field, a one-byte uvarint: most counts.
					binary.LittleEndian.PutUint64(sums, binary.LittleEndian.Uint64(sums)+uint64(value[0]))
					return nil
				}
				return addUvarints(sums, value)
			}
			return h.fold(e, value)
		}
	}
}

// addUvarints adds a value of len(sums)/8 uvarints to sums, field by
// field: little-endian uint64s, which the table keeps in its arena right
// after the key, where comparing the key has brought them into the
// cache. On an error sums are left as they were.
func addUvarints(sums, value []byte) error {
	rest := value
	for i := 0; i < len(sums); i += 8 {
		x, k := uint64(0), 1
		if len(rest) > 0 && rest[0] < 0x80 {
			x = uint64(rest[0]) // a one-byte uvarint
		} else if x, k = binary.Uvarint(rest); k <= 0 {
			subUvarints(sums[:i], value)
			return fmt.Errorf("combiner: corrupt value %x: want %d uvarints", value, len(sums)/8)
		}
		binary.LittleEndian.PutUint64(sums[i:], binary.LittleEndian.Uint64(sums[i:])+x)
		rest = rest[k:]
	}
	if len(rest) != 0 {
		subUvarints(sums, value)
		return fmt.Errorf("combiner: corrupt value %x: %d bytes after %d uvarints", value, len(rest), len(sums)/8)
	}
	return nil
}

// subUvarints takes back what addUvarints added to sums of the first
// len(sums)/8 uvarints of value, which it read.
func subUvarints(sums, value []byte) {
	for i := 0; i < len(sums); i += 8 {
		x, k := binary.Uvarint(value)
		binary.LittleEndian.PutUint64(sums[i:], binary.LittleEndian.Uint64(sums[i:])-x)
		value = value[k:]
	}
}

// fold combines value into an entry's combined value.
func (h *hashCombiner) fold(e *hashEntry, value []byte) error {
	acc := h.arena[e.accOff : e.accOff+e.accLen : e.accOff+e.accCap]
	v, err := h.folder.Fold(acc, value)
	if err != nil {
		return fmt.Errorf("combiner: %w", err)
	}
	if len(v) <= int(e.accCap) {
		if len(v) > 0 && unsafe.SliceData(v) != &h.arena[e.accOff] {
			copy(h.arena[e.accOff:e.accOff+e.accCap], v) // Fold returned other memory
		}
		e.accLen = uint32(len(v))
		return nil
	}
	// The value outgrew its room: move it to the end of the arena.
	if h.used()+2*len(v) > h.budget {
		if err := h.spillKeeping(e, v); err != nil {
			return err
		}
		return nil
	}
	h.reserve(2 * len(v))
	e.accOff, e.accLen, e.accCap = uint32(len(h.arena)), uint32(len(v)), uint32(2*len(v))
	h.arena = append(h.arena, v...)
	h.arena = append(h.arena, make([]byte, len(v))...)
	return nil
}

// spillKeeping spills the table with entry e's combined value set to v
// (which does not fit in e's room).
func (h *hashCombiner) spillKeeping(e *hashEntry, v []byte) error {
	tmp := append([]byte(nil), v...)
	e.accOff, e.accLen, e.accCap = uint32(len(h.arena)), uint32(len(tmp)), uint32(len(tmp))
	h.arena = append(h.arena, tmp...)
	return h.spill()
}

// insert adds a key not in the table at slot i.
func (h *hashCombiner) insert(i, hash uint64, key, value []byte) error {
	room := max(len(value), minAccCap) // for the combined value
	if h.fields > 0 {
		room = 8 * h.fields // for the sums
	}
	if len(h.entries) > 0 && h.used()+len(key)+room+hashEntryCost > h.budget {
		if err := h.spill(); err != nil {
			return err
		}
		return h.insertAfterSpill(hash, key, value)
	}
	if len(h.arena)+len(key)+room > 1<<32-1 {
		return fmt.Errorf("map output buffer: a key of %d bytes does not fit", len(key))
	}
	h.reserve(len(key) + room)
	e := hashEntry{
		hash:   hash,
		prefix: keyPrefix(key),
		keyOff: uint32(len(h.arena)),
		keyLen: uint32(len(key)),
		part:   uint32(h.job.partition(key, h.parts)),
	}
	h.arena = append(h.arena, key...)
	if h.fields > 0 {
		e.accOff, e.accLen, e.accCap = uint32(len(h.arena)), uint32(room), uint32(room)
		h.arena = append(h.arena, make([]byte, room)...)
		if err := addUvarints(h.arena[e.accOff:], value); err != nil {
			h.arena = h.arena[:e.keyOff]
			return err
		}
	} else {
		e.accOff, e.accLen, e.accCap = uint32(len(h.arena)), uint32(len(value)), uint32(room)
		h.arena = append(h.arena, value...)
		h.arena = append(h.arena, make([]byte, room-len(value))...)
	}
	h.entries = append(h.entries, e)
	h.table[i] = uint32(len(h.entries))
	if 2*len(h.entries) > len(h.table) {
		h.grow()
	}
	return nil
}

// insertAfterSpill inserts a pair into the table a spill just emptied
// (its hash already computed; Emit has counted it).
func (h *hashCombiner) insertAfterSpill(hash uint64, key, value []byte) error {
	mask := uint64(len(h.table) - 1)
	i := hash & mask
	for h.table[i] != 0 {
		i = (i + 1) & mask
	}
	return h.insert(i, hash, key, value)
}

// grow doubles the table and places every entry again.
func (h *hashCombiner) grow() {
	h.resetTable(2 * len(h.table))
	mask := uint64(len(h.table) - 1)
	for n := range h.entries {
		i := h.entries[n].hash & mask
		for h.table[i] != 0 {
			i = (i + 1) & mask
		}
		h.table[i] = uint32(n + 1)
	}
}

// sorted returns the entries' indexes ordered by partition, then key.
func (h *hashCombiner) sorted() []uint32 {
	h.order = h.order[:0]
	for n := range h.entries {
		h.order = append(h.order, uint32(n))
	}
	slices.SortFunc(h.order, func(a, b uint32) int {
		x, y := &h.entries[a], &h.entries[b]
		if c := cmp.Compare(x.part, y.part); c != 0 {
			return c
		}
		if c := cmp.Compare(x.prefix, y.prefix); c != 0 {
			return c
		}
		return bytes.Compare(h.key(x), h.key(y))
	})
	return h.order
}

// write sorts the table and writes it as a run, one record per key,
// compressed with codec.
func (h *hashCombiner) write(name, codec string) (*Run, error) {
	order := h.sorted()
	w, finish, err := h.store.create(name)
	if err != nil {
		return nil, err
	}
	rw, err := newRunWriter(w, codec)
	if err != nil {
		return nil, err
	}
	i := 0
	for p := 0; p < h.parts; p++ {
		rw.startSegment(p)
		for ; i < len(order) && int(h.entries[order[i]].part) == p; i++ {
			e := &h.entries[order[i]]
			value := h.arena[e.accOff : e.accOff+e.accLen]
			if h.fields > 0 {
				h.scratch = h.scratch[:0]
				for j := 0; j < len(value); j += 8 {
					h.scratch = binary.AppendUvarint(h.scratch, binary.LittleEndian.Uint64(value[j:]))
				}
				value = h.scratch
			}
			if err := rw.write(h.key(e), value); err != nil {
				return nil, fmt.Errorf("write run: %w", err)
			}
		}
		if err := rw.endSegment(); err != nil {
			return nil, fmt.Errorf("write run: %w", err)
		}
		h.counters.Add(SpilledRecords, rw.segs[p].Records)
	}
	h.counters.Add(CombineOutputRecords, int64(len(order)))
	return finish(rw.segs)
}

// spill writes the table as a new run and empties it.
func (h *hashCombiner) spill() error {
	if len(h.entries) == 0 {
		return nil
	}
	run, err := h.write(fmt.Sprintf("spill%d.out", len(h.runs)), "")
	if err != nil {
		return err
	}
	h.runs = append(h.runs, run)
	h.counters.Add(Spills, 1)
	h.arena = h.arena[:0]
	h.entries = h.entries[:0]
	clear(h.table)
	return nil
}

// finish writes what the table holds and merges every run into one, the
// map task's output, compressed with the table's codec; the runs it
// merged are closed.
func (h *hashCombiner) finish(name string) (*Run, error) {
	h.counters.Add(MapOutputRecords, h.outRecords)
	h.counters.Add(MapOutputBytes, h.outBytes)
	h.counters.Add(CombineInputRecords, h.outRecords)
	if len(h.runs) == 0 {
		return h.write(name, h.codec)
	}
	if err := h.spill(); err != nil {
		return nil, err
	}
	defer func() {
		for _, r := range h.runs {
			r.Close()
		}
	}()
	// The merge combines each key's values from the spills: its counts
	// are the merge's, not the table's.
	return mergeRuns(h.runs, h.parts, h.job.Combiner, h.tc, h.store, name, h.codec, h.counters)
}

// release drops the table's memory.
func (h *hashCombiner) release() {
	h.arena, h.entries, h.table, h.order = nil, nil, nil, nil
}
