package mapreduce

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// DefaultSplitSize is the split size used when a step names none (64 MiB,
// Hadoop's default block size).
const DefaultSplitSize = 64 << 20

// splitSlop lets the last piece of a file join the previous split when it is
// under 10% of a split, as Hadoop's FileInputFormat does.
const splitSlop = 1.1

// sniffBytes is how much of each input file ListInputs reads to refuse a
// binary file before a step starts.
const sniffBytes = 8 << 10

// InputFile is one file a step reads.
type InputFile struct {
	// Path is the file's path as found (absolute when the input was).
	Path string
	// Size is the file's length in bytes when it was listed.
	Size int64
	// ModTime is the file's modification time when it was listed, in Unix
	// nanoseconds.
	ModTime int64
	// Doc is the file's document name: its slash-separated path relative to
	// the input folder it was found under, or its base name when it was named
	// directly or matched by a glob.
	Doc string
}

// Split is a byte range of one input file, the unit of work of a map task.
// It carries the file's size and modification time when the step was
// planned, so that a map task can tell that the file changed since.
type Split struct {
	File   string `json:"file"`
	Doc    string `json:"doc"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	// FileSize and ModTime are the whole file's size and modification time
	// (Unix nanoseconds) when it was listed; 0 when unknown.
	FileSize int64 `json:"file_size,omitempty"`
	ModTime  int64 `json:"mod_time,omitempty"`
}

// ErrNoInput is returned when an input path names nothing.
var ErrNoInput = errors.New("no such file or directory")

// ListInputs expands input paths into the files a step reads. A path may be
// a file, a folder (read recursively, skipping names that start with "_" or
// ".", as Hadoop does) or a glob. Every file is opened and its first bytes
// read, so a missing, unreadable, non-regular or binary file is refused here
// with an error naming it, before any task runs.
func ListInputs(paths []string) ([]InputFile, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no input paths given")
	}
	var files []InputFile
	for _, p := range paths {
		found, err := listPath(p)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	for _, f := range files {
		if err := checkReadableText(f.Path); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func listPath(p string) ([]InputFile, error) {
	if strings.ContainsAny(p, "*?[") {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("input %s: bad glob: %w", p, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("input %s: no files match: %w", p, ErrNoInput)
		}
		var files []InputFile
		for _, m := range matches {
			found, err := listPath(m)
			if err != nil {
				return nil, err
			}
			files = append(files, found...)
		}
		return files, nil
	}
	info, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("input %s: %w", p, ErrNoInput)
		}
		return nil, fmt.Errorf("input %s: %w", p, err)
	}
	if info.Mode().IsRegular() {
		return []InputFile{{Path: p, Size: info.Size(), ModTime: info.ModTime().UnixNano(), Doc: filepath.Base(p)}}, nil
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("input %s: not a regular file or folder (%s)", p, info.Mode().Type())
	}
	var files []InputFile
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("input %s: %w", path, err)
		}
		if path != p && isHidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("input %s: %w", path, err)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("input %s: not a regular file (%s)", path, info.Mode().Type())
		}
		rel, err := filepath.Rel(p, path)
		if err != nil {
			return fmt.Errorf("input %s: %w", path, err)
		}
		files = append(files, InputFile{Path: path, Size: info.Size(), ModTime: info.ModTime().UnixNano(), Doc: filepath.ToSlash(rel)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// isHidden reports whether a name inside an input folder is skipped: Hadoop's
// rule for marker files such as _SUCCESS and dot-files.
func isHidden(name string) bool {
	return strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")
}

// checkReadableText opens a file and reads its first bytes, refusing it when
// it cannot be read or holds a NUL byte there (a binary file).
func checkReadableText(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("input %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, sniffBytes)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("input %s: %w", path, err)
	}
	if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
		return fmt.Errorf("input %s: byte offset %d: %w", path, i, ErrBinaryInput)
	}
	return nil
}

// CountSplits returns how many splits PlanSplits would make, without
// making them (so that an absurd split size is refused cheaply).
func CountSplits(files []InputFile, splitSize int64) int64 {
	if splitSize <= 0 {
		return 0
	}
	var n int64
	for _, f := range files {
		// PlanSplits takes full splits while more than splitSlop splits
		// remain, then one split of the rest.
		full := max(0, int64(math.Ceil((float64(f.Size)-splitSlop*float64(splitSize))/float64(splitSize))))
		for full > 0 && float64(f.Size-(full-1)*splitSize)/float64(splitSize) <= splitSlop {
			full--
		}
		for float64(f.Size-full*splitSize)/float64(splitSize) > splitSlop {
			full++
		}
		n += full
		if f.Size-full*splitSize > 0 {
			n++
		}
	}
	return n
}

// PlanSplits cuts files into splits of at most splitSize bytes; a last piece
// under 10% of splitSize joins the previous split. Empty files yield no split.
func PlanSplits(files []InputFile, splitSize int64) ([]Split, error) {
	if splitSize <= 0 {
		return nil, fmt.Errorf("split size must be positive, got %d", splitSize)
	}
	var splits []Split
	for _, f := range files {
		remaining := f.Size
		off := int64(0)
		for float64(remaining)/float64(splitSize) > splitSlop {
			splits = append(splits, Split{File: f.Path, Doc: f.Doc, Offset: off, Length: splitSize, FileSize: f.Size, ModTime: f.ModTime})
			off += splitSize
			remaining -= splitSize
		}
		if remaining > 0 {
			splits = append(splits, Split{File: f.Path, Doc: f.Doc, Offset: off, Length: remaining, FileSize: f.Size, ModTime: f.ModTime})
		}
	}
	return splits, nil
}
