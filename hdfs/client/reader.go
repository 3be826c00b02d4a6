package client

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"sync"

	"github.com/gomr/gomr/hdfs"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/mapreduce"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// File is an HDFS file open for reading at any offset. It is safe for
// concurrent use.
type File struct {
	c      *Client
	path   string
	status *hdfspb.FileStatus
	blocks []*hdfspb.LocatedBlock

	mu sync.Mutex
	// bad are the replicas that failed (dead worker, corrupt), by block
	// and worker, not tried again by this reader.
	bad             map[badReplica]bool
	read, localRead int64
}

type badReplica struct {
	block  int64
	worker string
}

// Open opens a file for reading.
func (c *Client) Open(ctx context.Context, p string) (*File, error) {
	clean, err := namespace.Clean(p)
	if err != nil {
		return nil, err
	}
	resp, err := c.nn.GetBlockLocations(ctx, &hdfspb.GetBlockLocationsRequest{Path: clean, Reader: c.cfg.Worker})
	if err != nil {
		return nil, wrapStatus(clean, err)
	}
	if resp.Status.IsDir {
		return nil, fmt.Errorf("%s: is a folder", namespace.URI(clean))
	}
	return &File{c: c, path: clean, status: resp.Status, blocks: resp.Blocks, bad: map[badReplica]bool{}}, nil
}

// Info implements mapreduce.File.
func (f *File) Info(ctx context.Context) (mapreduce.FileInfo, error) {
	s, err := f.c.Stat(ctx, f.path)
	if err != nil {
		return mapreduce.FileInfo{}, err
	}
	return info(s), nil
}

// Size returns the file's length when it was opened.
func (f *File) Size() int64 { return f.status.Length }

// Close implements io.Closer.
func (f *File) Close() error { return nil }

// Counters implements mapreduce.CounterSource: the bytes read from HDFS,
// and how many of them came from this worker's own replicas.
func (f *File) Counters() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]int64{BytesReadCounter: f.read}
}

// ReadLocal reports whether the reader was data-local: whether most of
// the bytes read so far came from this worker's own replicas. A text split
// also reads the end of its last line from the next block, which is
// usually on another worker; as in Hadoop, where a map scheduled on a
// node holding its block is data-local, those few bytes do not count.
func (f *File) ReadLocal() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.read > 0 && 2*f.localRead > f.read
}

// Locations returns the workers holding the block at offset off.
func (f *File) Locations(off int64) []string {
	for _, b := range f.blocks {
		if off >= b.Offset && off < b.Offset+b.Block.Length {
			var out []string
			for _, l := range b.Locations {
				out = append(out, l.Worker)
			}
			return out
		}
	}
	return nil
}

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", namespace.URI(f.path), off)
	}
	ctx := context.Background()
	n := 0
	for n < len(p) && off+int64(n) < f.status.Length {
		pos := off + int64(n)
		i := slices.IndexFunc(f.blocks, func(b *hdfspb.LocatedBlock) bool { return pos >= b.Offset && pos < b.Offset+b.Block.Length })
		if i < 0 {
			return n, fmt.Errorf("read %s at byte %d: no block holds it", namespace.URI(f.path), pos)
		}
		b := f.blocks[i]
		want := min(int64(len(p)-n), b.Offset+b.Block.Length-pos)
		got, err := f.readBlock(ctx, i, pos-b.Offset, p[n:n+int(want)])
		n += got
		if err != nil {
			return n, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// readBlock fills dst from block i at offset off, going from replica to
// replica as they fail; after every known replica failed it asks the
// primaries where the block is now, once.
func (f *File) readBlock(ctx context.Context, i int, off int64, dst []byte) (int, error) {
	done := 0
	var errs []error
	for refreshed := false; ; refreshed = true {
		id := f.blocks[i].Block.Id
		for _, loc := range f.blocks[i].Locations {
			if f.isBad(id, loc.Worker) {
				continue
			}
			n, err := f.readReplica(ctx, f.blocks[i].Block, loc, off+int64(done), dst[done:])
			done += n
			if err == nil {
				return done, nil
			}
			errs = append(errs, fmt.Errorf("from %s: %w", loc.Worker, err))
			f.markBad(id, loc.Worker)
			if errors.Is(err, hdfs.ErrChecksum) || status.Code(err) == codes.DataLoss {
				f.reportBad(ctx, loc.Worker, f.blocks[i].Block.Id, err)
			}
		}
		if refreshed {
			break
		}
		if err := f.refresh(ctx); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if len(errs) == 0 {
		return done, fmt.Errorf("read block %d of %s: no live core worker holds a replica of it", f.blocks[i].Block.Id, namespace.URI(f.path))
	}
	return done, fmt.Errorf("read block %d of %s: no replica could be read: %w", f.blocks[i].Block.Id, namespace.URI(f.path), errors.Join(errs...))
}

// refresh asks for the blocks' locations again, forgetting the replicas
// that failed (a replacement may be on the same worker).
func (f *File) refresh(ctx context.Context) error {
	resp, err := f.c.nn.GetBlockLocations(ctx, &hdfspb.GetBlockLocationsRequest{Path: f.path, Reader: f.c.cfg.Worker})
	if err != nil {
		return wrapStatus(f.path, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(resp.Blocks) != len(f.blocks) {
		return fmt.Errorf("%s changed while it was read", namespace.URI(f.path))
	}
	f.blocks = resp.Blocks
	f.bad = map[badReplica]bool{}
	return nil
}

func (f *File) isBad(block int64, worker string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bad[badReplica{block, worker}]
}

func (f *File) markBad(block int64, worker string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bad[badReplica{block, worker}] = true
}

func (f *File) reportBad(ctx context.Context, worker string, id int64, cause error) {
	_, err := f.c.nn.ReportBadBlocks(ctx, &hdfspb.ReportBadBlocksRequest{Worker: worker, BlockIds: []int64{id}, Reason: cause.Error()})
	if err != nil {
		f.c.log.Warn("report a corrupt replica", "block", id, "worker", worker, "err", err)
	}
}

// readReplica reads dst from one replica at offset off, verifying every
// chunk's checksum before it copies a byte of it. It returns how many
// bytes it copied, even on error, so that the next replica goes on from
// there.
func (f *File) readReplica(ctx context.Context, b *hdfspb.Block, loc *hdfspb.Location, off int64, dst []byte) (int, error) {
	dn, err := f.c.dataNode(loc.Address)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := dn.ReadBlock(ctx, &hdfspb.ReadBlockRequest{BlockId: b.Id, Offset: off, Length: int64(len(dst))})
	if err != nil {
		return 0, err
	}
	copied := 0
	pos := int64(-1) // block offset of the next chunk received
	for copied < len(dst) {
		msg, err := stream.Recv()
		if err == io.EOF {
			return copied, fmt.Errorf("block %d ended at %d bytes, %d short", b.Id, off+int64(copied), len(dst)-copied)
		}
		if err != nil {
			return copied, err
		}
		if pos < 0 {
			pos = msg.ChunkOffset
		}
		data := msg.Data
		if len(msg.Sums) != (len(data)+hdfs.ChunkSize-1)/hdfs.ChunkSize {
			return copied, fmt.Errorf("block %d at byte %d: %d checksums for %d bytes", b.Id, pos, len(msg.Sums), len(data))
		}
		for k, sum := range msg.Sums {
			chunk := data[k*hdfs.ChunkSize : min(len(data), (k+1)*hdfs.ChunkSize)]
			if crc32.Checksum(chunk, castagnoli) != sum {
				return copied, &hdfs.ChecksumError{Offset: pos + int64(k*hdfs.ChunkSize), Err: hdfs.ErrChecksum}
			}
		}
		// Copy the part of the chunks that falls in the range asked for.
		start := off + int64(copied) - pos
		if start < int64(len(data)) {
			n := copy(dst[copied:], data[max(0, start):])
			copied += n
			f.count(int64(n), loc.Worker == f.c.cfg.Worker)
		}
		pos += int64(len(data))
	}
	return copied, nil
}

func (f *File) count(n int64, local bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read += n
	if local {
		f.localRead += n
	}
}
