package datanode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gomr/gomr/hdfs"
)

// BlockReader reads a range of a finalized replica in whole chunks, with
// their stored checksums, verifying every chunk before returning it. It is
// not safe for concurrent use.
type BlockReader struct {
	s        *Store
	id       int64
	r        *replica
	data     *os.File
	meta     *os.File
	chunkOff int64 // first byte of the first chunk of the range
	pos, end int64 // next byte to return; end of the last chunk of the range
}

// OpenBlock opens a range of block id for reading: length bytes from
// offset, or to the block's end if length is 0. The reader returns the
// chunks that cover the range, from offset rounded down to 512 bytes to
// the range's end rounded up to a chunk's end (or the block's end). It
// fails with ErrNotFound for a block not held, ErrOutOfRange for a range
// not inside the block, and ErrCorrupt if the replica's meta file is
// damaged.
func (s *Store) OpenBlock(id, offset, length int64) (*BlockReader, error) {
	s.mu.Lock()
	r, ok := s.replicas[id]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("read block %d on worker %s: %w", id, s.worker, ErrNotFound)
	}
	if offset < 0 || length < 0 || offset > r.length || length > r.length-offset {
		return nil, fmt.Errorf("read block %d on worker %s: %w: %d bytes at offset %d of a block of %d bytes",
			id, s.worker, ErrOutOfRange, length, offset, r.length)
	}
	end := r.length
	if length > 0 {
		end = offset + length
	}
	br := &BlockReader{s: s, id: id, r: r, chunkOff: offset / hdfs.ChunkSize * hdfs.ChunkSize}
	br.pos = br.chunkOff
	br.end = br.chunkOff
	if end > offset {
		br.end = min(chunks(end)*hdfs.ChunkSize, r.length)
	}
	if err := br.open(); err != nil {
		br.Close()
		return nil, err
	}
	return br, nil
}

func (br *BlockReader) open() error {
	s, id := br.s, br.id
	var err error
	if br.data, err = os.Open(s.dataPath(id)); err == nil {
		br.meta, err = os.Open(s.metaPath(id))
	}
	switch {
	case errors.Is(err, fs.ErrNotExist) && !s.Has(id):
		return fmt.Errorf("read block %d on worker %s: %w", id, s.worker, ErrNotFound) // deleted meanwhile
	case errors.Is(err, fs.ErrNotExist):
		return br.corrupt(err)
	case err != nil:
		return fmt.Errorf("read block %d on worker %s: %w", id, s.worker, err)
	}
	if err := readMetaHeader(br.meta, br.r.length); err != nil {
		return br.corrupt(err)
	}
	fi, err := br.data.Stat()
	if err != nil {
		return fmt.Errorf("read block %d on worker %s: %w", id, s.worker, err)
	}
	if fi.Size() != br.r.length {
		return br.corrupt(fmt.Errorf("block file has %d bytes, want %d", fi.Size(), br.r.length))
	}
	return nil
}

// corrupt marks the replica corrupt and returns the read's error.
func (br *BlockReader) corrupt(why error) error {
	br.s.markCorrupt(br.id, br.r, why)
	return fmt.Errorf("read block %d on worker %s: %w: %w", br.id, br.s.worker, ErrCorrupt, why)
}

// ChunkOffset returns the block offset of the first chunk the reader
// returns.
func (br *BlockReader) ChunkOffset() int64 { return br.chunkOff }

// BlockLength returns the replica's length.
func (br *BlockReader) BlockLength() int64 { return br.r.length }

// Next returns the next chunks of the range, at most max bytes of them
// (rounded down to whole chunks, at least one), with their checksums. The
// slices are the caller's. It returns io.EOF after the last chunk. A chunk
// that does not match its stored checksum marks the replica corrupt and
// fails with an error wrapping ErrCorrupt and an *hdfs.ChecksumError with
// the chunk's offset in the block.
func (br *BlockReader) Next(max int) ([]byte, []uint32, error) {
	if br.pos >= br.end {
		return nil, nil, io.EOF
	}
	n := min(int64(max/hdfs.ChunkSize*hdfs.ChunkSize), br.end-br.pos)
	if n <= 0 {
		n = min(hdfs.ChunkSize, br.end-br.pos)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(io.NewSectionReader(br.data, br.pos, n), data); err != nil {
		return nil, nil, br.corrupt(fmt.Errorf("read %d bytes at offset %d: %w", n, br.pos, err))
	}
	raw := make([]byte, 4*chunks(n))
	if _, err := io.ReadFull(io.NewSectionReader(br.meta, sumOffset(br.pos), int64(len(raw))), raw); err != nil {
		return nil, nil, br.corrupt(fmt.Errorf("meta file: read checksums at byte offset %d: %w", br.pos, err))
	}
	sums := make([]uint32, len(raw)/4)
	for i := range sums {
		sums[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	v := hdfs.NewVerifier(sums)
	_, err := v.Write(data)
	if err == nil {
		err = v.Close()
	}
	if err != nil {
		var ce *hdfs.ChecksumError
		if errors.As(err, &ce) {
			err = &hdfs.ChecksumError{Offset: br.pos + ce.Offset, Err: ce.Err}
		}
		return nil, nil, br.corrupt(err)
	}
	br.pos += n
	return data, sums, nil
}

// Close closes the replica's files.
func (br *BlockReader) Close() error {
	var errs []error
	for _, f := range []*os.File{br.data, br.meta} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	br.data, br.meta = nil, nil
	return errors.Join(errs...)
}

// Verify reads the whole replica of block id and checks it against its
// checksums, marking it corrupt on a mismatch (the error then wraps
// ErrCorrupt). The scanner does the same, slowly.
func (s *Store) Verify(ctx context.Context, id int64) error {
	return s.verify(ctx, id, nil)
}

// verify is Verify, reading at the pace of limit if it is not nil.
func (s *Store) verify(ctx context.Context, id int64, limit *readLimit) error {
	br, err := s.OpenBlock(id, 0, 0)
	if err != nil {
		return err
	}
	defer br.Close()
	size := messageSize
	if limit != nil {
		size = limit.size
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if limit != nil {
			if err := limit.lim.WaitN(ctx, int(min(int64(size), br.end-br.pos))); err != nil {
				return err
			}
		}
		if _, _, err := br.Next(size); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}
