package jobs

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/gomr/gomr/mapreduce"
)

// The layout of a TeraSort record (Hadoop's GenSort.generateRecord,
// binary form): a 10-byte key, then a 90-byte value.
const (
	// TeraRecordBytes is the size of a record.
	TeraRecordBytes = mapreduce.TeraRecordBytes
	// TeraKeyBytes is the size of its key, which terasort sorts by.
	TeraKeyBytes = mapreduce.TeraKeyBytes
	// TeraLineBytes is the size of a record written as a text line by
	// AppendTeraLine, its newline included.
	TeraLineBytes = 2*TeraKeyBytes + 1 + 2*(TeraRecordBytes-TeraKeyBytes) + 1
)

// ErrTeraRecord is wrapped by errors about data that is not TeraSort
// records (a truncated record, a malformed text line).
var ErrTeraRecord = errors.New("not a TeraSort record")

const upperHex = "0123456789ABCDEF"

// FillTeraRecord writes into rec (at least TeraRecordBytes long) the
// record of row number row whose random number is rand, exactly as
// Hadoop's GenSort.generateRecord: the 10 high bytes of rand as the key;
// the break 00 11; the row number as 32 upper-case hex digits; the break
// 88 99 AA BB; 48 bytes of filler, each of the 12 hex digits 20..31 of
// rand (as ASCII) four times; the break CC DD EE FF.
func FillTeraRecord(rec []byte, rand, row Unsigned16) {
	_ = rec[TeraRecordBytes-1]
	for i := 0; i < 8; i++ {
		rec[i] = byte(rand.Hi >> (56 - 8*i))
	}
	rec[8] = byte(rand.Lo >> 56)
	rec[9] = byte(rand.Lo >> 48)
	rec[10], rec[11] = 0x00, 0x11
	for i := 0; i < 16; i++ {
		rec[12+i] = upperHex[(row.Hi>>(60-4*i))&0xf]
		rec[28+i] = upperHex[(row.Lo>>(60-4*i))&0xf]
	}
	rec[44], rec[45], rec[46], rec[47] = 0x88, 0x99, 0xAA, 0xBB
	// Hex digits 20..31 of rand are the low 12 digits of its low half.
	for i := 0; i < 12; i++ {
		d := upperHex[(rand.Lo>>(44-4*i))&0xf]
		rec[48+4*i], rec[49+4*i], rec[50+4*i], rec[51+4*i] = d, d, d, d
	}
	rec[96], rec[97], rec[98], rec[99] = 0xCC, 0xDD, 0xEE, 0xFF
}

// TeraGenerator makes the records of consecutive rows, from any row on
// (it skips the generator ahead, as each of Hadoop's TeraGen map tasks
// does), and sums their checksums.
type TeraGenerator struct {
	row, rand Unsigned16
	sum       Unsigned16
}

// NewTeraGenerator returns a generator whose first record is row first.
func NewTeraGenerator(first uint64) *TeraGenerator {
	row := Unsigned16{Lo: first}
	return &TeraGenerator{row: row, rand: Random16SkipAhead(row)}
}

// Next writes the next record into rec (at least TeraRecordBytes long)
// and adds its CRC-32 to the generator's checksum.
func (g *TeraGenerator) Next(rec []byte) {
	g.rand = Random16Next(g.rand)
	FillTeraRecord(rec, g.rand, g.row)
	g.row = g.row.Add(Unsigned16{Lo: 1})
	g.sum = g.sum.Add(TeraChecksum(rec[:TeraRecordBytes]))
}

// Checksum returns the sum of the CRC-32s of the records made so far.
func (g *TeraGenerator) Checksum() Unsigned16 { return g.sum }

// TeraChecksum returns a record's CRC-32 (IEEE, as java.util.zip.CRC32)
// as an Unsigned16, the term TeraGen and TeraValidate sum.
func TeraChecksum(rec []byte) Unsigned16 {
	return Unsigned16{Lo: uint64(crc32.ChecksumIEEE(rec))}
}

// WriteTeraRecords writes the records of rows first to first+rows-1 to
// w, the same bytes teragen writes for them, and returns the sum of
// their checksums.
func WriteTeraRecords(w io.Writer, first, rows uint64) (Unsigned16, error) {
	g := NewTeraGenerator(first)
	buf := make([]byte, 0, 2560*TeraRecordBytes)
	for i := uint64(0); i < rows; i++ {
		n := len(buf)
		buf = buf[:n+TeraRecordBytes]
		g.Next(buf[n:])
		if len(buf) == cap(buf) || i == rows-1 {
			if _, err := w.Write(buf); err != nil {
				return Unsigned16{}, fmt.Errorf("write tera records: %w", err)
			}
			buf = buf[:0]
		}
	}
	return g.Checksum(), nil
}

// GenerateTeraFile writes rows records, from row 0, to a new local file
// at path (as "teragen ROWS" writes them, in one file) and returns the
// sum of their checksums.
func GenerateTeraFile(path string, rows uint64) (Unsigned16, error) {
	f, err := os.Create(path)
	if err != nil {
		return Unsigned16{}, fmt.Errorf("generate tera records: %w", err)
	}
	sum, err := WriteTeraRecords(f, 0, rows)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("generate tera records: %w", cerr)
	}
	if err != nil {
		os.Remove(path)
		return Unsigned16{}, err
	}
	return sum, nil
}

// AppendTeraLine appends a record (TeraRecordBytes) as a text line of
// TeraLineBytes: its key as 20 lower-case hex digits, a tab, its value as
// 180 hex digits, a newline. "LC_ALL=C sort" orders such lines as the
// records' keys (then values), and a streaming job reads them as
// key<TAB>value.
func AppendTeraLine(dst, rec []byte) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, TeraLineBytes)...)
	line := dst[n:]
	hex.Encode(line, rec[:TeraKeyBytes])
	line[2*TeraKeyBytes] = '\t'
	hex.Encode(line[2*TeraKeyBytes+1:], rec[TeraKeyBytes:TeraRecordBytes])
	line[TeraLineBytes-1] = '\n'
	return dst
}

// ParseTeraLine appends to dst the record a line written by
// AppendTeraLine holds (with or without its newline).
func ParseTeraLine(dst, line []byte) ([]byte, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) != TeraLineBytes-1 || line[2*TeraKeyBytes] != '\t' {
		return dst, fmt.Errorf("%w: a line of %d bytes, want %d hex digits, a tab, %d hex digits", ErrTeraRecord, len(line), 2*TeraKeyBytes, 2*(TeraRecordBytes-TeraKeyBytes))
	}
	n := len(dst)
	dst = append(dst, make([]byte, TeraRecordBytes)...)
	if _, err := hex.Decode(dst[n:], line[:2*TeraKeyBytes]); err != nil {
		return dst[:n], fmt.Errorf("%w: key: %v", ErrTeraRecord, err)
	}
	if _, err := hex.Decode(dst[n+TeraKeyBytes:], line[2*TeraKeyBytes+1:]); err != nil {
		return dst[:n], fmt.Errorf("%w: value: %v", ErrTeraRecord, err)
	}
	return dst, nil
}

// TeraRecordsToLines converts the records read from r into text lines
// (AppendTeraLine) written to w. Data whose size is not a multiple of
// TeraRecordBytes is an error naming the offset of the truncated record.
func TeraRecordsToLines(r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	rec := make([]byte, TeraRecordBytes)
	line := make([]byte, 0, TeraLineBytes)
	for off := int64(0); ; off += TeraRecordBytes {
		n, err := io.ReadFull(br, rec)
		if err == io.EOF {
			break
		}
		if err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w: truncated record at byte offset %d: %d bytes of %d", ErrTeraRecord, off, n, TeraRecordBytes)
		}
		if err != nil {
			return fmt.Errorf("read records at byte offset %d: %w", off, err)
		}
		line = AppendTeraLine(line[:0], rec)
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("write lines: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write lines: %w", err)
	}
	return nil
}

// TeraLinesToRecords converts text lines (AppendTeraLine) read from r
// back into records written to w. A malformed line is an error naming
// its number.
func TeraLinesToRecords(r io.Reader, w io.Writer) error {
	lines := newTeraLineReader(r)
	bw := bufio.NewWriterSize(w, 1<<20)
	for {
		rec, err := lines.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if _, err := bw.Write(rec); err != nil {
			return fmt.Errorf("write records: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write records: %w", err)
	}
	return nil
}

// teraLineReader reads the records of text lines.
type teraLineReader struct {
	sc   *bufio.Scanner
	line int64
	rec  []byte
}

func newTeraLineReader(r io.Reader) *teraLineReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return &teraLineReader{sc: sc, rec: make([]byte, 0, TeraRecordBytes)}
}

// next returns the next line's record (valid until the next call), or
// io.EOF.
func (t *teraLineReader) next() ([]byte, error) {
	if !t.sc.Scan() {
		if err := t.sc.Err(); err != nil {
			return nil, fmt.Errorf("read lines after line %d: %w", t.line, err)
		}
		return nil, io.EOF
	}
	t.line++
	rec, err := ParseTeraLine(t.rec[:0], t.sc.Bytes())
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", t.line, err)
	}
	t.rec = rec
	return rec, nil
}
