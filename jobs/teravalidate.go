package jobs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// TeraValidateJob is the name of the job that checks terasort's output.
const TeraValidateJob = "teravalidate"

// The keys of teravalidate's output lines, as Hadoop's TeraValidate.
const (
	teraChecksumKey = "checksum"
	teraErrorKey    = "error"
)

// TeraMisorders counts the misordered records teravalidate found.
const TeraMisorders = "TERAVALIDATE_ERRORS"

func teraValidate() *Definition {
	return &Definition{
		Name: TeraValidateJob,
		Summary: "check terasort's output: records in order within and across part files, and their CRC-32 sum " +
			"(teravalidate; writes a checksum line and an error line per misorder)",
		Options: []Option{
			{Name: "checksum", Usage: "the checksum (hex) the records must sum to: teragen's; an error line if they do not"},
			{Name: "generated", Usage: "teragen's output folder: its _checksums give --checksum (read at submission)", Path: true},
		},
		typed: &typedFormats{input: mapreduce.TeraInput},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			var want *Unsigned16
			if c := opts["checksum"]; c != "" {
				u, err := ParseUnsigned16(c)
				if err != nil {
					return nil, fmt.Errorf("%w: --checksum: %v", ErrBadOption, err)
				}
				want = &u
			}
			return &mapreduce.Job{
				Mapper:      &teraValidateMapper{},
				Reducer:     &teraValidateReducer{want: want},
				Partitioner: func([]byte, int) int { return 0 },
			}, nil
		},
		prepareClient: prepareTeraValidate,
	}
}

// prepareTeraValidate reads the checksum of teragen's output, given as
// --generated, into --checksum.
func prepareTeraValidate(ctx context.Context, s *ClientStep, opts map[string]string) error {
	gen := opts["generated"]
	if gen == "" {
		return nil
	}
	_, sum, err := ReadTeraGenChecksum(ctx, s.FileSystems, gen)
	if err != nil {
		return err
	}
	if c := opts["checksum"]; c != "" {
		given, err := ParseUnsigned16(c)
		if err != nil {
			return fmt.Errorf("%w: --checksum: %v", ErrBadOption, err)
		}
		if given != sum {
			return fmt.Errorf("%w: --checksum %s differs from %s's, %s", ErrBadOption, c, gen, sum)
		}
	}
	opts["checksum"] = sum.String()
	return nil
}

// ReadTeraGenChecksum sums the _checksums files of a teragen output
// folder: the rows generated and the sum of their CRC-32s.
func ReadTeraGenChecksum(ctx context.Context, fss *mapreduce.FileSystems, output string) (rows uint64, sum Unsigned16, err error) {
	dir := mapreduce.Join(output, TeraChecksumsDir)
	fs, err := fss.For(dir)
	if err != nil {
		return 0, sum, fmt.Errorf("teragen output %s: %w", output, err)
	}
	entries, err := fs.List(ctx, dir)
	if err != nil {
		return 0, sum, fmt.Errorf("teragen output %s: %w", output, err)
	}
	if len(entries) == 0 {
		return 0, sum, fmt.Errorf("teragen output %s: %s is empty", output, dir)
	}
	for _, e := range entries {
		if e.IsDir {
			continue
		}
		n, s, err := readTeraChecksumFile(ctx, fss, e.Path)
		if err != nil {
			return 0, sum, err
		}
		rows += n
		sum = sum.Add(s)
	}
	return rows, sum, nil
}

func readTeraChecksumFile(ctx context.Context, fss *mapreduce.FileSystems, path string) (uint64, Unsigned16, error) {
	f, err := fss.Open(ctx, path)
	if err != nil {
		return 0, Unsigned16{}, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	line, err := bufio.NewReader(io.NewSectionReader(f, 0, 4096)).ReadString('\n')
	if err != nil {
		return 0, Unsigned16{}, fmt.Errorf("read %s: %w", path, err)
	}
	rowsText, sumText, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
	rows, rerr := strconv.ParseUint(rowsText, 10, 64)
	sum, serr := ParseUnsigned16(sumText)
	if !ok || rerr != nil || serr != nil {
		return 0, Unsigned16{}, fmt.Errorf("%s line 1: want ROWS<TAB>CHECKSUM, got %q", path, strings.TrimSpace(line))
	}
	return rows, sum, nil
}

// teraValidateMapper checks the order of a split's records and sums their
// CRC-32s, as Hadoop's TeraValidate mapper. It emits an error line per
// misordered record, the split's first and last keys (for the reducer to
// check the order across splits and part files), and the split's sum.
type teraValidateMapper struct {
	file      string
	first     int64 // offset of the split's first record
	last      []byte
	lastOff   int64
	seen      bool
	sum       Unsigned16
	misorders int64
}

// Setup starts a split.
func (m *teraValidateMapper) Setup(*mapreduce.TaskContext) error {
	*m = teraValidateMapper{last: m.last[:0]}
	return nil
}

// boundaryKey names a split's first or last record so that the keys of a
// part file's splits sort by offset, and begin before end.
func (m *teraValidateMapper) boundaryKey(which string) []byte {
	return fmt.Appendf(nil, "%s:%020d:%s", m.file, m.first, which)
}

// boundaryValue is a record's key in hex, "@", its byte offset.
func boundaryValue(key []byte, off int64) []byte {
	return fmt.Appendf(nil, "%x@%d", key, off)
}

// Map checks one record against the one before it.
func (m *teraValidateMapper) Map(tc *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	if len(rec.Line) != TeraRecordBytes {
		return fmt.Errorf("a record of %d bytes: teravalidate reads %d-byte records (input format %s)", len(rec.Line), TeraRecordBytes, mapreduce.TeraInput)
	}
	key := rec.Line[:TeraKeyBytes]
	if !m.seen {
		m.seen, m.file, m.first = true, rec.Doc, rec.Offset
		if err := out.Emit(m.boundaryKey("begin"), boundaryValue(key, rec.Offset)); err != nil {
			return err
		}
	} else if bytes.Compare(key, m.last) < 0 {
		m.misorders++
		msg := fmt.Sprintf("misorder in %s: record %d (byte offset %d) has key %x, less than key %x of record %d before it",
			m.file, rec.Offset/TeraRecordBytes, rec.Offset, key, m.last, m.lastOff/TeraRecordBytes)
		if err := out.Emit([]byte(teraErrorKey), []byte(msg)); err != nil {
			return err
		}
	}
	m.last = append(m.last[:0], key...)
	m.lastOff = rec.Offset
	m.sum = m.sum.Add(TeraChecksum(rec.Line))
	return nil
}

// Cleanup emits the split's last key and its checksum.
func (m *teraValidateMapper) Cleanup(tc *mapreduce.TaskContext, out mapreduce.Emitter) error {
	tc.Counters.Add(TeraMisorders, m.misorders)
	if !m.seen {
		return nil
	}
	if err := out.Emit(m.boundaryKey("end"), boundaryValue(m.last, m.lastOff)); err != nil {
		return err
	}
	return out.Emit([]byte(teraChecksumKey), []byte(m.sum.String()))
}

// teraValidateReducer writes the checksum line and the error lines, and
// checks that each split's first key is not less than the last key of the
// split before it (in file and offset order).
type teraValidateReducer struct {
	want     *Unsigned16
	summed   bool
	prevName string // the boundary key of the last split's end
	prevVal  string
}

// Setup implements mapreduce.TaskLifecycle.
func (r *teraValidateReducer) Setup(*mapreduce.TaskContext) error {
	r.summed, r.prevName, r.prevVal = false, "", ""
	return nil
}

// Reduce handles one key of the mappers' output.
func (r *teraValidateReducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	switch string(key) {
	case teraChecksumKey:
		var sum Unsigned16
		for values.Next() {
			s, err := ParseUnsigned16(string(values.Value()))
			if err != nil {
				return fmt.Errorf("a map's checksum: %w", err)
			}
			sum = sum.Add(s)
		}
		return r.emitChecksum(sum, out)
	case teraErrorKey:
		for values.Next() {
			if err := out.Emit(key, values.Value()); err != nil {
				return err
			}
		}
		return nil
	}
	name := string(key)
	if !values.Next() {
		return nil
	}
	val := string(values.Value())
	switch {
	case strings.HasSuffix(name, ":end"):
		r.prevName, r.prevVal = name, val
	case strings.HasSuffix(name, ":begin") && r.prevName != "":
		if teraBoundaryKey(val) < teraBoundaryKey(r.prevVal) {
			msg := fmt.Sprintf("misorder across splits: %s has key %s, less than key %s of %s before it",
				teraBoundaryWhere(name, val), teraBoundaryKey(val), teraBoundaryKey(r.prevVal), teraBoundaryWhere(r.prevName, r.prevVal))
			return out.Emit([]byte(teraErrorKey), []byte(msg))
		}
	}
	return nil
}

// Cleanup writes the checksum line of an input with no records.
func (r *teraValidateReducer) Cleanup(_ *mapreduce.TaskContext, out mapreduce.Emitter) error {
	if r.summed {
		return nil
	}
	return r.emitChecksum(Unsigned16{}, out)
}

func (r *teraValidateReducer) emitChecksum(sum Unsigned16, out mapreduce.Emitter) error {
	r.summed = true
	if err := out.Emit([]byte(teraChecksumKey), []byte(sum.String())); err != nil {
		return err
	}
	if r.want != nil && *r.want != sum {
		msg := fmt.Sprintf("checksum %s differs from the generated data's %s: records are missing, repeated or changed", sum, r.want)
		return out.Emit([]byte(teraErrorKey), []byte(msg))
	}
	return nil
}

// teraBoundaryKey returns the hex key of a boundary value ("KEY@OFFSET");
// hex of equal-length keys orders as the keys.
func teraBoundaryKey(val string) string {
	k, _, _ := strings.Cut(val, "@")
	return k
}

// teraBoundaryWhere names the record of a boundary: "FILE record N (byte
// offset X)".
func teraBoundaryWhere(name, val string) string {
	file := name
	if i := strings.LastIndex(name, ":"); i > 0 {
		file = name[:i]
		if j := strings.LastIndex(file, ":"); j > 0 {
			file = file[:j]
		}
	}
	_, off, _ := strings.Cut(val, "@")
	o, _ := strconv.ParseInt(off, 10, 64)
	return fmt.Sprintf("%s record %d (byte offset %d)", file, o/TeraRecordBytes, o)
}
