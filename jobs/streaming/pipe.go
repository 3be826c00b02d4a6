package streaming

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

const (
	// batchBytes is the size of the batches of input lines handed to a
	// command's feeder goroutine and of output lines handed back.
	batchBytes = 64 << 10
	// queueBatches is how many batches wait in each direction: with the
	// pipes, what a command may be behind or ahead of its task.
	queueBatches = 4
	// maxOutputLine bounds one line a command writes.
	maxOutputLine = 64 << 20
)

// killGrace is how long a command has between SIGTERM and SIGKILL, and
// how long its task waits for a stdout that something the command started
// in the background still holds after the command exited.
var killGrace = 500 * time.Millisecond

var (
	errAbandoned = errors.New("its job was dropped before the task ended")
	errNewTask   = errors.New("a new task started before the last one ended")
)

// pipe is a running command and the goroutines that serve it: a feeder
// writes input batches to its stdin, a reader cuts its stdout into output
// batches, a sink reads its stderr, and a waiter waits for it to exit. The
// task's goroutine only appends lines to the current input batch, hands
// full batches over and emits output batches, so that Emit is only ever
// called from it; whenever it waits for room in the input queue it emits
// output, so the command can always make progress and nothing deadlocks.
type pipe struct {
	cmd      *command
	proc     *process
	tc       *mapreduce.TaskContext
	ctx      context.Context
	ctxDone  <-chan struct{}
	stopCtx  func() bool
	tmpDir   string
	tmpOnce  sync.Once
	stderr   *stderrSink
	progress *mapreduce.Progress
	// strict makes unread input an error (a combiner must read it all).
	strict bool

	// Used by the task's goroutine only.
	cur      []byte
	outCh    <-chan *outBatch // nil once closed
	finished bool
	result   error

	in      chan []byte
	free    chan []byte
	out     chan *outBatch
	outFree chan *outBatch
	quit    chan struct{} // closed when the command is killed
	fed     chan struct{} // closed when the feeder is done
	broken  atomic.Bool   // stdin refused a write: the command stopped reading
	unread  atomic.Int64  // lines the feeder could not write
	forced  atomic.Bool   // stdout was closed under the reader
	readErr error         // set by the reader before it closes out

	killOnce sync.Once
	killErr  error // why it was killed; set before quit is closed
}

// outBatch holds output lines, each cut at its first tab.
type outBatch struct {
	data  []byte
	lines []span
}

type span struct{ start, sep, end uint32 }

const noTab = ^uint32(0)

func (b *outBatch) addLine(start, end int) {
	if end > start && b.data[end-1] == '\r' {
		end--
	}
	sep := noTab
	if i := bytes.IndexByte(b.data[start:end], '\t'); i >= 0 {
		sep = uint32(start + i)
	}
	b.lines = append(b.lines, span{uint32(start), sep, uint32(end)})
}

// start places the job's files in the task's working folder, finds the
// program and starts it.
func (c *command) start(tc *mapreduce.TaskContext) (*pipe, error) {
	dir, tmp, err := c.workDir(tc)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*pipe, error) {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		return nil, err
	}
	run, ra := dir, tc.Info.RunAs
	if ra != nil { // runas.go
		var rtmp string
		if run, rtmp, err = runDir(dir, ra); err != nil {
			return fail(fmt.Errorf("%s: %w", c.name(), err))
		}
		tmp = cmp.Or(tmp, rtmp)
	}
	if err := c.placeFiles(tc, run); err != nil {
		return fail(err)
	}
	env := append(c.environ(tc.Info), userEnv(ra, run)...)
	path, err := c.resolve(run, env)
	if err != nil {
		return fail(err)
	}
	proc, err := startProcess(path, c.argv, run, env, ra)
	if err != nil {
		return fail(fmt.Errorf("%s: start %s: %w", c.name(), path, err))
	}
	p := &pipe{
		cmd: c, proc: proc, tc: tc, tmpDir: tmp, progress: tc.Progress,
		stderr:  newStderrSink(c.role, dir, tc),
		cur:     make([]byte, 0, batchBytes),
		in:      make(chan []byte, queueBatches),
		free:    make(chan []byte, queueBatches+2),
		out:     make(chan *outBatch, queueBatches),
		outFree: make(chan *outBatch, queueBatches+2),
		quit:    make(chan struct{}),
		fed:     make(chan struct{}),
	}
	p.outCh = p.out
	go p.stderr.run(proc.stderr)
	go p.feed()
	go p.readOutput()
	p.ctx = c.taskCtx(tc)
	if p.ctxDone = p.ctx.Done(); p.ctxDone != nil {
		ctx := p.ctx
		p.stopCtx = context.AfterFunc(ctx, func() { p.kill(ctx.Err()) })
	}
	return p, nil
}

// feed writes input batches to the command's stdin and closes it after the
// last. Once the command stops reading, batches are counted and dropped.
func (p *pipe) feed() {
	defer close(p.fed)
	w := p.proc.stdin
	for {
		var b []byte
		var ok bool
		select {
		case b, ok = <-p.in:
		case <-p.quit:
			return
		}
		if !ok {
			w.Close()
			return
		}
		if !p.broken.Load() {
			if _, err := w.Write(b); err != nil {
				p.broken.Store(true)
				w.Close()
			}
		}
		if p.broken.Load() {
			p.unread.Add(int64(bytes.Count(b, []byte{'\n'})))
		}
		select {
		case p.free <- b[:0]:
		default:
		}
	}
}

// readOutput reads the command's stdout straight into output batches and
// hands over, after each read, the complete lines it holds.
func (p *pipe) readOutput() {
	defer close(p.out)
	b := p.newOutBatch()
	lineStart, scan := 0, 0
	for {
		if len(b.data) == cap(b.data) { // one line fills the batch
			if cap(b.data) >= maxOutputLine {
				p.readErr = fmt.Errorf("%s wrote a line longer than %d bytes", p.cmd.name(), maxOutputLine)
				go p.kill(p.readErr)
				return
			}
			grown := make([]byte, len(b.data), 2*cap(b.data))
			copy(grown, b.data)
			b.data = grown
		}
		n, err := p.proc.stdout.Read(b.data[len(b.data):cap(b.data)])
		b.data = b.data[:len(b.data)+n]
		for {
			i := bytes.IndexByte(b.data[scan:], '\n')
			if i < 0 {
				break
			}
			b.addLine(lineStart, scan+i)
			lineStart = scan + i + 1
			scan = lineStart
		}
		scan = len(b.data)
		if err != nil {
			if lineStart < len(b.data) { // a last line without a newline
				b.addLine(lineStart, len(b.data))
			}
			if len(b.lines) > 0 {
				p.sendOut(b)
			}
			if err != io.EOF && !p.forced.Load() {
				select {
				case <-p.quit:
				default:
					p.readErr = fmt.Errorf("%s: read its output: %w", p.cmd.name(), err)
				}
			}
			return
		}
		if len(b.lines) > 0 {
			next := p.newOutBatch()
			next.data = append(next.data, b.data[lineStart:]...)
			b.data = b.data[:lineStart]
			if !p.sendOut(b) {
				return
			}
			b, lineStart, scan = next, 0, len(next.data)
		}
	}
}

func (p *pipe) newOutBatch() *outBatch {
	select {
	case b := <-p.outFree:
		return b
	default:
		return &outBatch{data: make([]byte, 0, batchBytes), lines: make([]span, 0, 1024)}
	}
}

func (p *pipe) sendOut(b *outBatch) bool {
	select {
	case p.out <- b:
		if p.progress != nil {
			p.progress.Tick()
		}
		return true
	case <-p.quit:
		return false
	}
}

// emitBatch emits a batch's lines: key<TAB>value as (key, value), a line
// without a tab as (line, nil).
func (p *pipe) emitBatch(b *outBatch, out mapreduce.Emitter) error {
	for _, l := range b.lines {
		var err error
		if l.sep == noTab {
			err = out.Emit(b.data[l.start:l.end], nil)
		} else {
			err = out.Emit(b.data[l.start:l.sep], b.data[l.sep+1:l.end])
		}
		if err != nil {
			return err
		}
	}
	b.data, b.lines = b.data[:0], b.lines[:0]
	select {
	case p.outFree <- b:
	default:
	}
	return nil
}

// emitReady emits the output batches that are ready, without waiting.
func (p *pipe) emitReady(out mapreduce.Emitter) error {
	for {
		select {
		case b, ok := <-p.outCh:
			if !ok {
				p.outCh = nil
				return nil
			}
			if err := p.emitBatch(b, out); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// putLine hands the command one input line (a map record).
func (p *pipe) putLine(line []byte, out mapreduce.Emitter) error {
	if skip, err := p.before(out); skip || err != nil {
		return err
	}
	p.cur = append(p.cur, line...)
	p.cur = append(p.cur, '\n')
	return p.after(out)
}

// putPair hands the command one key<TAB>value line.
func (p *pipe) putPair(key, value []byte, out mapreduce.Emitter) error {
	if skip, err := p.before(out); skip || err != nil {
		return err
	}
	p.cur = append(p.cur, key...)
	p.cur = append(p.cur, '\t')
	p.cur = append(p.cur, value...)
	p.cur = append(p.cur, '\n')
	return p.after(out)
}

// before emits ready output and reports whether the input line is to be
// skipped: the command stopped reading its input.
func (p *pipe) before(out mapreduce.Emitter) (skip bool, err error) {
	if !p.finished && p.broken.Load() {
		if p.strict {
			return true, fmt.Errorf("%s stopped reading its input before its end", p.cmd.name())
		}
		// Wait for the command; if it succeeds, the rest is not read.
		if err := p.finish(out); err != nil {
			return true, err
		}
	}
	if p.finished {
		p.tc.Counters.Add(UnreadRecords, 1)
		return true, nil
	}
	if len(p.outCh) > 0 {
		return false, p.emitReady(out)
	}
	return false, nil
}

func (p *pipe) after(out mapreduce.Emitter) error {
	if len(p.cur) >= batchBytes {
		return p.flush(out)
	}
	if p.stderr.dirty.Load() {
		p.stderr.mergeInto(p.tc.Counters)
	}
	return nil
}

// flush hands the current input batch to the feeder, emitting output while
// the queue is full.
func (p *pipe) flush(out mapreduce.Emitter) error {
	for {
		select {
		case p.in <- p.cur:
			select {
			case b := <-p.free:
				p.cur = b
			default:
				p.cur = make([]byte, 0, batchBytes)
			}
			return nil
		case b, ok := <-p.outCh:
			if !ok {
				p.outCh = nil
				continue
			}
			if err := p.emitBatch(b, out); err != nil {
				return err
			}
		case <-p.quit:
			return p.killedError()
		case <-p.ctxDone:
			return p.abort()
		}
	}
}

// finish closes the command's input, emits the rest of its output, waits
// for it to exit and ends its process group. The command's failure is the
// task's: it names the command, how it ended and the tail of its stderr.
func (p *pipe) finish(out mapreduce.Emitter) error {
	if p.finished {
		return p.result
	}
	p.finished = true
	p.result = p.complete(out)
	if p.result != nil {
		p.kill(p.result)
	}
	if p.stopCtx != nil {
		p.stopCtx()
	}
	p.removeTmp()
	return p.result
}

func (p *pipe) complete(out mapreduce.Emitter) error {
	if len(p.cur) > 0 {
		if err := p.flush(out); err != nil {
			return err
		}
	}
	close(p.in)
	exited := p.proc.exited
	var linger, force <-chan time.Time
	for p.outCh != nil {
		select {
		case b, ok := <-p.outCh:
			if !ok {
				p.outCh = nil
				continue
			}
			if err := p.emitBatch(b, out); err != nil {
				return err
			}
		case <-exited:
			exited, linger = nil, time.After(killGrace)
		case <-linger:
			// The command exited, but something it started still holds
			// its stdout: end the group.
			linger = nil
			go p.proc.stop(killGrace)
			force = time.After(3 * killGrace)
		case <-force:
			// Held by a process that left the group.
			force = nil
			p.forced.Store(true)
			p.proc.stdout.Close()
		case <-p.quit:
			return p.killedError()
		case <-p.ctxDone:
			return p.abort()
		}
	}
	select {
	case <-p.proc.exited:
	case <-p.quit:
		return p.killedError()
	case <-p.ctxDone:
		return p.abort()
	}
	p.proc.stop(0) // what the command left running in its group
	select {
	case <-p.stderr.done:
	case <-time.After(killGrace):
		p.proc.stderr.Close()
		<-p.stderr.done
	}
	p.proc.stdin.Close()
	<-p.fed
	select {
	case <-p.quit:
		return p.killedError()
	default:
	}
	p.stderr.mergeInto(p.tc.Counters)
	if n := p.unread.Load(); n > 0 {
		if p.strict {
			return fmt.Errorf("%s stopped reading its input before its end", p.cmd.name())
		}
		p.tc.Counters.Add(UnreadRecords, n)
	}
	if p.readErr != nil {
		return p.readErr
	}
	if status, failed := p.proc.exitError(); failed {
		if tail := p.stderr.tailText(); tail != "" {
			return fmt.Errorf("%s %s; its stderr ended with:%s", p.cmd.name(), status, tail)
		}
		return fmt.Errorf("%s %s (no stderr output)", p.cmd.name(), status)
	}
	return nil
}

// abort kills the command because the task's context is done.
func (p *pipe) abort() error {
	p.kill(p.ctx.Err())
	return p.killedError()
}

func (p *pipe) killedError() error {
	err := p.killErr
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || err == errAbandoned || err == errNewTask {
		return fmt.Errorf("%s was killed: %w", p.cmd.name(), err)
	}
	return err
}

// kill ends the command's process group (SIGTERM, then SIGKILL after
// killGrace) and every goroutine serving it. It may be called from any
// goroutine, any number of times.
func (p *pipe) kill(reason error) {
	p.killOnce.Do(func() {
		p.killErr = reason
		p.proc.stop(killGrace)
		close(p.quit)
		p.proc.closeFiles()
		if p.stopCtx != nil {
			p.stopCtx()
		}
		p.removeTmp()
	})
}

func (p *pipe) removeTmp() {
	if p.tmpDir != "" {
		p.tmpOnce.Do(func() { os.RemoveAll(p.tmpDir) })
	}
}
