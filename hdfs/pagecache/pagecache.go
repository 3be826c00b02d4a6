// Package pagecache writes files behind: it keeps a file written once
// and not read again soon from piling up in the kernel's page cache, as
// Hadoop's DataNode does with dfs.datanode.sync.behind.writes and
// drop.cache.behind.writes.
package pagecache

import (
	"os"
	"sync"
	"sync/atomic"
)

// Window is how much of a file a Writer writes between two calls to the
// kernel.
const Window = 8 << 20

// Writer writes a file from its start, sequentially, behind: as each
// Window fills, a goroutine has the kernel start writing back what was
// filled since the last and drops from the page cache what lies two
// windows behind, which is on disk by then or soon. The writer never
// waits for the disk: while one such goroutine runs, windows that fill
// are left to the next, and a page still being written back when it is
// dropped stays cached until the kernel reclaims it.
type Writer struct {
	f *os.File
	// off is how much was written, filled how much of it in whole
	// windows.
	off, filled int64
	// busy is set while a goroutine writes back; it alone touches
	// started (where writeback was started up to) and dropped (where the
	// cache was dropped up to).
	busy             atomic.Bool
	started, dropped int64
	wg               sync.WaitGroup
}

// NewWriter returns a Writer appending to f, which is empty. Close it
// before closing f.
func NewWriter(f *os.File) *Writer { return &Writer{f: f} }

// Write writes p to the file.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.filled >= Window {
		w.filled = w.off / Window * Window
		if w.busy.CompareAndSwap(false, true) {
			w.wg.Add(1)
			go w.writeBack(w.filled)
		}
	}
	return n, err
}

// writeBack starts the writeback of the file up to end and drops what
// lies two windows before it.
func (w *Writer) writeBack(end int64) {
	defer w.wg.Done()
	defer w.busy.Store(false)
	startWriteback(w.f, w.started, end-w.started)
	w.started = end
	if keep := end - 2*Window; keep > w.dropped {
		drop(w.f, w.dropped, keep-w.dropped)
		w.dropped = keep
	}
}

// Close waits for the Writer's goroutine; the file stays open.
func (w *Writer) Close() { w.wg.Wait() }
