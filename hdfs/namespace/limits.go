package namespace

import (
	"errors"
	"fmt"
)

// Limits and defaults of replication and block size.
const (
	// MaxReplication is the largest replication factor a file may ask for
	// (HDFS's dfs.replication.max).
	MaxReplication = 512

	// DefaultBlockSize is the block size of a file that asks for none:
	// 128 MiB, as Hadoop 2 and later.
	DefaultBlockSize int64 = 128 << 20

	// BlockSizeUnit is what every block size is a multiple of: the bytes
	// one checksum covers (hdfs.ChunkSize, HDFS's dfs.bytes-per-checksum),
	// so a block is a whole number of checksummed chunks. It is also the
	// smallest block size, which tests use.
	BlockSizeUnit int64 = 512

	// MaxBlockSize is the largest block size: 2 GiB.
	MaxBlockSize int64 = 2 << 30
)

// ErrBadReplication is wrapped by every error ValidateReplication returns.
var ErrBadReplication = errors.New("bad replication")

// ErrBadBlockSize is wrapped by every error ValidateBlockSize returns.
var ErrBadBlockSize = errors.New("bad block size")

// DefaultReplication is the replication factor of a file that asks for
// none on a cluster with liveCoreWorkers live core workers, by EMR's rule
// for dfs.replication: 1 below 4 core nodes, 2 below 10, 3 from 10 on.
// The rule never exceeds the live core workers when there is at least one;
// with none (or a negative count) it is 1, so that a file can be created
// and its blocks written once a core worker joins.
func DefaultReplication(liveCoreWorkers int) int {
	switch {
	case liveCoreWorkers < 4:
		return 1
	case liveCoreWorkers < 10:
		return 2
	default:
		return 3
	}
}

// ValidateReplication checks a replication factor r asked for on a
// cluster with liveCore live core workers: it must be 1 to MaxReplication
// and not more than the live core workers, since each replica of a block
// is on a different one. The error wraps ErrBadReplication and names both
// numbers.
func ValidateReplication(r, liveCore int) error {
	if r < 1 || r > MaxReplication {
		return fmt.Errorf("%w %d: not in 1..%d", ErrBadReplication, r, MaxReplication)
	}
	if liveCore < 0 {
		liveCore = 0
	}
	if r > liveCore {
		workers := "workers"
		if liveCore == 1 {
			workers = "worker"
		}
		return fmt.Errorf("%w %d: more than the %d live core %s", ErrBadReplication, r, liveCore, workers)
	}
	return nil
}

// ValidateBlockSize checks a block size n: it must be a positive multiple
// of BlockSizeUnit (512) bytes, so at least 512 bytes, and at most
// MaxBlockSize (2 GiB). The error wraps ErrBadBlockSize and names n.
func ValidateBlockSize(n int64) error {
	switch {
	case n < BlockSizeUnit:
		return fmt.Errorf("%w %d: less than the smallest, %d bytes", ErrBadBlockSize, n, BlockSizeUnit)
	case n > MaxBlockSize:
		return fmt.Errorf("%w %d: more than the largest, %d bytes (2 GiB)", ErrBadBlockSize, n, MaxBlockSize)
	case n%BlockSizeUnit != 0:
		return fmt.Errorf("%w %d: not a multiple of %d bytes", ErrBadBlockSize, n, BlockSizeUnit)
	}
	return nil
}
