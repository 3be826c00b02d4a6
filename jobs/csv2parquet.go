package jobs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
)

// Csv2ParquetJob is the name of the CSV-to-Parquet conversion job.
const Csv2ParquetJob = "csv2parquet"

// csv2parquet converts CSV files to Parquet, map-only: each map task
// reads a split of a CSV file (the header row first, see
// mapreduce.CSVInput) and writes its rows as one Parquet part file,
// part-m-NNNNN.parquet, in row groups of --row-group-size.
//
// Every task uses the same schema: the --schema given, or else the one
// the primary infers when the step is submitted, from the first
// --sample-rows rows of every input file (format.Inferrer: int64, double,
// boolean, timestamp or string, nullable where a field was empty), and
// stores in the step's options. The files' header rows must name the
// schema's columns (in any order; the output has the schema's order).
// A value is parsed by format.ParseValue, whose text rules round-trip
// exactly, so the Parquet file holds exactly the values the CSV text
// means. A row that does not fit the schema (a value of another type, an
// empty field in a column inferred as not nullable, because the sampled
// rows had none) is rejected: counted in MALFORMED_RECORDS and copied to
// _rejects/ with its file, line and reason. So are the rows the CSV
// reader rejects (a wrong number of fields, invalid UTF-8).
//
// The step writes Parquet unless it names csv or jsonl output (then the
// same typed rows are written in that format).
func csv2Parquet() *Definition {
	return &Definition{
		Name:    Csv2ParquetJob,
		Summary: "convert CSV files (a header row, then a row per line) to Parquet, map-only; the schema is --schema or inferred from the input when the step is submitted",
		MapOnly: true,
		Options: []Option{
			{Name: "schema", Usage: `the columns, as "name:type[?],..." (types string, int64, double, boolean, timestamp; ? for nullable); inferred from the input when not given`},
			{Name: "sample-rows", Usage: "rows of each input file read at submission to infer the schema (0: every row)", Default: "10000"},
			{Name: "row-group-size", Usage: "size of the Parquet row groups (values before compression): one map task of a later step reads each", Default: "64MiB"},
		},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			c, err := parseCsv2Parquet(opts)
			if err != nil {
				return nil, err
			}
			return &mapreduce.Job{Mapper: &csvToParquetMapper{schema: c.schema}}, nil
		},
		typed: &typedFormats{
			input:  mapreduce.CSVInput,
			output: mapreduce.ParquetOutput,
			rows: func(opts map[string]string, _ Formats) (*mapreduce.RowSchema, error) {
				c, err := parseCsv2Parquet(opts)
				if err != nil {
					return nil, err
				}
				if c.schema == nil {
					return nil, fmt.Errorf("%w: no --schema (it is inferred when the step is submitted)", ErrBadOption)
				}
				return &mapreduce.RowSchema{Schema: c.schema, Row: func(key, _ []byte) ([]format.Value, error) {
					return nil, &format.PairError{Key: string(key), Err: errors.New("csv2parquet writes rows, not pairs")}
				}}, nil
			},
			rowGroupBytes: func(opts map[string]string) (int64, error) {
				c, err := parseCsv2Parquet(opts)
				if err != nil {
					return 0, err
				}
				return c.rowGroupBytes, nil
			},
			prepare: prepareCsv2Parquet,
		},
	}
}

// csv2ParquetConfig is csv2parquet's parsed options.
type csv2ParquetConfig struct {
	schema        format.Schema // nil until inferred
	sampleRows    int64
	rowGroupBytes int64
}

func parseCsv2Parquet(opts map[string]string) (*csv2ParquetConfig, error) {
	c := &csv2ParquetConfig{}
	if s := opts["schema"]; s != "" {
		schema, err := format.ParseSchema(s)
		if err != nil {
			return nil, fmt.Errorf("%w: --schema: %v", ErrBadOption, err)
		}
		c.schema = schema
	}
	n, err := strconv.ParseInt(strings.TrimSpace(opts["sample-rows"]), 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: --sample-rows %q: want a number of rows (0: every row)", ErrBadOption, opts["sample-rows"])
	}
	c.sampleRows = n
	size, err := humanize.ParseBytes(strings.TrimSpace(opts["row-group-size"]))
	if err != nil || size == 0 || size > math.MaxInt64 {
		return nil, fmt.Errorf("%w: --row-group-size %q: want a size such as 64MiB or 128MB", ErrBadOption, opts["row-group-size"])
	}
	c.rowGroupBytes = int64(size)
	return c, nil
}

// prepareCsv2Parquet infers the schema of a step given none, from the
// first rows of each input file.
func prepareCsv2Parquet(ctx context.Context, in PrepareInput, opts map[string]string, _ Formats) (map[string]string, error) {
	c, err := parseCsv2Parquet(opts)
	if err != nil || c.schema != nil {
		return nil, err
	}
	files, err := in.List()
	if err != nil {
		return nil, err
	}
	var inf *format.Inferrer
	var names []string
	var first string // the file the header was taken from
	fields := []string{}
	for _, file := range files {
		var perm []int // header position of each of names
		var ferr error
		n := int64(0)
		s := mapreduce.Split{File: file.Path, Doc: file.Doc, Length: file.Size, FileSize: file.Size, ModTime: file.ModTime}
		err := mapreduce.ReadRecords(ctx, in.FileSystems, s, mapreduce.CSVInput, in.MaxLineBytes, func(rec mapreduce.Record) bool {
			if perm == nil {
				if inf == nil {
					for _, col := range rec.Schema {
						names = append(names, col.Name)
					}
					if inf, ferr = format.NewInferrer(names); ferr != nil {
						ferr = fmt.Errorf("input %s: CSV %w", file.Path, ferr)
						return false
					}
					first = file.Path
				}
				if perm, ferr = headerOrder(rec.Schema, names); ferr != nil {
					ferr = fmt.Errorf("input %s: %w (the header of %s)", file.Path, ferr, first)
					return false
				}
			}
			fields = fields[:0]
			for _, i := range perm {
				v, _ := rec.Values[i].(string)
				fields = append(fields, v)
			}
			inf.Add(fields)
			n++
			return c.sampleRows == 0 || n < c.sampleRows
		})
		if err == nil {
			err = ferr
		}
		if err != nil {
			return nil, fmt.Errorf("%w: infer the schema: %v", ErrBadOption, err)
		}
	}
	if inf == nil || inf.Rows() == 0 {
		return nil, fmt.Errorf("%w: the input has no CSV rows to infer a schema from: give --schema", ErrBadOption)
	}
	return map[string]string{"schema": inf.Schema().String()}, nil
}

// headerOrder returns, for each name, its position in a CSV header; the
// header must hold exactly the names.
func headerOrder(header format.Schema, names []string) ([]int, error) {
	at := make(map[string]int, len(header))
	for i, c := range header {
		at[c.Name] = i
	}
	perm := make([]int, len(names))
	for i, n := range names {
		j, ok := at[n]
		if !ok || len(header) != len(names) || len(at) != len(header) {
			have := make([]string, len(header))
			for k, c := range header {
				have[k] = c.Name
			}
			return nil, fmt.Errorf("the CSV header has the columns %s, the schema %s", strings.Join(have, ","), strings.Join(names, ","))
		}
		perm[i] = j
	}
	return perm, nil
}

// csvToParquetMapper parses each CSV row by the schema and writes it as a
// typed row.
type csvToParquetMapper struct {
	schema format.Schema
	names  []string
	file   string
	perm   []int
	row    []format.Value
}

func (m *csvToParquetMapper) Map(tc *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	rows, ok := out.(mapreduce.RowEmitter)
	if !ok {
		return fmt.Errorf("%w: csv2parquet writes typed rows: run it map-only (--reducers 0) with parquet, csv or jsonl output", ErrBadOption)
	}
	if m.schema == nil {
		return fmt.Errorf("%w: csv2parquet has no --schema (a step's schema is inferred when it is submitted)", ErrBadOption)
	}
	if rec.Schema == nil {
		return fmt.Errorf("%w: csv2parquet reads csv input", ErrBadOption)
	}
	if rec.File != m.file || m.perm == nil {
		if m.names == nil {
			for _, c := range m.schema {
				m.names = append(m.names, c.Name)
			}
		}
		perm, err := headerOrder(rec.Schema, m.names)
		if err != nil {
			return err
		}
		m.file, m.perm = rec.File, perm
	}
	m.row = m.row[:0]
	for i, col := range m.schema {
		text, _ := rec.Values[m.perm[i]].(string)
		v, err := col.Parse(text)
		if err != nil {
			tc.Counters.Add(MalformedRecords, 1)
			return tc.Reject(rec, err.Error())
		}
		m.row = append(m.row, v)
	}
	return rows.EmitRow(m.row)
}
