package datanode

import (
	"github.com/gomr/gomr/hdfs"
	"golang.org/x/time/rate"
)

// readLimit paces a reader to a number of bytes per second: it reads size
// bytes at a time (whole chunks, at most one message), each read waiting
// for as many tokens of a bucket that holds one read's worth.
type readLimit struct {
	lim  *rate.Limiter
	size int
}

// newReadLimit returns a pace of bytesPerSecond (which must be positive).
func newReadLimit(bytesPerSecond int64) *readLimit {
	size := int(min(max(bytesPerSecond/hdfs.ChunkSize*hdfs.ChunkSize, hdfs.ChunkSize), messageSize))
	return &readLimit{lim: rate.NewLimiter(rate.Limit(bytesPerSecond), size), size: size}
}
