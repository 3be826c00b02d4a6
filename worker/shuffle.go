package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomr/gomr/hdfs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/faults"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker/workerpb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	// fetchChunk is the size of the chunks a segment is streamed in.
	fetchChunk = 256 << 10
	// parallelFetches is how many map outputs a reduce attempt fetches at
	// once (Hadoop's mapreduce.reduce.shuffle.parallelcopies is 5).
	parallelFetches = 5
	// fetchTries is how often one map output is tried before the attempt
	// fails.
	fetchTries = 3
)

// shuffleServer serves this worker's map outputs.
type shuffleServer struct {
	workerpb.UnimplementedShuffleServer
	w *Worker
}

func (s *shuffleServer) Fetch(req *workerpb.FetchRequest, stream grpc.ServerStreamingServer[workerpb.FetchChunk]) error {
	faults.Hit("shuffle-send")
	run, err := s.w.openOutput(req.AttemptId)
	if err != nil {
		return status.Error(codes.NotFound, err.Error())
	}
	defer run.Close()
	p := int(req.Partition)
	if p < 0 || p >= len(run.Segments) {
		return status.Errorf(codes.InvalidArgument, "map output %s has %d partitions, not %d", req.AttemptId, len(run.Segments), p)
	}
	r, seg := run.OpenSegment(p)
	first := &workerpb.FetchChunk{Length: seg.Length, Records: seg.Records, Sums: seg.Sums, Codec: seg.Codec}
	buf := make([]byte, min(fetchChunk, max(seg.Length, 1))) // a tiny segment, a tiny buffer
	sent := false
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 || !sent {
			chunk := &workerpb.FetchChunk{Data: buf[:n]}
			if !sent {
				first.Data = buf[:n]
				chunk, sent = first, true
			}
			if serr := stream.Send(chunk); serr != nil {
				return serr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "read map output %s: %v", req.AttemptId, err)
		}
	}
}

// openOutput opens a map output this worker holds.
func (w *Worker) openOutput(attemptID string) (*mapreduce.Run, error) {
	w.mu.Lock()
	o, ok := w.outputs[attemptID]
	w.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("worker %s holds no output of map attempt %s", w.cfg.ID, attemptID)
	}
	if o.run != nil {
		return o.run, nil // in memory: nothing to open or close
	}
	return mapreduce.OpenRun(o.path)
}

// fetched is one map output segment ready for the merge.
type fetched struct {
	input mapreduce.SegmentInput
	close func()
	// inMemory is set for a segment fetched into memory, counted against
	// the attempt's shuffle budget.
	inMemory bool
}

// fetchAll fetches the attempt's partition of every map output, holding
// them in memory up to the shuffle budget and on disk beyond. The
// segments come in map order, except that a job with a combiner has them
// combined as they arrive (heldSegments).
func (w *Worker) fetchAll(ctx context.Context, a *attempt, job *mapreduce.Job, dir string, tc *mapreduce.TaskContext) ([]fetched, error) {
	maps := a.spec.MapOutputs
	out := make([]fetched, len(maps))
	budget := new(atomic.Int64)
	budget.Store(w.cfg.ShuffleMemoryBytes)
	held := &heldSegments{job: job, tc: tc, partition: int(a.spec.TaskIndex), budget: budget, mergeAt: w.cfg.ShuffleMergeBytes}
	held.passEnded = sync.NewCond(&held.mu)
	var shuffled, done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelFetches)
	for i, mo := range maps {
		g.Go(func() error {
			path := filepath.Join(dir, fmt.Sprintf("map-%05d.seg", mo.MapIndex))
			f, n, err := w.fetchWithRetry(gctx, mo, int(a.spec.TaskIndex), path, budget)
			for err != nil {
				if gctx.Err() != nil {
					return err
				}
				// The output cannot be had from where it was: have the
				// leader re-run the map if need be, and fetch it from
				// wherever it is next.
				if mo, err = w.relocate(gctx, a, mo, err); err != nil {
					return err
				}
				f, n, err = w.fetchWithRetry(gctx, mo, int(a.spec.TaskIndex), path, budget)
			}
			a.progress.Tick()
			shuffled.Add(n)
			a.progress.Set(0.5 * float64(done.Add(1)) / float64(len(maps)))
			if held.combines() {
				return held.add(gctx, f)
			}
			out[i] = f
			return nil
		})
	}
	err := g.Wait()
	w.reclaimSlot(a)
	out = slices.DeleteFunc(out, func(f fetched) bool { return f.close == nil })
	out = append(out, held.all()...)
	if err != nil {
		for _, f := range out {
			f.close()
		}
		return nil, err
	}
	tc.Counters.Add(mapreduce.ReduceShuffleBytes, shuffled.Load())
	return out, nil
}

// heldSegments are the fetched segments of a reduce attempt whose job
// has a combiner. Once those held in memory pass the merge threshold, or
// combineFactor segments wait, they are combined into one segment held in
// memory (Hadoop's in-memory merge, and its merge passes of
// mapreduce.task.io.sort.factor segments), so that what the attempt
// holds, and the segments its final merge reads at once, grow with the
// distinct keys rather than with the number of maps. A combined segment
// that did not come to half its inputs' size (a combiner that combines
// little) is set aside rather than combined again.
type heldSegments struct {
	job       *mapreduce.Job
	tc        *mapreduce.TaskContext
	partition int
	budget    *atomic.Int64 // the attempt's shuffle budget, given back what combining saves
	mergeAt   int64

	mu      sync.Mutex
	segs    []fetched // to combine
	bytes   int64     // of segs, held in memory
	settled []fetched // combined, not to combine again
	merging bool
	// passEnded is signalled, with mu, when a combining pass ends.
	passEnded *sync.Cond
}

// combineFactor is how many segments a combining pass merges at most
// before a reduce attempt combines them whatever their size (Hadoop's
// mapreduce.task.io.sort.factor).
const combineFactor = 10

func (h *heldSegments) combines() bool { return h.job.Combiner != nil && h.mergeAt > 0 }

// add holds a fetched segment, and combines what is held, a pass of at
// most combineFactor segments at a time, while it passes the threshold.
func (h *heldSegments) add(ctx context.Context, f fetched) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.segs = append(h.segs, f)
	if f.inMemory {
		h.bytes += f.input.Segment.Length
	}
	for len(h.segs) >= 2 && (h.bytes >= h.mergeAt || len(h.segs) >= combineFactor) {
		if h.merging {
			// Fetching waits for combining: fetches outrun a pass, and
			// what they fetched meanwhile would pile up in memory.
			h.passEnded.Wait()
			continue
		}
		if err := h.combinePass(ctx); err != nil {
			return err
		}
	}
	return nil
}

// combinePass combines the oldest segments held into one, with h.mu
// held, which it lets go of while it combines.
func (h *heldSegments) combinePass(ctx context.Context) error {
	n := min(len(h.segs), combineFactor)
	take := slices.Clone(h.segs[:n])
	h.segs = slices.Delete(h.segs, 0, n)
	inputs := make([]mapreduce.SegmentInput, n)
	var size, held int64
	for i, t := range take {
		inputs[i] = t.input
		size += t.input.Segment.Length
		if t.inMemory {
			held += t.input.Segment.Length
		}
	}
	h.bytes -= held
	h.merging = true
	h.mu.Unlock()
	merged, err := mapreduce.CombineSegments(ctx, h.job, h.partition, inputs, h.tc)
	h.mu.Lock()
	h.merging = false
	h.passEnded.Broadcast()
	if err != nil {
		h.segs = append(h.segs, take...)
		h.bytes += held
		return fmt.Errorf("combine fetched map outputs: %w", err)
	}
	for _, t := range take {
		t.close()
	}
	m := fetched{input: merged, close: func() {}, inMemory: true}
	if n := merged.Segment.Length; 2*n > size {
		h.settled = append(h.settled, m)
	} else {
		h.segs = append(h.segs, m)
		h.bytes += n
	}
	h.budget.Add(held - merged.Segment.Length)
	return nil
}

// all returns every segment held, once the fetches have ended.
func (h *heldSegments) all() []fetched {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(h.settled, h.segs...)
}

// relocate waits for a map's output to be somewhere it can be fetched. It
// reports the failed fetch to the leader, which re-runs the map (unless it
// already knows the output is lost, e.g. its worker died), and polls for
// the map's new output. Waiting counts as progress: the attempt is not
// hung.
func (w *Worker) relocate(ctx context.Context, a *attempt, mo *pb.MapOutput, fetchErr error) (*pb.MapOutput, error) {
	w.log.Warn("map output unreachable; waiting for it elsewhere", "attempt", a.spec.AttemptId, "map", mo.AttemptId, "err", fetchErr)
	w.lendSlot(a)
	var reported time.Time
	for {
		a.progress.Tick()
		resp, err := w.client.MapOutputs(ctx, &pb.MapOutputsRequest{StepId: a.spec.StepId})
		if err == nil {
			if resp.StepState != pb.StepState_STEP_RUNNING {
				return nil, fmt.Errorf("step %s is %s while fetching map %d", a.spec.StepId, resp.StepState, mo.MapIndex)
			}
			current := (*pb.MapOutput)(nil)
			for _, o := range resp.MapOutputs {
				if o.MapIndex == mo.MapIndex {
					current = o
				}
			}
			switch {
			case current != nil && current.AttemptId != mo.AttemptId:
				return current, nil
			case current != nil && time.Since(reported) > 5*time.Second:
				reported = time.Now()
				_, rerr := w.client.ReportFetchFailure(ctx, &pb.ReportFetchFailureRequest{
					WorkerId: w.cfg.ID, Incarnation: a.incarnation, MapAttemptId: mo.AttemptId, Error: fetchErr.Error(),
				})
				if rerr != nil {
					w.log.Debug("report fetch failure", "err", rerr)
				}
			}
		}
		if !sleep(ctx, 300*time.Millisecond) {
			return nil, fmt.Errorf("fetch map %d: %w (last error: %v)", mo.MapIndex, ctx.Err(), fetchErr)
		}
	}
}

func (w *Worker) fetchWithRetry(ctx context.Context, mo *pb.MapOutput, partition int, path string, budget *atomic.Int64) (fetched, int64, error) {
	var lastErr error
	for try := 0; try < fetchTries; try++ {
		if try > 0 && !sleep(ctx, time.Duration(try)*200*time.Millisecond) {
			break
		}
		f, n, err := w.fetch(ctx, mo, partition, path, budget)
		if err == nil {
			return f, n, nil
		}
		lastErr = err
		if ctx.Err() != nil || errors.Is(err, hdfs.ErrChecksum) {
			break
		}
	}
	if ctx.Err() != nil {
		return fetched{}, 0, ctx.Err()
	}
	return fetched{}, 0, fmt.Errorf("fetch partition %d of map %d (attempt %s on %s): %w", partition, mo.MapIndex, mo.AttemptId, mo.Address, lastErr)
}

// fetch gets one segment: straight from disk when this worker holds it,
// over the Shuffle service otherwise.
func (w *Worker) fetch(ctx context.Context, mo *pb.MapOutput, partition int, path string, budget *atomic.Int64) (fetched, int64, error) {
	name := fmt.Sprintf("map %d (%s)", mo.MapIndex, mo.AttemptId)
	if mo.Address == w.Addr() {
		run, err := w.openOutput(mo.AttemptId)
		if err != nil {
			return fetched{}, 0, err
		}
		r, seg := run.OpenSegment(partition)
		return fetched{input: mapreduce.SegmentInput{Name: name, Reader: r, Segment: seg}, close: func() { run.Close() }}, seg.Length, nil
	}
	cc, err := w.peers.Get(mo.Address)
	if err != nil {
		return fetched{}, 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := workerpb.NewShuffleClient(cc).Fetch(ctx, &workerpb.FetchRequest{AttemptId: mo.AttemptId, Partition: int32(partition)})
	if err != nil {
		return fetched{}, 0, err
	}
	first, err := stream.Recv()
	if err != nil {
		return fetched{}, 0, err
	}
	seg := mapreduce.Segment{Partition: partition, Length: first.Length, Records: first.Records, Sums: first.Sums, Codec: first.Codec}
	var sink segmentSink
	inMemory := false
	if budget.Add(-seg.Length) >= 0 {
		sink = &memSink{buf: bytes.NewBuffer(make([]byte, 0, seg.Length))}
		inMemory = true
	} else {
		budget.Add(seg.Length)
		file, err := os.Create(path)
		if err != nil {
			return fetched{}, 0, fmt.Errorf("create shuffle file: %w", err)
		}
		sink = &fileSink{f: file}
	}
	if err := receive(stream, first, sink, seg); err != nil {
		sink.close()
		if inMemory {
			budget.Add(seg.Length) // a retry holds it again
		}
		return fetched{}, 0, fmt.Errorf("%s: %w", name, err)
	}
	return fetched{input: mapreduce.SegmentInput{Name: name, Reader: sink.reader(seg.Length), Segment: seg}, close: sink.close, inMemory: inMemory}, seg.Length, nil
}

// receive copies a fetched segment's chunks to dst, verifying each
// checksum chunk as it arrives.
func receive(stream grpc.ServerStreamingClient[workerpb.FetchChunk], first *workerpb.FetchChunk, dst io.Writer, seg mapreduce.Segment) error {
	v := hdfs.NewVerifier(seg.Sums)
	var got int64
	for chunk := first; ; {
		if _, err := v.Write(chunk.Data); err != nil {
			return err
		}
		if _, err := dst.Write(chunk.Data); err != nil {
			return fmt.Errorf("store shuffle data: %w", err)
		}
		got += int64(len(chunk.Data))
		var err error
		if chunk, err = stream.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
	}
	if got != seg.Length {
		return fmt.Errorf("got %d of %d bytes", got, seg.Length)
	}
	// The final partial chunk is verified only once the stream is complete.
	return v.Close()
}

// segmentSink holds a fetched segment in memory or in a file.
type segmentSink interface {
	io.Writer
	reader(size int64) io.Reader
	close()
}

type memSink struct{ buf *bytes.Buffer }

func (m *memSink) Write(p []byte) (int, error) { return m.buf.Write(p) }
func (m *memSink) reader(int64) io.Reader      { return bytes.NewReader(m.buf.Bytes()) }
func (m *memSink) close()                      {}

type fileSink struct{ f *os.File }

func (fs *fileSink) Write(p []byte) (int, error) { return fs.f.Write(p) }
func (fs *fileSink) reader(size int64) io.Reader { return io.NewSectionReader(fs.f, 0, size) }
func (fs *fileSink) close() {
	fs.f.Close()
	os.Remove(fs.f.Name())
}
