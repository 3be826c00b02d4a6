package format

import (
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding"
)

// DefaultRowGroupBytes is the row group size a ParquetWriter aims at when
// neither limit is set: 64 MiB of values before compression. (Hadoop's
// parquet.block.size is 128 MiB; a writer holds a whole row group in
// memory, and gomr's tasks may hold several writers at once.)
const DefaultRowGroupBytes = 64 << 20

// SchemaMetadataKey is the key of the Parquet key/value metadata entry in
// which ParquetWriter records the gomr schema (Schema.String).
const SchemaMetadataKey = "gomr.schema"

// ParquetOptions configure a ParquetWriter.
type ParquetOptions struct {
	// RowGroupBytes ends a row group once its values take this many bytes
	// before encoding and compression (8 per int64, double and timestamp,
	// 1 per boolean, the length plus 4 per string). RowGroupRows ends one
	// after this many rows. The first limit reached ends the group; with
	// neither set, RowGroupBytes is DefaultRowGroupBytes.
	RowGroupBytes int64
	RowGroupRows  int64
	// Compression of the column chunks: "snappy" (the default, as in
	// Spark and Hive), "zstd", "gzip" or "none".
	Compression string
}

// ParquetWriter writes rows of a Schema as a Parquet file: one column per
// schema column, in schema order, at the top level of the file's schema.
// String columns are byte arrays with the STRING logical type, Int64
// columns int64, Double columns double, Boolean columns boolean, and
// Timestamp columns int64 with the TIMESTAMP(isAdjustedToUTC=true, NANOS)
// logical type. Nullable columns are optional, the others required.
type ParquetWriter struct {
	w        *parquet.Writer
	schema   Schema
	maxBytes int64
	maxRows  int64

	batch      []parquet.Row
	groupBytes int64
	groupRows  int64
	rows       int64
	groups     int
	err        error
	closed     bool
}

const parquetBatchRows = 256

// NewParquetWriter returns a writer of a Parquet file of rows of schema
// to w. Close writes the footer; w is not closed.
func NewParquetWriter(w io.Writer, schema Schema, opts ParquetOptions) (*ParquetWriter, error) {
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("parquet writer: %w", err)
	}
	codec, err := parquetCodec(opts.Compression)
	if err != nil {
		return nil, err
	}
	if opts.RowGroupBytes < 0 || opts.RowGroupRows < 0 {
		return nil, fmt.Errorf("parquet writer: negative row group limit (%d bytes, %d rows)", opts.RowGroupBytes, opts.RowGroupRows)
	}
	if opts.RowGroupBytes == 0 && opts.RowGroupRows == 0 {
		opts.RowGroupBytes = DefaultRowGroupBytes
	}
	fields := make([]parquet.Field, len(schema))
	for i, c := range schema {
		fields[i] = &orderedField{Node: parquetNode(c), name: c.Name, index: i}
	}
	ps := parquet.NewSchema("gomr", &orderedGroup{fields: fields})
	config, err := parquet.NewWriterConfig(ps, parquet.Compression(codec), parquet.KeyValueMetadata(SchemaMetadataKey, schema.String()))
	if err != nil {
		return nil, fmt.Errorf("parquet writer: %w", err)
	}
	pw := &ParquetWriter{schema: schema, maxBytes: opts.RowGroupBytes, maxRows: opts.RowGroupRows}
	if err := guardParquet(func() error { pw.w = parquet.NewWriter(w, config); return nil }); err != nil {
		return nil, fmt.Errorf("parquet writer: %w", err)
	}
	return pw, nil
}

func parquetCodec(name string) (compress.Codec, error) {
	switch strings.ToLower(name) {
	case "", "snappy":
		return &snappy.Codec{}, nil
	case "zstd":
		return &zstd.Codec{}, nil
	case "gzip":
		return &gzip.Codec{}, nil
	case "none", "uncompressed":
		return &uncompressed.Codec{}, nil
	}
	return nil, fmt.Errorf("parquet writer: unknown compression %q (choose snappy, zstd, gzip or none)", name)
}

func parquetNode(c Column) parquet.Node {
	var n parquet.Node
	switch c.Type {
	case String:
		n = parquet.String()
	case Int64:
		n = parquet.Leaf(parquet.Int64Type)
	case Double:
		n = parquet.Leaf(parquet.DoubleType)
	case Boolean:
		n = parquet.Leaf(parquet.BooleanType)
	case Timestamp:
		n = parquet.TimestampAdjusted(parquet.Nanosecond, true)
	}
	if c.Nullable {
		return parquet.Optional(n)
	}
	return parquet.Required(n)
}

// WriteRow writes one row, checked by Schema.CheckRow (a time.Time in any
// location is stored as its instant). Once a write fails, the writer
// returns that error.
func (pw *ParquetWriter) WriteRow(row []Value) error {
	if pw.err != nil {
		return pw.err
	}
	if pw.closed {
		return fmt.Errorf("parquet writer: write after Close")
	}
	if err := pw.schema.CheckRow(row); err != nil {
		return fmt.Errorf("parquet writer: row %d: %w", pw.rows+1, err)
	}
	prow := make(parquet.Row, len(row))
	for i, c := range pw.schema {
		def := 0
		if c.Nullable {
			def = 1
		}
		var v parquet.Value
		switch x := row[i].(type) {
		case nil:
			prow[i] = parquet.NullValue().Level(0, 0, i)
			pw.groupBytes++
			continue
		case string:
			v = parquet.ByteArrayValue([]byte(x))
			pw.groupBytes += int64(len(x)) + 4
		case int64:
			v = parquet.Int64Value(x)
			pw.groupBytes += 8
		case float64:
			v = parquet.DoubleValue(x)
			pw.groupBytes += 8
		case bool:
			v = parquet.BooleanValue(x)
			pw.groupBytes++
		case time.Time:
			v = parquet.Int64Value(x.UnixNano())
			pw.groupBytes += 8
		}
		prow[i] = v.Level(0, def, i)
	}
	pw.batch = append(pw.batch, prow)
	pw.rows++
	pw.groupRows++
	if len(pw.batch) >= parquetBatchRows {
		if err := pw.writeBatch(); err != nil {
			return err
		}
	}
	if (pw.maxBytes > 0 && pw.groupBytes >= pw.maxBytes) || (pw.maxRows > 0 && pw.groupRows >= pw.maxRows) {
		return pw.endGroup()
	}
	return nil
}

func (pw *ParquetWriter) writeBatch() error {
	if len(pw.batch) == 0 {
		return nil
	}
	err := guardParquet(func() error { _, err := pw.w.WriteRows(pw.batch); return err })
	clear(pw.batch)
	pw.batch = pw.batch[:0]
	if err != nil {
		pw.err = fmt.Errorf("parquet writer: %w", err)
	}
	return pw.err
}

// endGroup writes the buffered rows as a row group.
func (pw *ParquetWriter) endGroup() error {
	if err := pw.writeBatch(); err != nil {
		return err
	}
	if pw.groupRows == 0 {
		return nil
	}
	if err := guardParquet(pw.w.Flush); err != nil {
		pw.err = fmt.Errorf("parquet writer: end row group %d: %w", pw.groups+1, err)
		return pw.err
	}
	pw.groups++
	pw.groupRows, pw.groupBytes = 0, 0
	return nil
}

// Rows returns the number of rows written.
func (pw *ParquetWriter) Rows() int64 { return pw.rows }

// RowGroups returns the number of row groups written so far (the last
// one is written by Close).
func (pw *ParquetWriter) RowGroups() int { return pw.groups }

// Close writes the last row group and the footer. A file with no rows is
// a valid Parquet file with no row groups.
func (pw *ParquetWriter) Close() error {
	if pw.closed {
		return pw.err
	}
	pw.closed = true
	if pw.err != nil {
		return pw.err
	}
	if err := pw.endGroup(); err != nil {
		return err
	}
	if err := guardParquet(pw.w.Close); err != nil {
		pw.err = fmt.Errorf("parquet writer: write footer: %w", err)
	}
	return pw.err
}

// orderedGroup is a Parquet group whose fields keep the order they were
// given in; parquet.Group, a map, sorts them by name.
type orderedGroup struct {
	fields []parquet.Field
}

func (g *orderedGroup) ID() int { return 0 }

func (g *orderedGroup) String() string {
	var b strings.Builder
	b.WriteString("{")
	for i, f := range g.fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Name())
		b.WriteString(" ")
		b.WriteString(f.String())
	}
	b.WriteString("}")
	return b.String()
}

func (g *orderedGroup) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g *orderedGroup) Optional() bool              { return false }
func (g *orderedGroup) Repeated() bool              { return false }
func (g *orderedGroup) Required() bool              { return true }
func (g *orderedGroup) Leaf() bool                  { return false }
func (g *orderedGroup) Fields() []parquet.Field     { return g.fields }
func (g *orderedGroup) Encoding() encoding.Encoding { return nil }
func (g *orderedGroup) Compression() compress.Codec { return nil }
func (g *orderedGroup) GoType() reflect.Type        { return g.goType() }
func (g *orderedGroup) goType() reflect.Type {
	sf := make([]reflect.StructField, len(g.fields))
	for i, f := range g.fields {
		sf[i] = reflect.StructField{Name: "F" + strconv.Itoa(i), Type: f.GoType(), Tag: reflect.StructTag(`parquet:` + strconv.Quote(f.Name()))}
	}
	return reflect.StructOf(sf)
}

// orderedField is a named field of an orderedGroup.
type orderedField struct {
	parquet.Node
	name  string
	index int
}

func (f *orderedField) Name() string { return f.name }

// Value returns the field of a struct of the group's GoType (by
// position), or of a map by name.
func (f *orderedField) Value(base reflect.Value) reflect.Value {
	switch base.Kind() {
	case reflect.Struct:
		return base.Field(f.index)
	case reflect.Map:
		return base.MapIndex(reflect.ValueOf(f.name))
	}
	return reflect.Value{}
}
