package state

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// RecordType tags one record of a snapshot. Like command tags, record
// tags are stable, and a record whose tag carries IgnoreUnknownTypeFlag
// may be skipped by a primary that does not know it.
type RecordType uint8

// Record tags.
const (
	RecordPrimary RecordType = 1
	RecordWorker  RecordType = 2
	RecordStep    RecordType = 3
	RecordTask    RecordType = 4
	RecordMeta    RecordType = 5
	RecordInode   RecordType = 6
	RecordLease   RecordType = 7
	RecordToken   RecordType = 8
)

// snapshotMagic starts every snapshot: the format and its version.
const snapshotMagic = "gomr-state-v1\n"

// restoreBatch is how many objects Restore inserts per transaction.
const restoreBatch = 50_000

// WriteTo streams the view as a snapshot: a header, then one tagged record
// per object (tag byte, uvarint length, JSON), compressed with zstd. It
// reads only the view, so Apply goes on meanwhile.
func (v *View) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	zw, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	bw := bufio.NewWriterSize(zw, 256<<10)
	rw := &recordWriter{w: bw}
	rw.raw([]byte(snapshotMagic))
	for _, p := range v.Primaries() {
		rw.record(RecordPrimary, p)
	}
	for _, name := range []string{metaNextSeq, metaMaxBlock, metaSafeMode, metaTerminated} {
		if m, ok := first[*meta](v.txn, tableMeta, indexID, name); ok {
			rw.record(RecordMeta, m)
		}
	}
	for n := range all[*Inode](v.txn.Get(tableInodes, indexID+"_prefix", "")) {
		rw.record(RecordInode, n)
	}
	for _, l := range v.Leases() {
		rw.record(RecordLease, l)
	}
	for _, t := range v.Tokens() {
		rw.record(RecordToken, t)
	}
	for _, wk := range v.Workers() {
		rw.record(RecordWorker, wk)
	}
	for st := range v.Steps() {
		rw.record(RecordStep, st)
		for t := range v.Tasks(st.ID) {
			rw.record(RecordTask, t)
		}
	}
	if rw.err == nil {
		rw.err = bw.Flush()
	}
	if err := zw.Close(); rw.err == nil {
		rw.err = err
	}
	if rw.err != nil {
		return cw.n, fmt.Errorf("write snapshot: %w", rw.err)
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type recordWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (rw *recordWriter) raw(b []byte) {
	if rw.err == nil {
		_, rw.err = rw.w.Write(b)
	}
}

func (rw *recordWriter) record(t RecordType, obj any) {
	if rw.err != nil {
		return
	}
	b, err := json.Marshal(obj)
	if err != nil {
		rw.err = fmt.Errorf("encode record %d: %w", t, err)
		return
	}
	rw.buf = append(rw.buf[:0], byte(t))
	rw.buf = binary.AppendUvarint(rw.buf, uint64(len(b)))
	rw.raw(rw.buf)
	rw.raw(b)
}

// ErrBadSnapshot is returned for a snapshot this version cannot read.
var ErrBadSnapshot = errors.New("bad snapshot")

// Read builds a new state from a snapshot written by WriteTo. Records of
// unknown types that may be ignored are skipped; any other unknown record
// is an error.
func Read(r io.Reader) (*State, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	defer zr.Close()
	br := bufio.NewReaderSize(zr, 256<<10)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, fmt.Errorf("%w: reading its header: %v", ErrBadSnapshot, err)
	}
	if string(magic) != snapshotMagic {
		return nil, fmt.Errorf("%w: it does not start with the header of a gomr state snapshot", ErrBadSnapshot)
	}
	s := New()
	txn := s.db.Txn(true)
	n := 0
	var buf []byte
	for {
		tag, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			txn.Abort()
			return nil, fmt.Errorf("%w: after %d records: %v", ErrBadSnapshot, n, err)
		}
		size, err := binary.ReadUvarint(br)
		if err != nil || size > 1<<30 {
			txn.Abort()
			return nil, fmt.Errorf("%w: record %d after %d records: bad length (%v)", ErrBadSnapshot, tag, n, err)
		}
		if uint64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(br, buf); err != nil {
			txn.Abort()
			return nil, fmt.Errorf("%w: record %d after %d records: %v", ErrBadSnapshot, tag, n, err)
		}
		table, obj := recordObject(RecordType(tag))
		if obj == nil {
			if RecordType(tag)&RecordType(IgnoreUnknownTypeFlag) != 0 {
				continue
			}
			txn.Abort()
			return nil, fmt.Errorf("%w: unknown record type %d", ErrBadSnapshot, tag)
		}
		if err := json.Unmarshal(buf, obj); err != nil {
			txn.Abort()
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, tag, err)
		}
		if err := validRecord(obj); err != nil {
			txn.Abort()
			return nil, fmt.Errorf("%w: record %d after %d records: %v", ErrBadSnapshot, tag, n, err)
		}
		if err := txn.Insert(table, obj); err != nil {
			txn.Abort()
			return nil, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, tag, err)
		}
		if n++; n%restoreBatch == 0 {
			txn.Commit()
			txn = s.db.Txn(true)
		}
	}
	txn.Commit()
	return s, nil
}

// validRecord refuses an object no Apply could have stored: it would
// break the indexes (or mean the snapshot was not written by gomr).
func validRecord(obj any) error {
	bad := ""
	switch o := obj.(type) {
	case *Primary:
		if o.ID == "" {
			bad = "a primary without an id"
		}
	case *Worker:
		if o.ID == "" {
			bad = "a worker without an id"
		}
	case *Step:
		if o.ID == "" || o.Seq == 0 {
			bad = "a step without an id or sequence number"
		}
	case *Task:
		if o.StepID == "" || (o.Kind != KindMap && o.Kind != KindReduce) || o.Index < 0 {
			bad = "a task without its step, kind or index"
		}
	case *meta:
		if o.Name == "" {
			bad = "a value without a name"
		}
	case *Inode:
		if !strings.HasPrefix(o.Path, "/") || o.Path == "/" {
			bad = fmt.Sprintf("an HDFS inode with path %q", o.Path)
		}
	case *Lease:
		if o.Holder == "" {
			bad = "a lease without a holder"
		}
	case *Token:
		if o.Accessor == "" {
			bad = "a token without an accessor"
		}
	}
	if bad != "" {
		return errors.New(bad)
	}
	return nil
}

// recordObject returns the table and an empty object of a record type, or
// nil for a type this version does not know.
func recordObject(t RecordType) (string, any) {
	switch t {
	case RecordPrimary:
		return tablePrimaries, &Primary{}
	case RecordWorker:
		return tableWorkers, &Worker{}
	case RecordStep:
		return tableSteps, &Step{}
	case RecordTask:
		return tableTasks, &Task{}
	case RecordMeta:
		return tableMeta, &meta{}
	case RecordInode:
		return tableInodes, &Inode{}
	case RecordLease:
		return tableLeases, &Lease{}
	case RecordToken:
		return tableTokens, &Token{}
	}
	return "", nil
}
