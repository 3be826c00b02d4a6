package mapreduce

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/gomr/gomr/mapreduce/format"
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
	// BlockSize, when the file is stored in blocks (HDFS), makes each
	// block one split, whatever the step's split size.
	BlockSize int64
	// Doc is the file's document name: its slash-separated path relative to
	// the input folder it was found under, or its base name when it was named
	// directly or matched by a glob.
	Doc string
	// Parquet is set by ListInputs for a file that starts with Parquet's
	// magic bytes ("PAR1").
	Parquet bool
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
	// More are further whole files of a split of a job that maps whole
	// files (FileMapper), after the one above.
	More []SplitFile `json:"more,omitempty"`
}

// TinySplitBytes is the most a tiny split reads (all its files): a task
// of one such is mostly the bookkeeping of its start and end, so workers
// run several beside their slots and hold its map output in memory.
const TinySplitBytes = 64 << 10

// Tiny reports whether s reads at most TinySplitBytes (and is a split at
// all: nil is not tiny).
func (s *Split) Tiny() bool {
	if s == nil || s.Length <= 0 {
		return false
	}
	size := s.Length
	for _, f := range s.More {
		size += f.FileSize
	}
	return size <= TinySplitBytes
}

// SplitFile is one more whole file of a split (see Split.More).
type SplitFile struct {
	File     string `json:"file"`
	Doc      string `json:"doc"`
	FileSize int64  `json:"file_size"`
	ModTime  int64  `json:"mod_time,omitempty"`
}

// Files returns every file of a whole-file split, the first one included.
func (s Split) Files() []SplitFile {
	return append([]SplitFile{{File: s.File, Doc: s.Doc, FileSize: s.FileSize, ModTime: s.ModTime}}, s.More...)
}

// WholeFileSplit returns the split of a FileMapper's task reading files
// whole.
func WholeFileSplit(files []InputFile) Split {
	s := Split{File: files[0].Path, Doc: files[0].Doc, FileSize: files[0].Size, ModTime: files[0].ModTime}
	for _, f := range files {
		s.Length += f.Size
	}
	for _, f := range files[1:] {
		s.More = append(s.More, SplitFile{File: f.Path, Doc: f.Doc, FileSize: f.Size, ModTime: f.ModTime})
	}
	return s
}

// ListInputs expands input paths into the files a step reads. A path may be
// a file, a folder (read recursively, skipping names that start with "_" or
// ".", as Hadoop does) or a glob, on any file system of fss. Every file is
// opened and its first bytes read, so a missing, unreadable, non-regular or
// binary file is refused here with an error naming it, before any task
// runs.
func ListInputs(ctx context.Context, fss *FileSystems, paths []string) ([]InputFile, error) {
	files, err := ListFiles(ctx, fss, paths)
	if err != nil {
		return nil, err
	}
	for i := range files {
		if files[i].Parquet, err = checkReadable(ctx, fss, files[i].Path); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// ListFiles expands input paths into files as ListInputs does, without
// reading them: for jobs that copy files whatever they hold.
func ListFiles(ctx context.Context, fss *FileSystems, paths []string) ([]InputFile, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no input paths given")
	}
	var files []InputFile
	for _, p := range paths {
		found, err := listPath(ctx, fss, p)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	return files, nil
}

func listPath(ctx context.Context, fss *FileSystems, p string) ([]InputFile, error) {
	fs, err := fss.For(p)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", p, err)
	}
	matches, err := Glob(ctx, fs, p)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", p, err)
	}
	globbed := strings.ContainsAny(p, "*?[")
	if globbed && len(matches) == 0 {
		return nil, fmt.Errorf("input %s: no files match: %w", p, ErrNoInput)
	}
	var files []InputFile
	for _, m := range matches {
		info, err := fs.Stat(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("input %w", err)
		}
		if !info.Regular {
			return nil, fmt.Errorf("input %s: not a regular file or folder", m)
		}
		var bad error
		err = Walk(ctx, fs, info, func(f FileInfo, rel string) error {
			if !f.Regular {
				bad = fmt.Errorf("input %s: not a regular file", f.Path)
				return bad
			}
			doc := rel
			if rel == "" {
				doc = Base(f.Path)
			}
			files = append(files, InputFile{Path: f.Path, Size: f.Size, ModTime: f.ModTime, BlockSize: f.BlockSize, Doc: doc})
			return nil
		})
		if bad != nil {
			return nil, bad
		}
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", m, err)
		}
	}
	return files, nil
}

// isHidden reports whether a name inside an input folder is skipped: Hadoop's
// rule for marker files such as _SUCCESS and dot-files.
func isHidden(name string) bool {
	return strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")
}

// checkReadable opens a file and reads its first bytes, refusing it when
// it cannot be read or holds a NUL byte there (a binary file). A
// compressed file (.gz, .bz2, .zst) is checked on the first bytes of its
// decompressed data, and a file that starts with Parquet's magic bytes is
// accepted as Parquet (reported true); its footer is checked when a step
// reading Parquet is planned.
func checkReadable(ctx context.Context, fss *FileSystems, path string) (parquet bool, err error) {
	f, err := fss.Open(ctx, path)
	if err != nil {
		return false, fmt.Errorf("input %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, sniffBytes)
	var n int
	if codec, ok := format.CodecFor(path); ok {
		n, err = sniffCompressed(f, codec, buf)
		if err != nil {
			return false, fmt.Errorf("input %s: %w", path, err)
		}
	} else {
		n, err = f.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			return false, fmt.Errorf("input %s: %w", path, err)
		}
		if isParquetMagic(buf[:n]) {
			return true, nil
		}
	}
	if i := bytes.IndexByte(buf[:n], 0); i >= 0 {
		return false, fmt.Errorf("input %s: byte offset %d: %w", path, i, ErrBinaryInput)
	}
	return false, nil
}

// CountSplits returns how many splits PlanSplits would make, without
// making them (so that an absurd split size is refused cheaply).
func CountSplits(files []InputFile, splitSize int64) int64 {
	if splitSize <= 0 {
		return 0
	}
	var n int64
	for _, f := range files {
		if !Splittable(f.Path) {
			n += min(1, f.Size)
			continue
		}
		if f.BlockSize > 0 {
			n += (f.Size + f.BlockSize - 1) / f.BlockSize
			continue
		}
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
// under 10% of splitSize joins the previous split. A file stored in blocks
// (HDFS) is cut at its blocks instead, one split per block, so that a map
// can run where its block is. A compressed file (see Splittable) is one
// split, whatever its size. Empty files yield no split.
func PlanSplits(files []InputFile, splitSize int64) ([]Split, error) {
	if splitSize <= 0 {
		return nil, fmt.Errorf("split size must be positive, got %d", splitSize)
	}
	var splits []Split
	for _, f := range files {
		if !Splittable(f.Path) {
			if f.Size > 0 {
				splits = append(splits, Split{File: f.Path, Doc: f.Doc, Offset: 0, Length: f.Size, FileSize: f.Size, ModTime: f.ModTime})
			}
			continue
		}
		if f.BlockSize > 0 {
			for off := int64(0); off < f.Size; off += f.BlockSize {
				splits = append(splits, Split{File: f.Path, Doc: f.Doc, Offset: off, Length: min(f.BlockSize, f.Size-off), FileSize: f.Size, ModTime: f.ModTime})
			}
			continue
		}
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
