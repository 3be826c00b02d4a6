package datanode

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"golang.org/x/sys/unix"
)

// Errors of the block store. They are wrapped with the block and the
// operation; test for them with errors.Is.
var (
	// ErrNotFound is returned for a block this store holds no finalized
	// replica of.
	ErrNotFound = errors.New("block not found")
	// ErrExists is returned when creating a block that is already stored
	// here or being written.
	ErrExists = errors.New("block already exists")
	// ErrCorrupt is returned when a stored replica fails its checksums or
	// its meta file is damaged; the replica is then marked corrupt and the
	// next block report lists it. Errors for a bad chunk also wrap an
	// *hdfs.ChecksumError (and so hdfs.ErrChecksum) giving its byte offset
	// in the block.
	ErrCorrupt = errors.New("corrupt replica")
	// ErrInvalid is returned for a malformed request or stream: a bad
	// length, data that is not in whole chunks, a length different from
	// the one announced.
	ErrInvalid = errors.New("invalid request")
	// ErrOutOfRange is returned when reading a range that is not inside
	// the block.
	ErrOutOfRange = errors.New("range outside the block")
	// ErrClosed is returned when creating a block in a closed store.
	ErrClosed = errors.New("block store closed")
)

// Folders and files under a store's folder (see the package doc).
const (
	currentDir = "current"
	rbwDir     = "rbw"
	lockFile   = "in_use.lock"
	blockPre   = "blk_"
	metaSuffix = ".meta"
)

// Config configures a Store.
type Config struct {
	// Dir is the store's folder, for example DATA/hdfs. It is made if
	// missing.
	Dir string
	// Worker is the id of the worker the store belongs to. It names the
	// worker in errors and in the stored list of block writes.
	Worker string
	// Logger receives the store's logs; nil means slog.Default().
	Logger *slog.Logger
}

// replica is a finalized replica held by a store.
type replica struct {
	length  int64
	corrupt bool
}

// size is the disk space the replica takes, block and meta file.
func (r *replica) size() int64 { return r.length + metaSize(r.length) }

// Store is the set of block replicas kept in one folder. It is safe for
// concurrent use.
type Store struct {
	dir    string
	worker string
	log    *slog.Logger
	lock   *os.File

	mu       sync.Mutex
	closed   bool
	replicas map[int64]*replica
	writing  map[int64]bool // ids with a BlockWriter open
	used     int64          // bytes of the finalized replicas' files
	seq      int64          // number of the last report
	// Changes since the last report.
	added      map[int64]bool
	deleted    map[int64]bool
	newCorrupt map[int64]bool
}

// Open opens the store in cfg.Dir, making the folder if need be. It takes
// the folder's lock (a second Store cannot open it until Close), removes
// the replicas a crash left half-written in rbw/ and the meta files left
// without their block in current/, and lists the finalized replicas in
// current/ with their lengths. Replicas whose meta file is missing or
// damaged are listed as corrupt.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("open block store: no folder given")
	}
	if cfg.Worker == "" {
		return nil, fmt.Errorf("open block store %s: no worker id given", cfg.Dir)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Store{
		dir:        cfg.Dir,
		worker:     cfg.Worker,
		log:        log.With("worker", cfg.Worker),
		replicas:   make(map[int64]*replica),
		writing:    make(map[int64]bool),
		added:      make(map[int64]bool),
		deleted:    make(map[int64]bool),
		newCorrupt: make(map[int64]bool),
	}
	for _, d := range []string{currentDir, rbwDir} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("open block store: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open block store: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("open block store %s: in use by another store: %w", s.dir, err)
	}
	s.lock = lock
	if err := s.clearRBW(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open block store %s: %w", s.dir, err)
	}
	if err := s.load(); err != nil {
		s.Close()
		return nil, fmt.Errorf("open block store %s: %w", s.dir, err)
	}
	s.log.Info("block store open", "dir", s.dir, "blocks", len(s.replicas), "used", s.used)
	return s, nil
}

// clearRBW removes every replica left being written by an earlier run.
func (s *Store) clearRBW() error {
	dir := filepath.Join(s.dir, rbwDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clear %s: %w", rbwDir, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clear %s: %w", rbwDir, err)
		}
		s.log.Warn("removed unfinished replica left by a crash", "file", filepath.Join(rbwDir, e.Name()))
	}
	return nil
}

// load lists the finalized replicas of current/.
func (s *Store) load() error {
	dir := filepath.Join(s.dir, currentDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list replicas: %w", err)
	}
	data := map[int64]bool{}
	meta := map[int64]bool{}
	for _, e := range entries {
		id, isMeta, ok := parseName(e.Name())
		if !ok || !e.Type().IsRegular() {
			s.log.Warn("unknown file among the replicas, left alone", "file", filepath.Join(currentDir, e.Name()))
			continue
		}
		if isMeta {
			meta[id] = true
		} else {
			data[id] = true
		}
	}
	for id := range meta {
		if data[id] {
			continue
		}
		// A crash during finalize or delete: the meta file alone is debris.
		if err := os.Remove(s.metaPath(id)); err != nil {
			return fmt.Errorf("remove meta file without its block: %w", err)
		}
		s.log.Warn("removed meta file without its block", "block", id)
	}
	for id := range data {
		fi, err := os.Stat(s.dataPath(id))
		if err != nil {
			return fmt.Errorf("list replicas: %w", err)
		}
		r := &replica{length: fi.Size()}
		if !meta[id] {
			r.corrupt = true
			s.log.Warn("replica has no meta file: corrupt", "block", id)
		} else if err := checkMetaFile(s.metaPath(id), r.length); err != nil {
			r.corrupt = true
			s.log.Warn("replica's meta file is damaged: corrupt", "block", id, "err", err)
		}
		s.replicas[id] = r
		s.used += r.size()
		if r.corrupt {
			s.newCorrupt[id] = true
		}
	}
	return nil
}

// parseName parses "blk_<id>" and "blk_<id>.meta".
func parseName(name string) (id int64, isMeta, ok bool) {
	rest, found := strings.CutPrefix(name, blockPre)
	if !found {
		return 0, false, false
	}
	rest, isMeta = strings.CutSuffix(rest, metaSuffix)
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || strconv.FormatInt(id, 10) != rest {
		return 0, false, false
	}
	return id, isMeta, true
}

func (s *Store) dataPath(id int64) string {
	return filepath.Join(s.dir, currentDir, blockPre+strconv.FormatInt(id, 10))
}

func (s *Store) metaPath(id int64) string { return s.dataPath(id) + metaSuffix }

// Dir returns the store's folder.
func (s *Store) Dir() string { return s.dir }

// Worker returns the id of the worker the store belongs to.
func (s *Store) Worker() string { return s.worker }

// Close releases the store's folder. Blocks can no longer be created;
// call it once the Server and the scanner over the store have stopped.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.lock.Close(); err != nil { // closing the file drops the flock
		return fmt.Errorf("close block store %s: %w", s.dir, err)
	}
	return nil
}

// Blocks returns every finalized replica (corrupt ones too), by id.
func (s *Store) Blocks() []*hdfspb.Block {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocksLocked(slices.Collect(maps.Keys(s.replicas)))
}

// blocksLocked describes the replicas of ids that are still held, by id.
func (s *Store) blocksLocked(ids []int64) []*hdfspb.Block {
	slices.Sort(ids)
	out := make([]*hdfspb.Block, 0, len(ids))
	for _, id := range ids {
		if r, ok := s.replicas[id]; ok {
			out = append(out, &hdfspb.Block{Id: id, Length: r.length})
		}
	}
	return out
}

// Has reports whether the store holds a finalized replica of block id.
func (s *Store) Has(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.replicas[id]
	return ok
}

// Corrupt reports whether the store holds a replica of block id that was
// found corrupt.
func (s *Store) Corrupt(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.replicas[id]
	return ok && r.corrupt
}

// Delete removes the replicas of the blocks ids. Blocks not held (or only
// being written) are skipped: a delete command may repeat.
func (s *Store) Delete(ids ...int64) error {
	var errs []error
	for _, id := range ids {
		if err := s.delete(id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Store) delete(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock() // held over the unlinks, so a new replica of id cannot be renamed in meanwhile
	r, ok := s.replicas[id]
	if !ok {
		s.log.Debug("delete: no replica", "block", id)
		return nil
	}
	delete(s.replicas, id)
	s.used -= r.size()
	delete(s.added, id)
	delete(s.newCorrupt, id)
	s.deleted[id] = true
	var errs []error
	for _, p := range []string{s.dataPath(id), s.metaPath(id)} { // block first: see the package doc
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete block %d: %w", id, err)
	}
	s.log.Info("deleted replica", "block", id, "length", r.length)
	return nil
}

// Report returns the next block report and starts a new interval of
// changes. A full report lists every finalized replica and every replica
// found corrupt; otherwise it lists the replicas added and deleted since
// the last report (of either kind) and those found corrupt since then.
// Capacity and remaining space come from the file system of the store's
// folder, used from the replicas' files. Reports are numbered from 1 by
// seq.
func (s *Store) Report(full bool) *hdfspb.BlockReport {
	s.mu.Lock()
	s.seq++
	r := &hdfspb.BlockReport{Full: full, Seq: s.seq, Used: s.used}
	if full {
		r.Blocks = s.blocksLocked(slices.Collect(maps.Keys(s.replicas)))
		for id, rep := range s.replicas {
			if rep.corrupt {
				r.Corrupt = append(r.Corrupt, id)
			}
		}
	} else {
		r.Blocks = s.blocksLocked(slices.Collect(maps.Keys(s.added)))
		r.Deleted = slices.Collect(maps.Keys(s.deleted))
		r.Corrupt = slices.Collect(maps.Keys(s.newCorrupt))
	}
	clear(s.added)
	clear(s.deleted)
	clear(s.newCorrupt)
	s.mu.Unlock()
	slices.Sort(r.Deleted)
	slices.Sort(r.Corrupt)

	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		s.log.Warn("block report: cannot read the disk's capacity", "err", err)
	} else {
		r.Capacity = int64(st.Blocks) * int64(st.Bsize)
		r.Remaining = int64(st.Bavail) * int64(st.Bsize)
	}
	return r
}

// markCorrupt marks the replica r of block id corrupt, if it is still the
// replica held for id.
func (s *Store) markCorrupt(id int64, r *replica, why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replicas[id] != r || r.corrupt {
		return
	}
	r.corrupt = true
	s.newCorrupt[id] = true
	s.log.Warn("replica is corrupt", "block", id, "err", why)
}

// syncDir fsyncs a folder, making renames into it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
