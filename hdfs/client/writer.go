package client

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/gomr/gomr/hdfs"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/hdfs/namespace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// messageBytes is how much block data one WriteBlock message carries: a
// whole number of checksum chunks.
const messageBytes = 128 * hdfs.ChunkSize

// openTries is how many pipelines a block is offered before the write
// fails (a pipeline whose first worker cannot be reached is given up
// before any data is sent, and the block goes elsewhere).
const openTries = 3

// CreateOptions shape a new file.
type CreateOptions struct {
	// Overwrite replaces an existing file (hdfs dfs -put -f).
	Overwrite bool
	// Replication and BlockSize, when 0, take the cluster's defaults.
	Replication int32
	BlockSize   int64
	// MTime, if set, is the file's modification time once closed, in Unix
	// nanoseconds (hdfs dfs -put -p).
	MTime int64
	// CreateParent makes missing parent folders.
	CreateParent bool
}

// Writer writes a new file, streaming each block through a pipeline of
// core workers. The file becomes visible when Close returns nil; Abort
// (or a writer that dies, once its lease expires) leaves nothing.
type Writer struct {
	c         *Client
	path      string
	blockSize int64
	ctx       context.Context
	cancel    context.CancelFunc

	stream  hdfspb.DataNode_WriteBlockClient
	block   *hdfspb.LocatedBlock
	inBlock int64 // bytes of the current block sent
	pend    []byte
	prev    *hdfspb.Block
	stored  []string // the workers that stored prev
	written int64
	sums    []uint32
	done    bool
	err     error
}

// Create opens a new file for writing.
func (c *Client) Create(ctx context.Context, p string, o CreateOptions) (*Writer, error) {
	clean, err := namespace.Clean(p)
	if err != nil {
		return nil, err
	}
	resp, err := c.nn.Create(ctx, &hdfspb.CreateRequest{
		Path: clean, Client: c.cfg.Name, Overwrite: o.Overwrite, Replication: o.Replication, BlockSize: o.BlockSize,
		Owner: c.cfg.Owner, MtimeUnixNano: o.MTime, CreateParent: o.CreateParent,
	})
	if err != nil {
		return nil, wrapStatus(clean, err)
	}
	c.openWriter()
	wctx, cancel := context.WithCancel(context.Background())
	return &Writer{c: c, path: clean, blockSize: resp.BlockSize, ctx: wctx, cancel: cancel}, nil
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, fmt.Errorf("write %s: file closed", namespace.URI(w.path))
	}
	n := len(p)
	for len(p) > 0 {
		if w.stream == nil {
			if err := w.openBlock(); err != nil {
				return n - len(p), w.fail(err)
			}
		}
		room := w.blockSize - w.inBlock - int64(len(w.pend))
		take := int(min(int64(len(p)), room))
		w.pend = append(w.pend, p[:take]...)
		p = p[take:]
		for len(w.pend) >= messageBytes {
			if err := w.send(w.pend[:messageBytes]); err != nil {
				return n - len(p), w.fail(err)
			}
			w.pend = append(w.pend[:0], w.pend[messageBytes:]...)
		}
		if w.inBlock+int64(len(w.pend)) == w.blockSize {
			if err := w.finishBlock(); err != nil {
				return n - len(p), w.fail(err)
			}
		}
	}
	return n, nil
}

func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("write %s: %w", namespace.URI(w.path), err)
	return w.err
}

// openBlock allocates the next block and opens its pipeline.
func (w *Writer) openBlock() error {
	var exclude []string
	var errs []error
	for try := 0; try < openTries; try++ {
		resp, err := w.c.nn.AddBlock(w.ctx, &hdfspb.AddBlockRequest{Path: w.path, Client: w.c.cfg.Name, Previous: w.prev, PreviousStored: w.stored, Writer: w.c.cfg.Worker, Exclude: exclude})
		if err != nil {
			return wrapStatus(w.path, err)
		}
		b := resp.Block
		if len(b.Locations) == 0 {
			return fmt.Errorf("no core worker can take block %d", b.Block.Id)
		}
		first := b.Locations[0]
		stream, err := w.startPipeline(b)
		if err == nil {
			w.stream, w.block, w.inBlock = stream, b, 0
			w.prev, w.stored = nil, nil
			return nil
		}
		errs = append(errs, fmt.Errorf("pipeline from %s: %w", first.Worker, err))
		exclude = append(exclude, first.Worker)
		if _, aerr := w.c.nn.AbandonBlock(w.ctx, &hdfspb.AbandonBlockRequest{Path: w.path, Client: w.c.cfg.Name, BlockId: b.Block.Id}); aerr != nil {
			errs = append(errs, aerr)
			break
		}
	}
	return fmt.Errorf("no pipeline for the next block: %w", errors.Join(errs...))
}

func (w *Writer) startPipeline(b *hdfspb.LocatedBlock) (hdfspb.DataNode_WriteBlockClient, error) {
	dn, err := w.c.dataNode(b.Locations[0].Address)
	if err != nil {
		return nil, err
	}
	stream, err := dn.WriteBlock(w.ctx)
	if err != nil {
		return nil, err
	}
	header := &hdfspb.WriteBlockHeader{Block: b.Block, Pipeline: b.Locations[1:], Reason: "client"}
	if err := stream.Send(&hdfspb.WriteBlockRequest{Header: header}); err != nil {
		_, rerr := stream.CloseAndRecv()
		return nil, errors.Join(err, rerr)
	}
	return stream, nil
}

// send streams data (a whole number of chunks, but for a block's last
// message) with its checksums.
func (w *Writer) send(data []byte) error {
	w.sums = w.sums[:0]
	for i := 0; i < len(data); i += hdfs.ChunkSize {
		w.sums = append(w.sums, crc32.Checksum(data[i:min(len(data), i+hdfs.ChunkSize)], castagnoli))
	}
	if err := w.stream.Send(&hdfspb.WriteBlockRequest{Data: data, Sums: w.sums}); err != nil {
		_, rerr := w.stream.CloseAndRecv()
		return fmt.Errorf("block %d: %w", w.block.Block.Id, errors.Join(err, rerr))
	}
	w.inBlock += int64(len(data))
	w.written += int64(len(data))
	return nil
}

// finishBlock sends what is left of the current block and waits for the
// pipeline to have stored it.
func (w *Writer) finishBlock() error {
	if len(w.pend) > 0 {
		if err := w.send(w.pend); err != nil {
			return err
		}
		w.pend = w.pend[:0]
	}
	resp, err := w.stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("block %d: %w", w.block.Block.Id, err)
	}
	if len(resp.Stored) == 0 {
		return fmt.Errorf("block %d: no core worker stored it", w.block.Block.Id)
	}
	w.prev = &hdfspb.Block{Id: w.block.Block.Id, Length: w.inBlock}
	w.stored = resp.Stored
	w.stream, w.block = nil, nil
	return nil
}

// Close completes the file: it becomes visible. A write that failed
// leaves no file: Close abandons it and returns the failure.
func (w *Writer) Close() error {
	if w.done {
		return w.err
	}
	if w.err == nil && w.stream != nil {
		if err := w.finishBlock(); err != nil {
			w.fail(err)
		}
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	w.done = true
	defer w.release()
	if _, err := w.c.nn.Complete(w.ctx, &hdfspb.CompleteRequest{Path: w.path, Client: w.c.cfg.Name, Last: w.prev, LastStored: w.stored}); err != nil {
		if status.Code(err) == codes.Aborted && w.completed() {
			return nil // completed by a first try whose answer was lost
		}
		w.err = fmt.Errorf("close %s: %w", namespace.URI(w.path), wrapStatus(w.path, err))
		return w.err
	}
	return nil
}

// completed reports whether the file is complete as this writer wrote it:
// a Complete sent again (the leader died before it answered) is refused
// as the file is no longer being written.
func (w *Writer) completed() bool {
	resp, err := w.c.nn.GetBlockLocations(w.ctx, &hdfspb.GetBlockLocationsRequest{Path: w.path})
	if err != nil || resp.Status.IsDir || resp.Status.Length != w.written {
		return false
	}
	if w.prev == nil {
		return len(resp.Blocks) == 0
	}
	return len(resp.Blocks) > 0 && resp.Blocks[len(resp.Blocks)-1].Block.Id == w.prev.Id
}

// Abort discards the file; it is a no-op once Close was called.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	defer w.release()
	if w.stream != nil {
		w.stream.CloseSend()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.c.nn.Abandon(ctx, &hdfspb.AbandonRequest{Path: w.path, Client: w.c.cfg.Name}); err != nil {
		w.c.log.Warn("abandon a file being written", "path", w.path, "err", err)
	}
}

func (w *Writer) release() {
	w.cancel()
	w.c.closeWriter()
}

// Counters implements mapreduce.CounterSource.
func (w *Writer) Counters() map[string]int64 {
	return map[string]int64{BytesWrittenCounter: w.written}
}

// Written returns the bytes written so far.
func (w *Writer) Written() int64 { return w.written }
