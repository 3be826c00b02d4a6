//go:build !linux

package worker

// DefaultMapOutputCacheBytes is 2 GiB where the machine's memory is not
// read.
func DefaultMapOutputCacheBytes() int64 { return 2 << 30 }
