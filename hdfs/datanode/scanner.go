package datanode

import (
	"context"
	"errors"
	"time"
)

// Defaults of ScanConfig, HDFS's (dfs.block.scanner.volume.bytes.per.second
// and dfs.datanode.scan.period.hours).
const (
	DefaultScanRate   = 1 << 20
	DefaultScanPeriod = 504 * time.Hour
)

// ScanConfig configures the block scanner.
type ScanConfig struct {
	// BytesPerSecond is how fast the scanner reads replicas; 0 means
	// DefaultScanRate (1 MiB/s).
	BytesPerSecond int64
	// Period is the time from the start of one pass over every replica to
	// the start of the next; 0 means DefaultScanPeriod (three weeks).
	Period time.Duration
}

// RunScanner is the block scanner: until ctx is done it reads every
// finalized replica, at cfg.BytesPerSecond, and checks it against its
// checksums, marking the corrupt ones, which the next block report lists.
// The first pass starts at once; replicas already known corrupt are
// skipped. Run it in its own goroutine.
func (s *Store) RunScanner(ctx context.Context, cfg ScanConfig) {
	if cfg.BytesPerSecond <= 0 {
		cfg.BytesPerSecond = DefaultScanRate
	}
	if cfg.Period <= 0 {
		cfg.Period = DefaultScanPeriod
	}
	limit := newReadLimit(cfg.BytesPerSecond)
	log := s.log.With("scanner", true)
	log.Info("block scanner started", "bytes_per_second", cfg.BytesPerSecond, "period", cfg.Period)
	for {
		start := time.Now()
		scanned, corrupt := 0, 0
		for _, b := range s.Blocks() {
			if ctx.Err() != nil {
				return
			}
			if s.Corrupt(b.Id) {
				continue
			}
			err := s.verify(ctx, b.Id, limit)
			switch {
			case err == nil:
				scanned++
			case errors.Is(err, ErrCorrupt):
				scanned++
				corrupt++ // logged by markCorrupt
			case ctx.Err() != nil:
				return
			case errors.Is(err, ErrNotFound):
				// Deleted since the pass began.
			default:
				log.Warn("block scanner: cannot check replica", "block", b.Id, "err", err)
			}
		}
		log.Debug("block scanner pass done", "replicas", scanned, "corrupt", corrupt, "took", time.Since(start))
		t := time.NewTimer(time.Until(start.Add(cfg.Period)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
