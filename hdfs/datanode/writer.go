package datanode

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gomr/gomr/hdfs"
)

// UnknownLength, as the length given to Create, lets a writer send a block
// whose length it does not know in advance: the block is as long as what
// was written when it is finalized.
const UnknownLength = -1

// BlockWriter writes one replica into the store's rbw/ folder; Finalize
// makes it a replica of the store, Abort removes it. It is not safe for
// concurrent use.
type BlockWriter struct {
	s                  *Store
	id                 int64
	want               int64 // the announced length, or UnknownLength
	dataPath, metaPath string
	dataF, metaF       *os.File
	data, meta         *bufio.Writer
	n                  int64 // bytes written
	partial            bool  // the last write ended inside a chunk
	synced             bool
	done               bool  // finalized or aborted
	err                error // the first failure; the writer is then unusable
}

// Create starts writing a replica of block id, of length bytes (or
// UnknownLength). It returns an error wrapping ErrExists if the store
// holds the block or is writing it already.
func (s *Store) Create(id, length int64) (*BlockWriter, error) {
	if length < UnknownLength {
		return nil, fmt.Errorf("create block %d: %w: length %d", id, ErrInvalid, length)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("create block %d: %w", id, ErrClosed)
	}
	if _, ok := s.replicas[id]; ok || s.writing[id] {
		s.mu.Unlock()
		return nil, fmt.Errorf("create block %d on worker %s: %w", id, s.worker, ErrExists)
	}
	s.writing[id] = true
	s.mu.Unlock()

	name := blockPre + strconv.FormatInt(id, 10)
	w := &BlockWriter{
		s:        s,
		id:       id,
		want:     length,
		dataPath: filepath.Join(s.dir, rbwDir, name),
		metaPath: filepath.Join(s.dir, rbwDir, name+metaSuffix),
	}
	if err := w.open(); err != nil {
		w.Abort()
		return nil, fmt.Errorf("create block %d: %w", id, err)
	}
	return w, nil
}

func (w *BlockWriter) open() error {
	var err error
	if w.dataF, err = os.OpenFile(w.dataPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
		return err
	}
	if w.metaF, err = os.OpenFile(w.metaPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err != nil {
		return err
	}
	w.data = bufio.NewWriterSize(w.dataF, 64<<10)
	w.meta = bufio.NewWriterSize(w.metaF, 4<<10)
	_, err = w.meta.Write(metaHeader())
	return err
}

// ID returns the id of the block being written.
func (w *BlockWriter) ID() int64 { return w.id }

// Len returns the number of bytes written so far.
func (w *BlockWriter) Len() int64 { return w.n }

// fail records the writer's first failure.
func (w *BlockWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// Write appends data to the replica after checking it against sums, one
// CRC32C per 512 bytes of data (the last for a final partial chunk). Data
// must come in whole chunks; only the last write may end inside one. A
// mismatch returns an error wrapping an *hdfs.ChecksumError whose offset
// is in the block. After any error the writer only accepts Abort.
func (w *BlockWriter) Write(data []byte, sums []uint32) error {
	if w.done {
		return fmt.Errorf("write block %d: writer already finalized or aborted", w.id)
	}
	if w.err != nil {
		return w.err
	}
	if len(data) == 0 && len(sums) == 0 {
		return nil
	}
	if w.partial {
		return w.fail(fmt.Errorf("write block %d: %w: data after a partial chunk at byte offset %d", w.id, ErrInvalid, w.n))
	}
	if w.want != UnknownLength && w.n+int64(len(data)) > w.want {
		return w.fail(fmt.Errorf("write block %d: %w: more than the %d bytes announced", w.id, ErrInvalid, w.want))
	}
	v := hdfs.NewVerifier(sums)
	_, err := v.Write(data)
	if err == nil {
		err = v.Close()
	}
	if err != nil {
		var ce *hdfs.ChecksumError
		if errors.As(err, &ce) {
			err = &hdfs.ChecksumError{Offset: w.n + ce.Offset, Err: ce.Err}
		}
		return w.fail(fmt.Errorf("write block %d: %w", w.id, err))
	}
	if _, err := w.data.Write(data); err != nil {
		return w.fail(fmt.Errorf("write block %d: %w", w.id, err))
	}
	var b [4]byte
	for _, sum := range sums {
		binary.BigEndian.PutUint32(b[:], sum)
		if _, err := w.meta.Write(b[:]); err != nil {
			return w.fail(fmt.Errorf("write block %d: %w", w.id, err))
		}
	}
	w.n += int64(len(data))
	w.partial = len(data)%hdfs.ChunkSize != 0
	w.synced = false
	return nil
}

// Sync makes the bytes written so far durable. Finalize syncs too; a
// caller may Sync first to overlap the disk's flush with other work.
func (w *BlockWriter) Sync() error {
	if w.done {
		return fmt.Errorf("sync block %d: writer already finalized or aborted", w.id)
	}
	if w.err != nil {
		return w.err
	}
	if w.synced {
		return nil
	}
	for _, step := range []func() error{w.data.Flush, w.meta.Flush, w.dataF.Sync, w.metaF.Sync} {
		if err := step(); err != nil {
			return w.fail(fmt.Errorf("sync block %d: %w", w.id, err))
		}
	}
	w.synced = true
	return nil
}

// Finalize completes the replica: it checks that the announced length
// arrived, syncs the files and moves them into current/, where the
// replica is listed and readable. On failure the replica is removed, as
// by Abort.
func (w *BlockWriter) Finalize() error {
	if w.done {
		return fmt.Errorf("finalize block %d: writer already finalized or aborted", w.id)
	}
	err := w.finalize()
	if err != nil {
		w.Abort()
		return err
	}
	return nil
}

func (w *BlockWriter) finalize() error {
	if w.err != nil {
		return w.err
	}
	if w.want != UnknownLength && w.n != w.want {
		return w.fail(fmt.Errorf("finalize block %d: %w: received %d bytes, %d announced", w.id, ErrInvalid, w.n, w.want))
	}
	if err := w.Sync(); err != nil {
		return err
	}
	err := w.dataF.Close()
	if merr := w.metaF.Close(); err == nil {
		err = merr
	}
	w.dataF, w.metaF = nil, nil
	if err != nil {
		return w.fail(fmt.Errorf("finalize block %d: %w", w.id, err))
	}
	if err := w.s.commit(w); err != nil {
		return w.fail(fmt.Errorf("finalize block %d: %w", w.id, err))
	}
	w.done = true
	return nil
}

// Abort gives the replica up and removes its files. It does nothing after
// Finalize succeeded, and may be called more than once.
func (w *BlockWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	for _, f := range []*os.File{w.dataF, w.metaF} {
		if f != nil {
			f.Close()
		}
	}
	for _, p := range []string{w.dataPath, w.metaPath} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.s.log.Warn("cannot remove an aborted replica", "block", w.id, "err", err)
		}
	}
	w.s.mu.Lock()
	delete(w.s.writing, w.id)
	w.s.mu.Unlock()
	w.s.log.Debug("replica write aborted", "block", w.id, "written", w.n)
}

// commit moves a written replica from rbw/ into current/ (meta file
// first) and lists it.
func (s *Store) commit(w *BlockWriter) error {
	dataPath, metaPath := s.dataPath(w.id), s.metaPath(w.id)
	if err := os.Rename(w.metaPath, metaPath); err != nil {
		return err
	}
	if err := os.Rename(w.dataPath, dataPath); err != nil {
		os.Remove(metaPath)
		return err
	}
	if err := syncDir(filepath.Join(s.dir, currentDir)); err != nil {
		os.Remove(dataPath)
		os.Remove(metaPath)
		return err
	}
	r := &replica{length: w.n}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.writing, w.id)
	s.replicas[w.id] = r
	s.used += r.size()
	s.added[w.id] = true
	delete(s.deleted, w.id)
	return nil
}
