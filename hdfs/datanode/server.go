package datanode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gomr/gomr/hdfs"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reasons of a block write (WriteBlockHeader.reason).
const (
	ReasonClient      = "client"
	ReasonReplication = "replication"
)

// DefaultTransferBandwidth is ServerConfig.TransferBandwidth's default,
// HDFS's dfs.datanode.balance.bandwidthPerSec.
const DefaultTransferBandwidth = 100 << 20

// messageSize is the most block data one ReadBlock or forwarded
// WriteBlock message carries.
const messageSize = 64 << 10

// ServerConfig configures a Server.
type ServerConfig struct {
	// Store holds the worker's replicas.
	Store *Store
	// Dial returns a connection to another core worker's gRPC address, for
	// forwarding writes down a pipeline and for transfers. The connections
	// stay the caller's (a worker gives its connection cache).
	Dial func(addr string) (*grpc.ClientConn, error)
	// TransferBandwidth caps, in bytes per second, the reads of all the
	// block transfers the server runs at once; 0 means
	// DefaultTransferBandwidth.
	TransferBandwidth int64
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Server serves the DataNode gRPC service over a Store. Register it on the
// worker's gRPC server with hdfspb.RegisterDataNodeServer.
//
// Write streams (WriteBlock) carry a header, then the block's data in
// whole 512-byte chunks (only the last message may end inside one), each
// message with the CRC32C of each of its chunks. A positive
// header.block.length is the number of bytes that must follow; 0 (a
// block just allocated, whose length nobody knows yet) accepts any. The
// header's pipeline lists the workers after this one.
// The server checks every chunk against its checksum, stores it in rbw/
// and forwards the message to the pipeline's next worker; once the stream
// ends, it syncs the replica, waits for the next worker's answer and only
// then finalizes it and answers stored: this worker, then the later ones.
// Any failure (data that fails its checksums, a broken stream, a later
// worker failing) fails the write everywhere and leaves no replica on any
// worker of the pipeline; the error names the failed later worker, if
// any, which FailedWorker extracts.
//
// gRPC codes: NotFound for a block not held, AlreadyExists for one stored
// or being written, DataLoss for data or a replica that fails its
// checksums, InvalidArgument for a malformed request, OutOfRange for a
// read outside the block, and a later worker's own code for its failure
// (Unavailable when it cannot be reached).
type Server struct {
	hdfspb.UnimplementedDataNodeServer
	store    *Store
	dial     func(addr string) (*grpc.ClientConn, error)
	transfer *readLimit
	log      *slog.Logger
}

// NewServer returns the DataNode service of cfg.Store.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("datanode server: no block store given")
	}
	if cfg.Dial == nil {
		return nil, fmt.Errorf("datanode server: no dial function given")
	}
	if cfg.TransferBandwidth < 0 {
		return nil, fmt.Errorf("datanode server: negative transfer bandwidth %d", cfg.TransferBandwidth)
	}
	if cfg.TransferBandwidth == 0 {
		cfg.TransferBandwidth = DefaultTransferBandwidth
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		store:    cfg.Store,
		dial:     cfg.Dial,
		transfer: newReadLimit(cfg.TransferBandwidth),
		log:      log.With("worker", cfg.Store.Worker()),
	}, nil
}

// WriteBlock receives a block and passes it down the pipeline (see
// Server).
func (s *Server) WriteBlock(stream hdfspb.DataNode_WriteBlockServer) error {
	start := time.Now()
	h, stored, n, err := s.writeBlock(stream)
	if err != nil {
		s.log.Warn("block write failed", "block", h.GetBlock().GetId(), "reason", h.GetReason(), "err", err)
		return toStatus(err)
	}
	s.log.Info("block written", "block", h.Block.Id, "length", n, "reason", h.Reason, "stored", stored, "took", time.Since(start))
	return stream.SendAndClose(&hdfspb.WriteBlockResponse{Stored: stored})
}

func (s *Server) writeBlock(stream hdfspb.DataNode_WriteBlockServer) (h *hdfspb.WriteBlockHeader, stored []string, n int64, err error) {
	msg, err := stream.Recv()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("write block: receive header: %w", err)
	}
	h = msg.Header
	if h == nil || h.Block == nil {
		return nil, nil, 0, fmt.Errorf("write block: %w: the first message has no header and block", ErrInvalid)
	}
	id := h.Block.Id
	for _, loc := range h.Pipeline {
		if loc.GetAddress() == "" {
			return h, nil, 0, fmt.Errorf("write block %d: %w: pipeline worker %q has no address", id, ErrInvalid, loc.GetWorker())
		}
		if loc.Worker == s.store.Worker() {
			return h, nil, 0, fmt.Errorf("write block %d: %w: the pipeline names this worker again", id, ErrInvalid)
		}
	}
	length := h.Block.Length
	if length <= 0 {
		length = UnknownLength // a new block's length is not known when it is allocated
	}
	w, err := s.store.Create(id, length)
	if err != nil {
		return h, nil, 0, err
	}
	defer w.Abort() // a no-op once finalized

	var down *downstream
	if len(h.Pipeline) > 0 {
		ctx, cancel := context.WithCancel(stream.Context())
		defer cancel() // on failure, tells the later workers to drop the block
		if down, err = s.openDownstream(ctx, h.Block, h.Pipeline, h.Reason); err != nil {
			return h, nil, 0, fmt.Errorf("write block %d: %w", id, err)
		}
	}
	for {
		if len(msg.Data) > 0 || len(msg.Sums) > 0 {
			if err := w.Write(msg.Data, msg.Sums); err != nil {
				return h, nil, 0, err
			}
			if down != nil {
				if err := down.send(&hdfspb.WriteBlockRequest{Data: msg.Data, Sums: msg.Sums}); err != nil {
					return h, nil, 0, fmt.Errorf("write block %d: %w", id, err)
				}
			}
		}
		msg, err = stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return h, nil, 0, fmt.Errorf("write block %d: receive data: %w", id, err)
		}
		if msg.Header != nil {
			return h, nil, 0, fmt.Errorf("write block %d: %w: a second header", id, ErrInvalid)
		}
	}
	if down != nil {
		down.closeSend()
	}
	if err := w.Sync(); err != nil {
		return h, nil, 0, err
	}
	stored = []string{s.store.Worker()}
	if down != nil {
		rest, err := down.finish()
		if err != nil {
			return h, nil, 0, fmt.Errorf("write block %d: %w", id, err)
		}
		stored = append(stored, rest...)
	}
	// Should this fail, the later workers keep a replica of a block the
	// writer abandons; the leader orders it deleted from their reports.
	if err := w.Finalize(); err != nil {
		return h, nil, 0, err
	}
	return h, stored, w.Len(), nil
}

// ReadBlock streams a range of a replica in messages of up to 64 KiB of
// whole chunks, each with its stored checksums; the first message gives
// the offset of the first chunk and the block's length. Every chunk is
// verified before it is sent: a corrupt one ends the stream with DataLoss
// naming the block, the worker and the chunk's offset, and marks the
// replica corrupt.
func (s *Server) ReadBlock(req *hdfspb.ReadBlockRequest, stream hdfspb.DataNode_ReadBlockServer) error {
	if err := s.readBlock(req, stream); err != nil {
		s.log.Warn("block read failed", "block", req.BlockId, "offset", req.Offset, "length", req.Length, "err", err)
		return toStatus(err)
	}
	return nil
}

func (s *Server) readBlock(req *hdfspb.ReadBlockRequest, stream hdfspb.DataNode_ReadBlockServer) error {
	br, err := s.store.OpenBlock(req.BlockId, req.Offset, req.Length)
	if err != nil {
		return err
	}
	defer br.Close()
	first := true
	for {
		data, sums, err := br.Next(messageSize)
		if err == io.EOF && !first {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		msg := &hdfspb.ReadBlockResponse{Data: data, Sums: sums}
		if first {
			msg.ChunkOffset, msg.BlockLength = br.ChunkOffset(), br.BlockLength()
			first = false
		}
		if err := stream.Send(msg); err != nil {
			return fmt.Errorf("read block %d: send: %w", req.BlockId, err)
		}
		if err == io.EOF { // an empty range: the first message alone
			return nil
		}
	}
}

// TransferBlock copies a replica this worker holds to req.Targets, as a
// pipeline in their order, with reason "replication". It reads the
// replica, verifying it, at the server's transfer bandwidth (shared by all
// transfers), and returns once every target stored the block.
// req.Block.Length must be the replica's length.
func (s *Server) TransferBlock(ctx context.Context, req *hdfspb.TransferBlockRequest) (*hdfspb.TransferBlockResponse, error) {
	start := time.Now()
	stored, err := s.transferBlock(ctx, req)
	if err != nil {
		s.log.Warn("block transfer failed", "block", req.GetBlock().GetId(), "err", err)
		return nil, toStatus(err)
	}
	s.log.Info("block transferred", "block", req.Block.Id, "length", req.Block.Length, "stored", stored, "took", time.Since(start))
	return &hdfspb.TransferBlockResponse{}, nil
}

func (s *Server) transferBlock(ctx context.Context, req *hdfspb.TransferBlockRequest) ([]string, error) {
	if req.Block == nil {
		return nil, fmt.Errorf("transfer block: %w: no block", ErrInvalid)
	}
	id := req.Block.Id
	if len(req.Targets) == 0 {
		return nil, fmt.Errorf("transfer block %d: %w: no targets", id, ErrInvalid)
	}
	for _, t := range req.Targets {
		if t.GetAddress() == "" {
			return nil, fmt.Errorf("transfer block %d: %w: target %q has no address", id, ErrInvalid, t.GetWorker())
		}
	}
	br, err := s.store.OpenBlock(id, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("transfer block %d: %w", id, err)
	}
	defer br.Close()
	if br.BlockLength() != req.Block.Length {
		return nil, fmt.Errorf("transfer block %d: %w: the replica here has %d bytes, not %d", id, ErrInvalid, br.BlockLength(), req.Block.Length)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // on failure, tells the targets to drop the block
	down, err := s.openDownstream(ctx, &hdfspb.Block{Id: id, Length: br.BlockLength()}, req.Targets, ReasonReplication)
	if err != nil {
		return nil, fmt.Errorf("transfer block %d: %w", id, err)
	}
	for {
		data, sums, err := br.Next(s.transfer.size)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("transfer block %d: %w", id, err)
		}
		if err := s.transfer.lim.WaitN(ctx, len(data)); err != nil {
			return nil, fmt.Errorf("transfer block %d: %w", id, err)
		}
		if err := down.send(&hdfspb.WriteBlockRequest{Data: data, Sums: sums}); err != nil {
			return nil, fmt.Errorf("transfer block %d: %w", id, err)
		}
	}
	stored, err := down.finish()
	if err != nil {
		return nil, fmt.Errorf("transfer block %d: %w", id, err)
	}
	return stored, nil
}

// toStatus turns an error of the server into a gRPC status error (see
// Server for the codes), keeping the name of a failed later worker as an
// error detail.
func toStatus(err error) error {
	st := status.New(codeOf(err), err.Error())
	if w, ok := FailedWorker(err); ok {
		info := &errdetails.ErrorInfo{Domain: hdfspb.ErrorDomain, Reason: reasonPipelineWorker, Metadata: map[string]string{"worker": w}}
		if withInfo, derr := st.WithDetails(info); derr == nil {
			st = withInfo
		}
	}
	return st.Err()
}

func codeOf(err error) codes.Code {
	var pe *PipelineError
	switch {
	case errors.As(err, &pe):
		// The later worker's own code (its stream error carries it).
		if c := status.Code(pe.Err); c != codes.Unknown && c != codes.OK {
			return c
		}
		return codes.Unavailable
	case errors.Is(err, ErrNotFound):
		return codes.NotFound
	case errors.Is(err, ErrExists):
		return codes.AlreadyExists
	case errors.Is(err, ErrCorrupt), errors.Is(err, hdfs.ErrChecksum):
		return codes.DataLoss
	case errors.Is(err, ErrInvalid):
		return codes.InvalidArgument
	case errors.Is(err, ErrOutOfRange):
		return codes.OutOfRange
	case errors.Is(err, ErrClosed):
		return codes.Unavailable
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	if c := status.Code(err); c != codes.Unknown {
		return c // a stream's error, for example the writer cancelling
	}
	return codes.Internal
}
