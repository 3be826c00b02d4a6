package datanode

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// reasonPipelineWorker is the reason of the ErrorInfo detail (domain
// hdfspb.ErrorDomain) that names the worker a pipeline failed at, in its
// metadata "worker".
const reasonPipelineWorker = "PIPELINE_WORKER_FAILED"

// PipelineError is a block write that failed at a later worker of the
// pipeline: the worker could not be reached, broke the stream or failed
// the write.
type PipelineError struct {
	// Worker and Address are the worker's.
	Worker, Address string
	// Err is what the worker answered, or why it could not be reached.
	Err error
}

// Error names the worker and says what it answered (without the gRPC
// code, which the whole write's error carries).
func (e *PipelineError) Error() string {
	msg := e.Err.Error()
	if st, ok := status.FromError(e.Err); ok {
		msg = st.Message()
	}
	return fmt.Sprintf("pipeline worker %s at %s: %s", e.Worker, e.Address, msg)
}

// Unwrap returns Err.
func (e *PipelineError) Unwrap() error { return e.Err }

// FailedWorker returns the worker a failed block write is blamed on: the
// last worker of the pipeline that failed, which a writer leaves out of
// its next try (AddBlock's exclude). It reads the PipelineError of errors
// of this package and the detail the Server puts in its gRPC errors. ok is
// false when no later worker failed: the write failed at the first worker
// or because of the writer's own data.
func FailedWorker(err error) (worker string, ok bool) {
	var pe *PipelineError
	if errors.As(err, &pe) {
		if w, ok := FailedWorker(pe.Err); ok {
			return w, true
		}
		return pe.Worker, true
	}
	st, isStatus := status.FromError(err)
	if err == nil || !isStatus {
		return "", false
	}
	for _, d := range st.Details() {
		if info, isInfo := d.(*errdetails.ErrorInfo); isInfo && info.Domain == hdfspb.ErrorDomain && info.Reason == reasonPipelineWorker {
			return info.Metadata["worker"], true
		}
	}
	return "", false
}

// downstream is the stream of a block write to the next worker of a
// pipeline.
type downstream struct {
	loc    *hdfspb.Location
	stream hdfspb.DataNode_WriteBlockClient
}

// openDownstream starts writing block to pipeline[0], which forwards it to
// the rest of pipeline. The stream ends when ctx is done.
func (s *Server) openDownstream(ctx context.Context, block *hdfspb.Block, pipeline []*hdfspb.Location, reason string) (*downstream, error) {
	d := &downstream{loc: pipeline[0]}
	cc, err := s.dial(d.loc.Address)
	if err != nil {
		return nil, d.fail(err)
	}
	if d.stream, err = hdfspb.NewDataNodeClient(cc).WriteBlock(ctx); err != nil {
		return nil, d.fail(err)
	}
	header := &hdfspb.WriteBlockHeader{Block: block, Pipeline: pipeline[1:], Reason: reason}
	if err := d.send(&hdfspb.WriteBlockRequest{Header: header}); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *downstream) fail(err error) error {
	return &PipelineError{Worker: d.loc.Worker, Address: d.loc.Address, Err: err}
}

// send sends one message; when the stream is broken, it returns the
// downstream's error.
func (d *downstream) send(m *hdfspb.WriteBlockRequest) error {
	err := d.stream.Send(m)
	if err == io.EOF {
		// The downstream ended the stream: its status says why.
		if _, err = d.stream.CloseAndRecv(); err == nil {
			err = errors.New("stream ended before the block was sent")
		}
	}
	if err != nil {
		return d.fail(err)
	}
	return nil
}

// closeSend tells the downstream the block is all sent, so that it can
// finalize it while this worker does too.
func (d *downstream) closeSend() {
	d.stream.CloseSend() // always nil
}

// finish waits for the downstream's answer: the workers, from it on, that
// stored the block.
func (d *downstream) finish() ([]string, error) {
	resp, err := d.stream.CloseAndRecv()
	if err != nil {
		return nil, d.fail(err)
	}
	return resp.Stored, nil
}
