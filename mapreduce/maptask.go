package mapreduce

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// Progress is how far a running task has come, safe to read while it runs:
// a completed fraction, ticks that grow as long as the task makes any
// progress (records read, keys reduced, bytes fetched), which is how a
// hung task is told from a slow one, and a status line.
type Progress struct {
	bits   atomic.Uint64
	ticks  atomic.Int64
	status atomic.Pointer[string]
}

// SetStatus stores a status line and counts as progress.
func (p *Progress) SetStatus(s string) {
	p.status.Store(&s)
	p.ticks.Add(1)
}

// Status returns the last status line stored.
func (p *Progress) Status() string {
	if s := p.status.Load(); s != nil {
		return *s
	}
	return ""
}

// Set stores a fraction in [0, 1] and counts as progress.
func (p *Progress) Set(f float64) {
	p.bits.Store(math.Float64bits(f))
	p.ticks.Add(1)
}

// Tick records progress without changing the fraction.
func (p *Progress) Tick() { p.ticks.Add(1) }

// Get returns the last fraction stored.
func (p *Progress) Get() float64 { return math.Float64frombits(p.bits.Load()) }

// Ticks returns how often progress was recorded.
func (p *Progress) Ticks() int64 { return p.ticks.Load() }

// MapTask is one map task's work.
type MapTask struct {
	Job   *Job
	Split Split
	// FileSystems opens the split's file.
	FileSystems *FileSystems
	// Reducers is the number of partitions; 0 makes a map-only task that
	// writes the mapper's pairs to the part file OutputFormat.PartName('m',
	// Index) of Output.
	Reducers int
	// InputFormat is how the split is read: TextInput ("" too), CSVInput,
	// JSONLInput or ParquetInput.
	InputFormat string
	// OutputFormat is how a map-only task writes its part file (text when
	// zero).
	OutputFormat OutputFormat
	// Index is the map task's index in its step.
	Index int
	// SortBufferBytes is the memory budget for buffered output.
	SortBufferBytes int
	// OutputCodec compresses the task's output run, what reducers fetch:
	// "" (none) or one of MapOutputCodecs.
	OutputCodec string
	// MaxLineBytes is the line limit (DefaultMaxLineBytes when 0).
	MaxLineBytes int
	// Dir is the folder for spills and the final run; "" keeps them in
	// memory (the sequential runner).
	Dir string
	// WriteBehind writes the runs in Dir behind (pagecache.Writer), not
	// through the page cache: set by a worker that holds more map output
	// than it keeps cached.
	WriteBehind bool
	// Output is where the attempt writes the files of the step's output:
	// its rejects (RejectsDir/part-m-N, made only if a record is
	// rejected) and, for a map-only task, its part file.
	Output TaskOutput
	// Progress, if set, is updated as the split is read.
	Progress *Progress
	// Info describes the task to the job (its split and index are filled
	// in from the fields above).
	Info TaskInfo
}

// MapResult is what a finished map task leaves behind.
type MapResult struct {
	// Output is the sorted run holding one segment per reduce partition
	// (nil for a map-only task).
	Output   *Run
	Counters *Counters
	// Rejects is the number of records copied to the rejects file.
	Rejects int64
}

// RejectsName is the name, in a step's output, of map task i's rejects.
func RejectsName(i int) string { return RejectsDir + "/" + PartName('m', i) }

// OutputName is the file name of a map task's final run inside its Dir.
const OutputName = "file.out"

// RunMap reads the task's split, maps every line and leaves the sorted,
// partitioned output. Errors in the input data are *InputError values.
func RunMap(ctx context.Context, t MapTask) (*MapResult, error) {
	if err := t.Job.validate(); err != nil {
		return nil, err
	}
	if fm, ok := t.Job.Mapper.(FileMapper); ok {
		return runFileMap(ctx, t, fm)
	}
	if t.SortBufferBytes <= 0 {
		t.SortBufferBytes = DefaultSortBufferBytes
	}
	if err := CheckMapOutputCodec(t.OutputCodec); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	counters := NewCounters()
	lr, err := openRecords(ctx, t.FileSystems, t.Split, t.InputFormat, t.MaxLineBytes)
	if err != nil {
		return nil, err
	}
	defer lr.Close()

	rej := &rejectWriter{ctx: ctx, out: t.Output, name: RejectsName(t.Index), lr: lr}
	defer rej.abort()
	info := t.Info
	info.Kind, info.Index, info.Split, info.Reducers = "m", t.Index, t.Split, t.Reducers
	tc := &TaskContext{Counters: counters, Info: info, Progress: t.Progress, FileSystems: t.FileSystems, reject: rej.write, ctx: ctx}

	var sink Emitter
	var sb mapOutputBuffer
	var text OutputWriter
	if t.Reducers == 0 {
		if text, err = t.OutputFormat.Create(ctx, t.Output, t.OutputFormat.PartName('m', t.Index)); err != nil {
			return nil, err
		}
		defer text.Abort()
		sink = text
	} else {
		var store runStore = memStore{}
		if t.Dir != "" {
			store = diskStore{dir: t.Dir, behind: t.WriteBehind}
		}
		combineTC := &TaskContext{Counters: counters, Info: info, Progress: t.Progress, FileSystems: t.FileSystems, ctx: ctx}
		if folder, ok := t.Job.Combiner.(Folder); ok {
			hc, err := newHashCombiner(t.Job, folder, t.Reducers, t.SortBufferBytes, store, counters)
			if err != nil {
				return nil, err
			}
			hc.tc, hc.codec = combineTC, t.OutputCodec
			sb = hc
		} else {
			sorter, err := newSortBuffer(t.Job, t.Reducers, t.SortBufferBytes, store, counters)
			if err != nil {
				return nil, err
			}
			sorter.tc, sorter.codec = combineTC, t.OutputCodec
			sb = sorter
		}
		defer sb.release()
		sink = sb
	}

	lifecycle, _ := t.Job.Mapper.(TaskLifecycle)
	if lifecycle != nil {
		if err := lifecycle.Setup(tc); err != nil {
			return nil, fmt.Errorf("map setup: %w", err)
		}
	}
	var records int64
	var rec Record
	for {
		err := lr.readRecord(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			// Only here: bad escapes to the heap through errors.As.
			var bad *badRecordError
			if !errors.As(err, &bad) {
				return nil, err
			}
			records++
			counters.Add(MalformedRecords, 1)
			if err := tc.Reject(rec, bad.reason); err != nil {
				return nil, err
			}
			continue
		}
		records++
		if err := t.Job.Mapper.Map(tc, rec, sink); err != nil {
			return nil, mapError(lr, rec, err)
		}
		if records&63 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if t.Progress != nil && records&1023 == 0 {
				t.Progress.Set(lr.Progress())
			}
		}
	}
	if lifecycle != nil {
		if err := lifecycle.Cleanup(tc, sink); err != nil {
			return nil, fmt.Errorf("map cleanup: %w", err)
		}
	}
	counters.Add(MapInputRecords, records)
	counters.Add(MapInputBytes, lr.BytesRead())
	if cs, ok := lr.source().(CounterSource); ok {
		for k, v := range cs.Counters() {
			counters.Add(k, v)
		}
	}
	if l, ok := lr.source().(LocalityReporter); ok {
		if l.ReadLocal() {
			counters.Add(DataLocalMaps, 1)
		} else {
			counters.Add(OtherLocalMaps, 1)
		}
	}
	if err := rej.close(); err != nil {
		return nil, err
	}
	res := &MapResult{Counters: counters, Rejects: rej.n}
	if text != nil {
		if err := text.Close(); err != nil {
			return nil, err
		}
		counters.Add(BytesWritten, text.Bytes())
		counters.Add(MapOutputRecords, text.Records())
		return res, nil
	}
	run, err := sb.finish(OutputName)
	if err != nil {
		return nil, err
	}
	counters.Add(MapOutputMaterialized, run.Bytes())
	counters.Add(MapOutputRunBytes, run.RawBytes())
	res.Output = run
	if t.Progress != nil {
		t.Progress.Set(1)
	}
	return res, nil
}

// mapOutputBuffer holds a map task's output until it is written as the
// task's sorted, partitioned run: a sortBuffer, or a hashCombiner when
// the job's combiner is a Folder.
type mapOutputBuffer interface {
	Emitter
	// finish writes what is buffered and merges every spill into the run
	// name.
	finish(name string) (*Run, error)
	// release gives back the buffer's memory.
	release()
}

// mapError names the file and line of the record a mapper failed on.
func mapError(lr recordReader, rec Record, err error) error {
	line, lerr := lr.LineNumber(rec)
	if lerr != nil {
		line = 0
	}
	return &InputError{File: rec.File, Line: line, Offset: rec.Offset, Err: fmt.Errorf("map: %w", err)}
}

// rejectWriter copies rejected records to a file of the task's output as
// "file<TAB>line<TAB>reason<TAB>original line".
//
// It holds the rejects until the task ends, or until they fill
// maxPendingRejects, before it numbers and writes them: a line number
// needs the newlines before the split, which by then the tasks of the
// splits before it have more likely counted (see lineSpans).
type rejectWriter struct {
	ctx  context.Context
	out  TaskOutput
	name string
	lr   recordReader
	f    FileWriter
	w    *bufio.Writer
	n    int64

	pending []pendingReject
	lines   []byte // the pending rejects' lines, one after another
}

// pendingReject is a reject not yet written: what its line number needs
// of its record, its reason, and where its line lies in lines.
type pendingReject struct {
	file                string
	offset, lineInSplit int64
	reason              string
	start, end          int
}

// maxPendingRejects is how much memory a rejectWriter's pending rejects
// may take before it writes them.
const maxPendingRejects = 256 << 10

// pendingRejectCost is what a pending reject takes beside its line.
const pendingRejectCost = int(unsafe.Sizeof(pendingReject{}))

func (rw *rejectWriter) write(rec Record, reason string) error {
	if rw.out == nil {
		return fmt.Errorf("reject %s line at byte offset %d: this task keeps no rejects", rec.File, rec.Offset)
	}
	start := len(rw.lines)
	rw.lines = append(rw.lines, rec.Line...)
	rw.pending = append(rw.pending, pendingReject{file: rec.File, offset: rec.Offset, lineInSplit: rec.lineInSplit, reason: reason, start: start, end: len(rw.lines)})
	rw.n++
	if len(rw.lines)+pendingRejectCost*len(rw.pending) >= maxPendingRejects {
		return rw.flush()
	}
	return nil
}

// flush numbers and writes the pending rejects.
func (rw *rejectWriter) flush() error {
	for _, p := range rw.pending {
		line, err := rw.lr.LineNumber(Record{File: p.file, Offset: p.offset, lineInSplit: p.lineInSplit})
		if err != nil {
			return err
		}
		if rw.f == nil {
			if rw.f, err = rw.out.Create(rw.ctx, rw.name); err != nil {
				return fmt.Errorf("create rejects file: %w", err)
			}
			rw.w = bufio.NewWriter(rw.f)
		}
		rw.w.WriteString(p.file)
		rw.w.WriteByte('\t')
		rw.w.WriteString(strconv.FormatInt(line, 10))
		rw.w.WriteByte('\t')
		rw.w.WriteString(p.reason)
		rw.w.WriteByte('\t')
		rw.w.Write(rw.lines[p.start:p.end])
		if err := rw.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write rejects: %w", err)
		}
	}
	rw.pending, rw.lines = rw.pending[:0], rw.lines[:0]
	return nil
}

// close writes the pending rejects and completes the rejects file, if
// there are rejects.
func (rw *rejectWriter) close() error {
	if err := rw.flush(); err != nil {
		rw.abort()
		return err
	}
	if rw.f == nil {
		return nil
	}
	f := rw.f
	rw.f = nil
	if err := rw.w.Flush(); err != nil {
		f.Abort()
		return fmt.Errorf("write rejects: %w", err)
	}
	return f.Close()
}

// abort drops the pending rejects and discards the rejects file: the task
// failed. It is a no-op after close.
func (rw *rejectWriter) abort() {
	rw.pending, rw.lines = nil, nil
	if rw.f != nil {
		rw.f.Abort()
		rw.f = nil
	}
}
