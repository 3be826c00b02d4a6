package mapreduce

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomr/gomr/hdfs/pagecache"
)

// LocalFS is the local disk as a file system: bare absolute paths and
// file:// URIs. Its output committer is LocalCommitter. On a cluster of
// several hosts, a local path must name a filesystem every node mounts.
// The zero value is ready to use.
type LocalFS struct{}

// LocalFileSystems returns a registry serving local paths only.
func LocalFileSystems() *FileSystems {
	return NewFileSystems(map[string]FileSystem{"file": LocalFS{}})
}

// LocalPath returns the local path of a bare path or a file:// URI.
func LocalPath(p string) (string, error) {
	if rest, ok := strings.CutPrefix(p, "file://"); ok {
		p = rest
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("path %q is not an absolute path", p)
	}
	return filepath.Clean(p), nil
}

func localInfo(p string, fi fs.FileInfo) FileInfo {
	return FileInfo{Path: p, Size: fi.Size(), IsDir: fi.IsDir(), ModTime: fi.ModTime().UnixNano(), Regular: fi.Mode().IsRegular() || fi.IsDir()}
}

func wrapLocal(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", p, ErrNotExist)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", p, ErrExist)
	}
	return err
}

// Stat implements FileSystem.
func (LocalFS) Stat(_ context.Context, p string) (FileInfo, error) {
	lp, err := LocalPath(p)
	if err != nil {
		return FileInfo{}, err
	}
	fi, err := os.Stat(lp)
	if err != nil {
		return FileInfo{}, wrapLocal(p, err)
	}
	return localInfo(p, fi), nil
}

// List implements FileSystem.
func (LocalFS) List(_ context.Context, dir string) ([]FileInfo, error) {
	lp, err := LocalPath(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(lp)
	if err != nil {
		return nil, wrapLocal(dir, err)
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		p := Join(dir, e.Name())
		fi, err := os.Stat(filepath.Join(lp, e.Name())) // follow links, as opening would
		if err != nil {
			return nil, wrapLocal(p, err)
		}
		out = append(out, localInfo(p, fi))
	}
	return out, nil
}

// localFile is an open local file.
type localFile struct {
	*os.File
	path string
}

func (f localFile) Info(context.Context) (FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return FileInfo{}, err
	}
	return localInfo(f.path, fi), nil
}

// Open implements FileSystem.
func (LocalFS) Open(_ context.Context, p string) (File, error) {
	lp, err := LocalPath(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(lp)
	if err != nil {
		return nil, wrapLocal(p, err)
	}
	return localFile{File: f, path: p}, nil
}

// localWriter is a local file being written; Close syncs it to disk.
type localWriter struct {
	f      *os.File
	behind *pagecache.Writer
	path   string
	closed bool
}

// Write writes behind the page cache: a step does not read its output
// again, and a large one would fill the cache.
func (w *localWriter) Write(p []byte) (int, error) { return w.behind.Write(p) }

func (w *localWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.behind.Close()
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fmt.Errorf("sync %s: %w", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", w.path, err)
	}
	return nil
}

func (w *localWriter) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.behind.Close()
	w.f.Close()
	os.Remove(w.f.Name())
}

// Create implements FileSystem.
func (LocalFS) Create(_ context.Context, p string) (FileWriter, error) {
	lp, err := LocalPath(p)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", p, err)
	}
	f, err := os.OpenFile(lp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, wrapLocal(p, err)
	}
	return &localWriter{f: f, behind: pagecache.NewWriter(f), path: p}, nil
}

// Rename implements FileSystem.
func (LocalFS) Rename(_ context.Context, src, dst string) error {
	ls, err := LocalPath(src)
	if err != nil {
		return err
	}
	ld, err := LocalPath(dst)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(ld); err == nil {
		return fmt.Errorf("rename %s to %s: %w", src, dst, ErrExist)
	}
	if err := os.MkdirAll(filepath.Dir(ld), 0o755); err != nil {
		return fmt.Errorf("rename %s to %s: %w", src, dst, err)
	}
	if err := os.Rename(ls, ld); err != nil {
		return wrapLocal(src, err)
	}
	return nil
}

// Delete implements FileSystem.
func (LocalFS) Delete(_ context.Context, p string, recursive bool) error {
	lp, err := LocalPath(p)
	if err != nil {
		return err
	}
	if recursive {
		return os.RemoveAll(lp)
	}
	if err := os.Remove(lp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Committer implements FileSystem.
func (LocalFS) Committer(output, stepID string) (Committer, error) {
	lp, err := LocalPath(output)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	return &LocalCommitter{out: lp, stepID: stepID}, nil
}

// CommitterOverwrite implements Overwriter.
func (LocalFS) CommitterOverwrite(output, stepID string) (Committer, error) {
	lp, err := LocalPath(output)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	return &LocalCommitter{out: lp, stepID: stepID, overwrite: true}, nil
}

// sortedNames returns the keys of a set, sorted.
func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
