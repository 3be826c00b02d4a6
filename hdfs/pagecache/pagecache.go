// Package pagecache writes files behind: it keeps a file written once
// and not read again soon from piling up in the kernel's page cache, as
// Hadoop's DataNode does with dfs.datanode.sync.behind.writes and
// drop.cache.behind.writes.
package pagecache

import (
	"fmt"
	"os"
)

// Window is how much of a file a Writer writes between two calls to the
// kernel.
const Window = 8 << 20

// Writer writes a file from its start, sequentially, behind: it has the
// kernel start writing back each Window as it fills, and drops from the
// page cache the windows before the last two, which are on disk by then
// or soon. It never waits for the disk: a page still being written back
// when its window is dropped stays cached until the kernel reclaims it.
type Writer struct {
	f *os.File
	// off is how much was written; started is where writeback was last
	// started (a multiple of Window); dropped is where the cache was last
	// dropped up to.
	off, started, dropped int64
}

// NewWriter returns a Writer appending to f, which is empty.
func NewWriter(f *os.File) *Writer { return &Writer{f: f} }

// Write writes p to the file.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if err != nil {
		return n, err
	}
	for w.off-w.started >= Window {
		if err := startWriteback(w.f, w.started, Window); err != nil {
			return n, fmt.Errorf("write back %s: %w", w.f.Name(), err)
		}
		w.started += Window
		if end := w.started - 2*Window; end > w.dropped {
			drop(w.f, w.dropped, end-w.dropped)
			w.dropped = end
		}
	}
	return n, nil
}
