package pagecache

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback has the kernel start writing n bytes of f from off to
// disk, without waiting for it. It is advice too: what it does not start
// the kernel writes back on its own.
func startWriteback(f *os.File, off, n int64) {
	unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// drop asks the kernel to drop clean cached pages of n bytes of f from
// off. It is advice: a failure loses nothing.
func drop(f *os.File, off, n int64) {
	unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
