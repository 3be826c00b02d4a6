package mapreduce

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gomr/gomr/mapreduce/format"
)

// Splittable reports whether a file can be cut into several splits: not
// when its name says it is compressed (.gz, .bz2, .zst), as in Hadoop,
// where a gzip file is read whole by one map task (see format.Codec).
func Splittable(path string) bool {
	codec, _ := format.CodecFor(path)
	return codec.Splittable()
}

// WholeFiles counts the files of a listing that are read whole by one map
// task each, since they cannot be split (compressed, non-empty files).
func WholeFiles(files []InputFile) int {
	n := 0
	for _, f := range files {
		if f.Size > 0 && !Splittable(f.Path) {
			n++
		}
	}
	return n
}

func isParquetMagic(head []byte) bool { return len(head) >= 4 && string(head[:4]) == "PAR1" }

// sniffCompressed reads the first decompressed bytes of a compressed file
// into buf. A stream that is corrupt or truncated within them is an error.
func sniffCompressed(f File, codec format.Codec, buf []byte) (int, error) {
	zr, err := codec.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	n, err := io.ReadFull(zr, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil // shorter than buf
	}
	return n, err
}

// PlanInput cuts listed files into the splits of a step reading them in an
// input format. Text, CSV, JSON lines and TeraSort records are cut as
// PlanSplits does (a TeraSort file must hold whole records).
// Parquet files are cut at their row groups (see PlanParquetSplits). A
// Parquet file read in another format is refused: its bytes are not
// lines. Errors about the data of a file are *InputError values naming it.
func PlanInput(ctx context.Context, fss *FileSystems, files []InputFile, splitSize int64, inputFormat string) ([]Split, error) {
	if err := CheckInputFormat(inputFormat); err != nil {
		return nil, err
	}
	if inputFormat == ParquetInput {
		return PlanParquetSplits(ctx, fss, files, splitSize)
	}
	if inputFormat == TeraInput {
		if err := checkFixedFiles(files, TeraRecordBytes); err != nil {
			return nil, err
		}
		return PlanSplits(files, splitSize)
	}
	for _, f := range files {
		if f.Parquet {
			return nil, &InputError{File: f.Path, Offset: -1, Err: fmt.Errorf("a Parquet file (it starts with PAR1) cannot be read as %s: read it with input format parquet", textName(inputFormat))}
		}
	}
	return PlanSplits(files, splitSize)
}

func textName(inputFormat string) string {
	if inputFormat == "" {
		return TextInput
	}
	return inputFormat
}

// PlanParquetSplits reads the footer of every file (through
// format.OpenParquet, which checks it before trusting it) and cuts the
// files into splits that own whole row groups: a row group belongs to the
// split that holds its first byte, as Hadoop's ParquetInputFormat assigns
// them, so each row group is read by exactly one map task.
//
// A file stored in blocks (HDFS) keeps one split per block, for locality,
// without the blocks in which no row group starts (they would read
// nothing). Elsewhere consecutive row groups are packed into splits of at
// most splitSize bytes (a larger row group is a split of its own). A file
// with no rows gives no split. A truncated or corrupt file, or one that is
// not Parquet, is an *InputError naming it.
func PlanParquetSplits(ctx context.Context, fss *FileSystems, files []InputFile, splitSize int64) ([]Split, error) {
	if splitSize <= 0 {
		return nil, fmt.Errorf("split size must be positive, got %d", splitSize)
	}
	var splits []Split
	for _, f := range files {
		groups, err := parquetGroups(ctx, fss, f)
		if err != nil {
			return nil, err
		}
		if len(groups) == 0 {
			continue
		}
		split := func(off, end int64) Split {
			return Split{File: f.Path, Doc: f.Doc, Offset: off, Length: end - off, FileSize: f.Size, ModTime: f.ModTime}
		}
		if f.BlockSize > 0 {
			gi := 0
			for off := int64(0); off < f.Size; off += f.BlockSize {
				end := min(off+f.BlockSize, f.Size)
				owns := false
				for gi < len(groups) && groups[gi].Offset < end {
					owns = true
					gi++
				}
				if owns {
					splits = append(splits, split(off, end))
				}
			}
			continue
		}
		start := groups[0].Offset
		for i, g := range groups {
			if g.Offset > start && g.Offset+g.Size-start > splitSize {
				splits = append(splits, split(start, g.Offset))
				start = g.Offset
			}
			if i == len(groups)-1 {
				splits = append(splits, split(start, f.Size))
			}
		}
	}
	return splits, nil
}

// parquetGroups returns the row groups of a Parquet file that hold rows,
// in file order.
func parquetGroups(ctx context.Context, fss *FileSystems, f InputFile) ([]format.RowGroupInfo, error) {
	if c, ok := format.CodecFor(f.Path); ok {
		return nil, &InputError{File: f.Path, Offset: -1, Err: fmt.Errorf("a Parquet file cannot be read through %s (Parquet compresses its column chunks itself)", c.Name())}
	}
	file, err := fss.Open(ctx, f.Path)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", f.Path, err)
	}
	defer file.Close()
	pf, err := format.OpenParquet(file, f.Size)
	if err != nil {
		var ie *InputError
		if err := parquetError(f.Path, -1, err); errors.As(err, &ie) {
			return nil, err
		}
		return nil, fmt.Errorf("input %s: %w", f.Path, err)
	}
	var groups []format.RowGroupInfo
	for _, g := range pf.RowGroups() {
		if g.Rows > 0 {
			groups = append(groups, g)
		}
	}
	for i := 1; i < len(groups); i++ {
		if groups[i].Offset <= groups[i-1].Offset {
			return nil, &InputError{File: f.Path, Offset: groups[i].Offset, Err: fmt.Errorf("%w: row group %d starts at byte %d, not after row group %d (at byte %d)", format.ErrCorruptParquet, groups[i].Index, groups[i].Offset, groups[i-1].Index, groups[i-1].Offset)}
		}
	}
	return groups, nil
}
