package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pformat "github.com/parquet-go/parquet-go/format"
)

// ErrNotParquet is wrapped by the error for a file that is not Parquet at
// all (it does not start with the magic "PAR1").
var ErrNotParquet = errors.New("not a Parquet file")

// ErrCorruptParquet is wrapped by every error about a Parquet file that is
// truncated, has a footer that lies or is corrupt, or has pages that do
// not decode. A truncated file's error also wraps io.ErrUnexpectedEOF.
var ErrCorruptParquet = errors.New("corrupt Parquet file")

// ErrUnsupportedParquet is wrapped by the error for a valid Parquet file
// that gomr cannot map to a Schema (nested or repeated columns, types
// without a gomr Type, encryption).
var ErrUnsupportedParquet = errors.New("unsupported Parquet file")

// MaxBufferedRowGroupBytes is the largest row group (compressed) that a
// row group reader reads into memory with one read before decoding it; a
// larger one is read in place, page by page.
const MaxBufferedRowGroupBytes = 256 << 20

// maxPageBytes bounds a page's sizes: a page header claiming more is
// corrupt (no writer makes pages near this size).
const maxPageBytes = 1 << 30

const parquetMagic = "PAR1"

// ParquetFile is an open Parquet file: its schema, its row groups and
// where their bytes lie, and a reader of each row group's rows. It reads
// flat files whose top-level columns map to gomr types: boolean; int32
// (signed or unsigned) and int64 (signed) as Int64; float and double as
// Double; byte arrays annotated STRING, ENUM or JSON as String; int64
// TIMESTAMP in milliseconds, microseconds or nanoseconds (UTC-adjusted or
// not, read as UTC) as Timestamp. Optional columns are nullable.
//
// Every check a reader needs before it trusts the file is done at this
// boundary: the magic bytes, the footer length, the footer's structure,
// every column chunk's place in the file and every page header's sizes;
// parquet-go panics are turned into errors. A ParquetFile is safe for
// concurrent use; each ParquetRows is not.
type ParquetFile struct {
	r        *windowReader
	size     int64
	file     *parquet.File
	meta     *pformat.FileMetaData
	schema   Schema
	conv     []convertFunc
	groups   []RowGroupInfo
	dataEnd  int64 // first byte of the footer
	numRows  int64
	metadata map[string]string
}

// RowGroupInfo describes one row group and where its bytes lie, so that
// a planner can make a split per row group.
type RowGroupInfo struct {
	Index int
	Rows  int64
	// Offset and Size span the group's column chunks: from the first byte
	// of its first chunk to the last byte of its last one.
	Offset, Size int64
	Columns      []ColumnChunkInfo
}

// ColumnChunkInfo describes one column's chunk in a row group.
type ColumnChunkInfo struct {
	Column string
	// Offset is the chunk's first byte (its dictionary page, else its
	// first data page) and Size its compressed size, page headers
	// included.
	Offset, Size int64
	// Values counts the chunk's values, nulls included, and Nulls its
	// nulls as the file's statistics give them.
	Values, Nulls int64
}

// OpenParquet opens a Parquet file of size bytes read through r. Its
// errors wrap ErrNotParquet, ErrCorruptParquet (and io.ErrUnexpectedEOF
// for a truncated file) or ErrUnsupportedParquet, and say what is wrong.
func OpenParquet(r io.ReaderAt, size int64) (*ParquetFile, error) {
	pf, err := openParquet(r, size)
	if err != nil {
		return nil, fmt.Errorf("open parquet: %w", err)
	}
	return pf, nil
}

func openParquet(r io.ReaderAt, size int64) (*ParquetFile, error) {
	if size < 0 {
		return nil, fmt.Errorf("negative file size %d", size)
	}
	head := make([]byte, min(size, 4))
	if err := readFull(r, head, 0); err != nil {
		return nil, err
	}
	switch {
	case len(head) == 0:
		return nil, fmt.Errorf("%w: the file is empty", ErrNotParquet)
	case string(head) == "PARE":
		return nil, fmt.Errorf("%w: the file is encrypted (magic PARE)", ErrUnsupportedParquet)
	case string(head) != parquetMagic[:len(head)]:
		return nil, fmt.Errorf("%w: it starts with %q, not the magic %q", ErrNotParquet, head, parquetMagic)
	}
	// The smallest file is magic, footer (at least an empty struct),
	// footer length, magic.
	if size < 13 {
		return nil, fmt.Errorf("%w: %w: the file has %d bytes, too few for the Parquet magic, footer and footer length; it is truncated", ErrCorruptParquet, io.ErrUnexpectedEOF, size)
	}
	tail := make([]byte, 8)
	if err := readFull(r, tail, size-8); err != nil {
		return nil, err
	}
	if string(tail[4:]) != parquetMagic {
		return nil, fmt.Errorf("%w: %w: it ends with %q, not the magic %q: the file is truncated or was not completely written", ErrCorruptParquet, io.ErrUnexpectedEOF, tail[4:], parquetMagic)
	}
	footerLen := int64(binary.LittleEndian.Uint32(tail[:4]))
	if footerLen == 0 || footerLen > size-12 {
		return nil, fmt.Errorf("%w: the footer length %d points outside the file (%d bytes, so at most %d)", ErrCorruptParquet, footerLen, size, size-12)
	}
	dataEnd := size - 8 - footerLen
	footer := make([]byte, footerLen)
	if err := readFull(r, footer, dataEnd); err != nil {
		return nil, err
	}
	n, err := thriftStructLen(footer)
	if err != nil {
		return nil, fmt.Errorf("%w: the footer (%d bytes at offset %d) does not decode: %v", ErrCorruptParquet, footerLen, dataEnd, err)
	}
	if n != len(footer) {
		return nil, fmt.Errorf("%w: the footer's metadata takes %d of its %d bytes (a signed or corrupt footer)", ErrCorruptParquet, n, footerLen)
	}

	// Decode and check the footer before parquet-go builds its columns
	// from it, so that a footer that lies is refused with a reason.
	meta := new(pformat.FileMetaData)
	err = guardParquet(func() error { return thrift.Unmarshal(new(thrift.CompactProtocol), footer, meta) })
	if err != nil {
		return nil, fmt.Errorf("%w: the footer (%d bytes at offset %d) does not decode: %v", ErrCorruptParquet, footerLen, dataEnd, err)
	}
	wr := &windowReader{r: r, size: size}
	pf := &ParquetFile{r: wr, size: size, dataEnd: dataEnd, meta: meta}
	if meta.EncryptionAlgorithm.Value != nil {
		return nil, fmt.Errorf("%w: the file is encrypted", ErrUnsupportedParquet)
	}
	if err := pf.mapSchema(); err != nil {
		return nil, err
	}
	if err := pf.checkRowGroups(); err != nil {
		return nil, err
	}
	pf.metadata = make(map[string]string)
	for _, kv := range meta.KeyValueMetadata {
		pf.metadata[kv.Key] = kv.Value
	}
	if s, ok := pf.metadata[SchemaMetadataKey]; ok && s != pf.schema.String() {
		return nil, fmt.Errorf("%w: the file's columns are %s, but it was written with the gomr schema %s", ErrCorruptParquet, pf.schema, s)
	}

	wr.add(&window{off: 0, data: head})
	wr.add(&window{off: dataEnd, data: append(footer, tail...)})
	err = guardParquet(func() error {
		f, err := parquet.OpenFile(wr, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.OptimisticRead(false), parquet.ReadBufferSize(64<<10))
		pf.file = f
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptParquet, err)
	}
	if n := len(pf.file.RowGroups()); n != len(pf.groups) {
		return nil, fmt.Errorf("%w: parquet-go sees %d row groups, the footer has %d", ErrCorruptParquet, n, len(pf.groups))
	}
	return pf, nil
}

// readFull reads len(p) bytes at off, or says the file is shorter.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("%w: %w: read %d bytes at offset %d, got %d: the file is shorter than its size says", ErrCorruptParquet, io.ErrUnexpectedEOF, len(p), off, n)
	}
	return fmt.Errorf("read %d bytes at offset %d: %w", len(p), off, err)
}

// guardParquet runs f, turning a parquet-go panic into an error.
func guardParquet(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet-go failed: %v (%s)", r, firstFrames(debug.Stack()))
		}
	}()
	return f()
}

// firstFrames cuts a stack to a few hundred bytes for an error message.
func firstFrames(stack []byte) string {
	const max = 400
	if len(stack) > max {
		stack = stack[:max]
	}
	return string(stack)
}

type convertFunc func(parquet.Value) (Value, error)

// mapSchema maps the file's schema to a gomr Schema.
func (pf *ParquetFile) mapSchema() error {
	elems := pf.meta.Schema
	if len(elems) == 0 {
		return fmt.Errorf("%w: the footer has no schema", ErrCorruptParquet)
	}
	root := elems[0]
	if len(elems) == 1 {
		return fmt.Errorf("%w: the schema has no columns", ErrUnsupportedParquet)
	}
	if nc, ok := root.NumChildren.Get(); !ok || int(nc) != len(elems)-1 {
		return fmt.Errorf("%w: nested columns (the root has %d children for %d schema elements); gomr reads flat files", ErrUnsupportedParquet, root.NumChildren.V, len(elems)-1)
	}
	schema := make(Schema, 0, len(elems)-1)
	for i := 1; i < len(elems); i++ {
		e := &elems[i]
		if nc, ok := e.NumChildren.Get(); ok && nc > 0 {
			return fmt.Errorf("%w: column %q is a group; gomr reads flat files", ErrUnsupportedParquet, e.Name)
		}
		rep, _ := e.RepetitionType.Get()
		if rep == pformat.Repeated {
			return fmt.Errorf("%w: column %q is repeated", ErrUnsupportedParquet, e.Name)
		}
		t, conv, err := mapColumn(e)
		if err != nil {
			return fmt.Errorf("%w: column %q: %v", ErrUnsupportedParquet, e.Name, err)
		}
		schema = append(schema, Column{Name: e.Name, Type: t, Nullable: rep == pformat.Optional})
		pf.conv = append(pf.conv, conv)
	}
	if err := schema.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnsupportedParquet, err)
	}
	pf.schema = schema
	return nil
}

func mapColumn(e *pformat.SchemaElement) (Type, convertFunc, error) {
	pt, ok := e.Type.Get()
	if !ok {
		return 0, nil, errors.New("no physical type")
	}
	lt := e.LogicalType.Value
	ct, hasCT := e.ConvertedType.Get()
	switch pt {
	case pformat.Boolean:
		return Boolean, func(v parquet.Value) (Value, error) { return v.Boolean(), nil }, nil
	case pformat.Int32:
		unsigned := false
		switch x := lt.(type) {
		case nil:
			if hasCT {
				switch ct {
				case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32:
					unsigned = true
				case deprecated.Int8, deprecated.Int16, deprecated.Int32:
				default:
					return 0, nil, fmt.Errorf("int32 with converted type %v has no gomr type", ct)
				}
			}
		case *pformat.IntType:
			if x.BitWidth != 8 && x.BitWidth != 16 && x.BitWidth != 32 {
				return 0, nil, fmt.Errorf("int32 annotated INT(%d), a width that does not fit it", x.BitWidth)
			}
			unsigned = !x.IsSigned
		default:
			return 0, nil, fmt.Errorf("int32 %v has no gomr type", lt)
		}
		if unsigned {
			return Int64, func(v parquet.Value) (Value, error) { return int64(v.Uint32()), nil }, nil
		}
		return Int64, func(v parquet.Value) (Value, error) { return int64(v.Int32()), nil }, nil
	case pformat.Int64:
		unit := time.Duration(0)
		switch x := lt.(type) {
		case nil:
			if hasCT {
				switch ct {
				case deprecated.Int64:
				case deprecated.TimestampMillis:
					unit = time.Millisecond
				case deprecated.TimestampMicros:
					unit = time.Microsecond
				default:
					return 0, nil, fmt.Errorf("int64 with converted type %v has no gomr type", ct)
				}
			}
		case *pformat.IntType:
			if x.BitWidth != 64 {
				return 0, nil, fmt.Errorf("int64 annotated INT(%d), a width that does not fit it", x.BitWidth)
			}
			if !x.IsSigned {
				return 0, nil, errors.New("unsigned int64 does not fit int64")
			}
		case *pformat.TimestampType:
			if x.Unit.Value == nil {
				return 0, nil, errors.New("timestamp without a unit")
			}
			unit = x.Unit.Value.Duration()
		default:
			return 0, nil, fmt.Errorf("int64 %v has no gomr type", lt)
		}
		if unit == 0 {
			return Int64, func(v parquet.Value) (Value, error) { return v.Int64(), nil }, nil
		}
		return Timestamp, timestampConv(unit), nil
	case pformat.Float:
		if lt != nil {
			return 0, nil, fmt.Errorf("float %v has no gomr type", lt)
		}
		return Double, func(v parquet.Value) (Value, error) { return float64(v.Float()), nil }, nil
	case pformat.Double:
		if lt != nil {
			return 0, nil, fmt.Errorf("double %v has no gomr type", lt)
		}
		return Double, func(v parquet.Value) (Value, error) { return v.Double(), nil }, nil
	case pformat.ByteArray:
		isString := false
		switch lt.(type) {
		case *pformat.StringType, *pformat.EnumType, *pformat.JsonType:
			isString = true
		case nil:
			isString = hasCT && (ct == deprecated.UTF8 || ct == deprecated.Enum || ct == deprecated.Json)
		}
		if !isString {
			return 0, nil, errors.New("a byte array without a STRING, ENUM or JSON annotation (binary data) has no gomr type")
		}
		return String, func(v parquet.Value) (Value, error) { return string(v.ByteArray()), nil }, nil
	}
	return 0, nil, fmt.Errorf("physical type %v has no gomr type", pt)
}

func timestampConv(unit time.Duration) convertFunc {
	return func(v parquet.Value) (Value, error) {
		n := v.Int64()
		var t time.Time
		switch unit {
		case time.Nanosecond:
			return time.Unix(0, n).UTC(), nil
		case time.Microsecond:
			t = time.UnixMicro(n).UTC()
		default:
			t = time.UnixMilli(n).UTC()
		}
		if t.Before(minTimestamp) || t.After(maxTimestamp) {
			return nil, fmt.Errorf("timestamp %s is outside the range of int64 nanoseconds", t.Format(time.RFC3339Nano))
		}
		return t, nil
	}
}

// checkRowGroups checks the row groups of the footer against the file:
// columns, counts, and chunks that lie between the header and the footer.
func (pf *ParquetFile) checkRowGroups() error {
	var total int64
	for g := range pf.meta.RowGroups {
		rg := &pf.meta.RowGroups[g]
		if rg.NumRows < 0 {
			return fmt.Errorf("%w: row group %d has %d rows", ErrCorruptParquet, g, rg.NumRows)
		}
		if len(rg.Columns) != len(pf.schema) {
			return fmt.Errorf("%w: row group %d has %d column chunks for %d columns", ErrCorruptParquet, g, len(rg.Columns), len(pf.schema))
		}
		info := RowGroupInfo{Index: g, Rows: rg.NumRows, Offset: -1}
		var end int64
		for c := range rg.Columns {
			cc := &rg.Columns[c]
			col := pf.schema[c].Name
			if cc.FilePath != "" {
				return fmt.Errorf("%w: row group %d column %q lives in another file (%q)", ErrUnsupportedParquet, g, col, cc.FilePath)
			}
			m := &cc.MetaData
			want, _ := pf.meta.Schema[c+1].Type.Get()
			if m.Type != want {
				return fmt.Errorf("%w: row group %d column %q has chunk type %v, the schema says %v", ErrCorruptParquet, g, col, m.Type, want)
			}
			start := chunkStart(m)
			if start < 4 || m.TotalCompressedSize <= 0 || start > pf.dataEnd || m.TotalCompressedSize > pf.dataEnd-start {
				return fmt.Errorf("%w: row group %d column %q: chunk of %d bytes at offset %d lies outside the data (bytes 4 to %d)", ErrCorruptParquet, g, col, m.TotalCompressedSize, start, pf.dataEnd)
			}
			if m.DictionaryPageOffset != 0 && m.DataPageOffset <= m.DictionaryPageOffset {
				return fmt.Errorf("%w: row group %d column %q: data page offset %d is not after the dictionary page at %d", ErrCorruptParquet, g, col, m.DataPageOffset, m.DictionaryPageOffset)
			}
			if m.NumValues != rg.NumRows {
				return fmt.Errorf("%w: row group %d column %q has %d values for %d rows", ErrCorruptParquet, g, col, m.NumValues, rg.NumRows)
			}
			if m.Statistics.NullCount < 0 || m.Statistics.NullCount > m.NumValues {
				return fmt.Errorf("%w: row group %d column %q claims %d nulls in %d values", ErrCorruptParquet, g, col, m.Statistics.NullCount, m.NumValues)
			}
			switch m.Codec {
			case pformat.Uncompressed, pformat.Snappy, pformat.Gzip, pformat.Zstd, pformat.Lz4Raw, pformat.Brotli:
			default:
				return fmt.Errorf("%w: row group %d column %q: compression %v", ErrUnsupportedParquet, g, col, m.Codec)
			}
			info.Columns = append(info.Columns, ColumnChunkInfo{Column: col, Offset: start, Size: m.TotalCompressedSize, Values: m.NumValues, Nulls: m.Statistics.NullCount})
			if info.Offset < 0 || start < info.Offset {
				info.Offset = start
			}
			end = max(end, start+m.TotalCompressedSize)
		}
		info.Size = end - info.Offset
		total += rg.NumRows
		if total < 0 {
			return fmt.Errorf("%w: the row groups' row counts overflow", ErrCorruptParquet)
		}
		pf.groups = append(pf.groups, info)
	}
	if total != pf.meta.NumRows {
		return fmt.Errorf("%w: the row groups hold %d rows, the footer says %d", ErrCorruptParquet, total, pf.meta.NumRows)
	}
	pf.numRows = total
	return nil
}

func chunkStart(m *pformat.ColumnMetaData) int64 {
	if m.DictionaryPageOffset != 0 {
		return m.DictionaryPageOffset
	}
	return m.DataPageOffset
}

// Schema returns the file's columns as a gomr Schema.
func (pf *ParquetFile) Schema() Schema { return pf.schema }

// NumRows returns the number of rows in the file.
func (pf *ParquetFile) NumRows() int64 { return pf.numRows }

// NumRowGroups returns the number of row groups.
func (pf *ParquetFile) NumRowGroups() int { return len(pf.groups) }

// RowGroup describes row group i (0 <= i < NumRowGroups).
func (pf *ParquetFile) RowGroup(i int) RowGroupInfo { return pf.groups[i] }

// RowGroups describes every row group, in file order.
func (pf *ParquetFile) RowGroups() []RowGroupInfo { return pf.groups }

// Metadata returns the value of a key of the file's key/value metadata.
func (pf *ParquetFile) Metadata(key string) (string, bool) {
	v, ok := pf.metadata[key]
	return v, ok
}

// ParquetRows reads the rows of one row group.
type ParquetRows struct {
	pf     *ParquetFile
	group  int
	want   int64
	read   int64
	rows   parquet.Rows
	buf    []parquet.Row
	next   int // index in buf of the next row to return
	n      int // rows in buf
	win    *window
	err    error
	closed bool
}

// ReadRowGroup returns a reader of the rows of row group i. It checks the
// header of every page of the group first (and reads the group into
// memory with one read when its compressed size is at most
// MaxBufferedRowGroupBytes).
func (pf *ParquetFile) ReadRowGroup(i int) (*ParquetRows, error) {
	if i < 0 || i >= len(pf.groups) {
		return nil, fmt.Errorf("parquet: row group %d of a file of %d", i, len(pf.groups))
	}
	info := pf.groups[i]
	pr := &ParquetRows{pf: pf, group: i, want: info.Rows}
	if info.Size > 0 && info.Size <= MaxBufferedRowGroupBytes {
		data := make([]byte, info.Size)
		if err := readFull(pf.r.r, data, info.Offset); err != nil {
			return nil, fmt.Errorf("parquet: read row group %d: %w", i, err)
		}
		pr.win = &window{off: info.Offset, data: data}
		pf.r.add(pr.win)
	}
	if err := pf.checkPages(i); err != nil {
		pr.Close()
		return nil, fmt.Errorf("parquet: row group %d: %w", i, err)
	}
	err := guardParquet(func() error {
		pr.rows = pf.file.RowGroups()[i].Rows()
		return nil
	})
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("parquet: row group %d: %w: %v", i, ErrCorruptParquet, err)
	}
	return pr, nil
}

// Next returns the next row, a new slice each time, or io.EOF after the
// last. Errors name the row group and wrap ErrCorruptParquet.
func (pr *ParquetRows) Next() ([]Value, error) {
	if pr.err != nil {
		return nil, pr.err
	}
	row, err := pr.nextRow()
	if err != nil {
		if err != io.EOF {
			err = fmt.Errorf("parquet: row group %d, row %d: %w", pr.group, pr.read+1, err)
		}
		pr.err = err
	}
	return row, err
}

func (pr *ParquetRows) nextRow() ([]Value, error) {
	if pr.closed {
		return nil, errors.New("read after Close")
	}
	if pr.next >= pr.n {
		if pr.read == pr.want {
			return nil, io.EOF
		}
		if err := pr.fill(); err != nil {
			return nil, err
		}
	}
	prow := pr.buf[pr.next]
	pr.next++
	schema := pr.pf.schema
	if len(prow) != len(schema) {
		return nil, fmt.Errorf("%w: the row has %d values for %d columns", ErrCorruptParquet, len(prow), len(schema))
	}
	row := make([]Value, len(schema))
	for i, v := range prow {
		if v.Column() != i {
			return nil, fmt.Errorf("%w: value %d of the row belongs to column %d", ErrCorruptParquet, i, v.Column())
		}
		if v.IsNull() {
			if !schema[i].Nullable {
				return nil, fmt.Errorf("%w: column %s: null in a required column", ErrCorruptParquet, schema[i].Name)
			}
			continue
		}
		x, err := pr.pf.conv[i](v)
		if err != nil {
			return nil, fmt.Errorf("%w: column %s: %v", ErrCorruptParquet, schema[i].Name, err)
		}
		row[i] = x
	}
	pr.read++
	return row, nil
}

// fill reads the next batch of rows.
func (pr *ParquetRows) fill() error {
	if pr.buf == nil {
		pr.buf = make([]parquet.Row, parquetBatchRows)
	}
	for i := range pr.buf {
		pr.buf[i] = pr.buf[i][:0]
	}
	batch := pr.buf[:min(int64(len(pr.buf)), pr.want-pr.read)]
	var n int
	var rerr error
	err := guardParquet(func() error {
		n, rerr = pr.rows.ReadRows(batch)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptParquet, err)
	}
	if n < 0 || n > len(batch) {
		return fmt.Errorf("%w: parquet-go returned %d rows for %d", ErrCorruptParquet, n, len(batch))
	}
	if n == 0 {
		if rerr == nil || rerr == io.EOF {
			return fmt.Errorf("%w: %w: the pages end after %d rows, the footer says %d", ErrCorruptParquet, io.ErrUnexpectedEOF, pr.read, pr.want)
		}
		return fmt.Errorf("%w: %v", ErrCorruptParquet, rerr)
	}
	pr.next, pr.n = 0, n
	return nil
}

// Close releases the reader and its buffered row group.
func (pr *ParquetRows) Close() error {
	if pr.closed {
		return nil
	}
	pr.closed = true
	if pr.win != nil {
		pr.pf.r.remove(pr.win)
		pr.win = nil
	}
	if pr.rows != nil {
		return guardParquet(pr.rows.Close)
	}
	return nil
}

// checkPages walks the page headers of every chunk of row group g: each
// must decode, fit in its chunk, claim sane sizes, and the data pages
// must hold the chunk's values.
func (pf *ParquetFile) checkPages(g int) error {
	rg := &pf.meta.RowGroups[g]
	for c := range rg.Columns {
		m := &rg.Columns[c].MetaData
		col := pf.schema[c].Name
		off := chunkStart(m)
		end := off + m.TotalCompressedSize
		var values int64
		for page := 0; off < end; page++ {
			h, n, err := pf.readPageHeader(off, end)
			if err != nil {
				return fmt.Errorf("%w: column %s: page %d at offset %d: %v", ErrCorruptParquet, col, page, off, err)
			}
			cs, us := int64(h.CompressedPageSize), int64(h.UncompressedPageSize)
			if cs < 0 || us < 0 || cs > end-off-int64(n) || us > maxPageBytes {
				return fmt.Errorf("%w: column %s: page %d at offset %d claims %d bytes (%d uncompressed) in a chunk with %d bytes left", ErrCorruptParquet, col, page, off, cs, us, end-off-int64(n))
			}
			switch h.Type {
			case pformat.DataPage:
				if !h.DataPageHeader.Valid {
					return fmt.Errorf("%w: column %s: data page %d has no data page header", ErrCorruptParquet, col, page)
				}
				values += int64(h.DataPageHeader.V.NumValues)
			case pformat.DataPageV2:
				if !h.DataPageHeaderV2.Valid {
					return fmt.Errorf("%w: column %s: data page %d has no data page header", ErrCorruptParquet, col, page)
				}
				values += int64(h.DataPageHeaderV2.V.NumValues)
			case pformat.DictionaryPage:
				if page != 0 {
					return fmt.Errorf("%w: column %s: dictionary page %d is not the chunk's first", ErrCorruptParquet, col, page)
				}
			case pformat.IndexPage:
			default:
				return fmt.Errorf("%w: column %s: page %d has unknown type %d", ErrCorruptParquet, col, page, h.Type)
			}
			off += int64(n) + cs
		}
		if values != m.NumValues {
			return fmt.Errorf("%w: column %s: the pages hold %d values, the footer says %d", ErrCorruptParquet, col, values, m.NumValues)
		}
	}
	return nil
}

// readPageHeader reads the page header at off, which must end before end.
func (pf *ParquetFile) readPageHeader(off, end int64) (*pformat.PageHeader, int, error) {
	want := min(end-off, 512)
	for {
		buf := make([]byte, want)
		if err := readFull(pf.r, buf, off); err != nil {
			return nil, 0, err
		}
		n, err := thriftStructLen(buf)
		if errors.Is(err, errThriftShort) && want < end-off && want < 16<<20 {
			want = min(end-off, want*8)
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("page header does not decode: %v", err)
		}
		h := new(pformat.PageHeader)
		err = guardParquet(func() error { return thrift.Unmarshal(new(thrift.CompactProtocol), buf[:n], h) })
		if err != nil {
			return nil, 0, fmt.Errorf("page header does not decode: %v", err)
		}
		return h, n, nil
	}
}

// windowReader reads a file through in-memory copies of parts of it (the
// footer, row groups being read) where it has them.
type windowReader struct {
	r    io.ReaderAt
	size int64
	mu   sync.RWMutex
	wins []*window
}

type window struct {
	off  int64
	data []byte
}

func (wr *windowReader) add(w *window) {
	wr.mu.Lock()
	wr.wins = append(wr.wins, w)
	wr.mu.Unlock()
}

func (wr *windowReader) remove(w *window) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	for i, x := range wr.wins {
		if x == w {
			wr.wins = append(wr.wins[:i], wr.wins[i+1:]...)
			return
		}
	}
}

// ReadAt serves p from a window that holds all of it, else from the file.
func (wr *windowReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	wr.mu.RLock()
	for _, w := range wr.wins {
		if off >= w.off && off+int64(len(p)) <= w.off+int64(len(w.data)) {
			n := copy(p, w.data[off-w.off:])
			wr.mu.RUnlock()
			return n, nil
		}
	}
	wr.mu.RUnlock()
	if off >= wr.size {
		return 0, io.EOF
	}
	if int64(len(p)) > wr.size-off {
		n, err := wr.r.ReadAt(p[:wr.size-off], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return wr.r.ReadAt(p, off)
}
