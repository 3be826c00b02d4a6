package mapreduce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
)

// FileSystem is a store of files, addressed by path: the local disk, gomr's
// HDFS, S3. A FileSystems value picks one by the scheme of a path
// (file:// and bare paths, hdfs://, s3://). Every input a step reads and
// every output it writes goes through this contract, so the engine, the
// primary and the workers never care where the bytes are.
//
// Paths are given and returned whole (with their scheme, when they have
// one). A folder is whatever holds files; a store without real folders
// (S3) makes them up from key prefixes.
type FileSystem interface {
	// Stat describes one file or folder; a missing path is an error
	// wrapping ErrNotExist.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// List returns the entries of a folder, sorted by path.
	List(ctx context.Context, dir string) ([]FileInfo, error)
	// Open opens a file for reading at any offset.
	Open(ctx context.Context, path string) (File, error)
	// Create makes a new file (and the folders above it) for writing; the
	// file is complete once Close returns nil, and holds nothing that
	// counts if Abort is called instead.
	Create(ctx context.Context, path string) (FileWriter, error)
	// Rename moves a file or folder; dst must not exist.
	Rename(ctx context.Context, src, dst string) error
	// Delete removes a file, or a folder with everything in it when
	// recursive is set; a missing path is not an error.
	Delete(ctx context.Context, path string, recursive bool) error
	// Committer returns the output committer of a step writing to the
	// folder output of this store.
	Committer(output, stepID string) (Committer, error)
}

// FileInfo describes a file or folder.
type FileInfo struct {
	Path  string
	Size  int64
	IsDir bool
	// ModTime is the last modification, in Unix nanoseconds (0 if the
	// store does not keep one).
	ModTime int64
	// Regular is false for a file that is neither regular nor a folder (a
	// device, a pipe); steps refuse such inputs.
	Regular bool
	// BlockSize is the size of the file's blocks on a store that keeps
	// files in blocks (HDFS); a step cuts such a file into one split per
	// block. 0 elsewhere.
	BlockSize int64
}

// CounterSource is implemented by files and task outputs that count what
// they move (HDFS_BYTES_READ, ...); a task adds their counters to its own.
type CounterSource interface {
	Counters() map[string]int64
}

// LocalityReporter is implemented by files of a store that knows where
// its data lives (HDFS): whether what was read came from the reader's own
// node. A map task counts itself in DataLocalMaps or OtherLocalMaps.
type LocalityReporter interface {
	ReadLocal() bool
}

// File is an open file.
type File interface {
	io.ReaderAt
	io.Closer
	// Info describes the file as it is now.
	Info(ctx context.Context) (FileInfo, error)
}

// FileWriter is a file being written.
type FileWriter interface {
	io.Writer
	// Close completes the file and makes it durable.
	Close() error
	// Abort discards the file; it is a no-op after a successful Close.
	Abort()
}

// Errors of file systems.
var (
	// ErrNotExist is wrapped by errors about paths that do not exist.
	ErrNotExist = errors.New("no such file or directory")
	// ErrExist is wrapped by errors about paths that exist already.
	ErrExist = errors.New("file exists")
	// ErrNoScheme is returned for a path whose scheme no file system of
	// this process serves.
	ErrNoScheme = errors.New("unsupported file system")
)

// ErrNoInput is returned when an input path names nothing.
var ErrNoInput = ErrNotExist

// Scheme returns the scheme of a path: "file" for bare paths, else what
// precedes "://".
func Scheme(p string) string {
	if i := strings.Index(p, "://"); i > 0 && !strings.ContainsAny(p[:i], "/") {
		return strings.ToLower(p[:i])
	}
	return "file"
}

// FileSystems resolves paths to the file system of their scheme. It is
// safe for concurrent use.
type FileSystems struct {
	mu sync.RWMutex
	m  map[string]FileSystem
}

// NewFileSystems returns a registry holding the given file systems by
// scheme.
func NewFileSystems(byScheme map[string]FileSystem) *FileSystems {
	f := &FileSystems{m: make(map[string]FileSystem)}
	for s, fs := range byScheme {
		f.m[s] = fs
	}
	return f
}

// Register adds (or replaces) the file system of a scheme.
func (f *FileSystems) Register(scheme string, fs FileSystem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[scheme] = fs
}

// With returns a copy of the registry that also serves a scheme, unless
// it served it already.
func (f *FileSystems) With(scheme string, fs FileSystem) *FileSystems {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if _, ok := f.m[scheme]; ok {
		return f
	}
	c := NewFileSystems(f.m)
	c.m[scheme] = fs
	return c
}

// For returns the file system a path belongs to.
func (f *FileSystems) For(p string) (FileSystem, error) {
	s := Scheme(p)
	f.mu.RLock()
	fs, ok := f.m[s]
	f.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("path %s: %w %q (this cluster serves %s)", p, ErrNoScheme, s+"://", strings.Join(f.schemes(), ", "))
	}
	return fs, nil
}

func (f *FileSystems) schemes() []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []string
	for s := range f.m {
		out = append(out, s+"://")
	}
	slices.Sort(out)
	return out
}

// Overwriter is a FileSystem whose steps may replace what their output
// holds (a step submitted with --overwrite).
type Overwriter interface {
	// CommitterOverwrite is Committer for a step that overwrites output:
	// its CheckOutput accepts an output that exists, and SetupJob removes
	// what it holds.
	CommitterOverwrite(output, stepID string) (Committer, error)
}

// Committer returns the output committer of a step writing to output.
func (f *FileSystems) Committer(output, stepID string) (Committer, error) {
	return f.CommitterFor(output, stepID, false)
}

// CommitterFor returns the output committer of a step writing to output,
// one that overwrites it if overwrite is set.
func (f *FileSystems) CommitterFor(output, stepID string, overwrite bool) (Committer, error) {
	fs, err := f.For(output)
	if err != nil {
		return nil, err
	}
	if !overwrite {
		return fs.Committer(output, stepID)
	}
	o, ok := fs.(Overwriter)
	if !ok {
		return nil, fmt.Errorf("output %s: %s:// outputs cannot be overwritten; remove it first", output, Scheme(output))
	}
	return o.CommitterOverwrite(output, stepID)
}

// Open opens a file by path.
func (f *FileSystems) Open(ctx context.Context, p string) (File, error) {
	fs, err := f.For(p)
	if err != nil {
		return nil, err
	}
	return fs.Open(ctx, p)
}

// Stat describes a path.
func (f *FileSystems) Stat(ctx context.Context, p string) (FileInfo, error) {
	fs, err := f.For(p)
	if err != nil {
		return FileInfo{}, err
	}
	return fs.Stat(ctx, p)
}

// Join joins a folder path and a slash-separated name in it, keeping the
// folder's scheme.
func Join(dir, name string) string {
	if name == "" {
		return dir
	}
	return strings.TrimSuffix(dir, "/") + "/" + strings.TrimPrefix(name, "/")
}

// Rel returns p relative to the folder dir (slash-separated), or false if
// p is not inside it.
func Rel(dir, p string) (string, bool) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	if !strings.HasPrefix(p, prefix) {
		return "", false
	}
	return p[len(prefix):], true
}

// Base returns the last element of a path.
func Base(p string) string { return path.Base(strings.TrimSuffix(p, "/")) }

// Walk calls fn for every file under root (a file or a folder), in path
// order, skipping the names that start with "_" or "." inside it, as
// Hadoop does. rel is the file's path relative to root ("" for root).
func Walk(ctx context.Context, fs FileSystem, root FileInfo, fn func(f FileInfo, rel string) error) error {
	if !root.IsDir {
		return fn(root, "")
	}
	var walk func(dir FileInfo) error
	walk = func(dir FileInfo) error {
		entries, err := fs.List(ctx, dir.Path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if isHidden(Base(e.Path)) {
				continue
			}
			if e.IsDir {
				if err := walk(e); err != nil {
					return err
				}
				continue
			}
			rel, _ := Rel(root.Path, e.Path)
			if err := fn(e, rel); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

// Glob returns the paths matching a pattern whose last elements may hold
// the wildcards * ? [...] (path.Match), sorted. A path without wildcards
// is returned as it is.
func Glob(ctx context.Context, fs FileSystem, pattern string) ([]string, error) {
	i := strings.IndexAny(pattern, "*?[")
	if i < 0 {
		return []string{pattern}, nil
	}
	base := pattern[:strings.LastIndex(pattern[:i], "/")+1]
	rest := strings.Split(strings.TrimPrefix(pattern, base), "/")
	top := strings.TrimSuffix(base, "/")
	if base == "/" {
		top = "/"
	}
	matches := []string{top}
	for _, elem := range rest {
		if _, err := path.Match(elem, ""); err != nil {
			return nil, fmt.Errorf("bad glob %s: %w", pattern, err)
		}
		var next []string
		for _, dir := range matches {
			if !strings.ContainsAny(elem, "*?[") {
				next = append(next, Join(dir, elem))
				continue
			}
			entries, err := fs.List(ctx, dir)
			if err != nil {
				if errors.Is(err, ErrNotExist) {
					continue
				}
				return nil, err
			}
			for _, e := range entries {
				if ok, _ := path.Match(elem, Base(e.Path)); ok {
					next = append(next, e.Path)
				}
			}
		}
		matches = next
	}
	var out []string
	for _, m := range matches {
		if _, err := fs.Stat(ctx, m); err == nil {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out, nil
}
