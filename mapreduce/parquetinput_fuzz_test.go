package mapreduce

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce/format"
)

// FuzzParquetFooter puts an arbitrary footer after the row groups of a
// real Parquet file (rows of testParquetSchema) and reads the file as a
// map task does. It checks that the reader never panics or runs away: an
// error names the file and, when it is about the file's data, wraps one
// of the format's Parquet errors; the rows read have a value per column
// and are no more than the footer claims.
func FuzzParquetFooter(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.parquet")
	writeParquetFile(f, path, 30, 8)
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	footerLen := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	body, footer := data[:len(data)-8-footerLen], data[len(data)-8-footerLen:len(data)-8]
	f.Add(bytes.Clone(footer))
	f.Add(bytes.Clone(footer[:footerLen/2]))
	f.Add([]byte{0x00})
	f.Add([]byte{0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00})
	f.Add(bytes.Repeat([]byte{0x1c}, 100))
	f.Fuzz(func(t *testing.T, footer []byte) {
		file := append(bytes.Clone(body), footer...)
		file = binary.LittleEndian.AppendUint32(file, uint32(len(footer)))
		file = append(file, "PAR1"...)
		path := filepath.Join(t.TempDir(), "in.parquet")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		named := func(err error) {
			t.Helper()
			var ie *InputError
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			if errors.As(err, &ie) && (ie.File != path || !errors.Is(err, format.ErrCorruptParquet) && !errors.Is(err, format.ErrNotParquet) && !errors.Is(err, format.ErrUnsupportedParquet)) {
				t.Fatalf("input error %v: want it to name %s and wrap a Parquet error", err, path)
			}
		}
		rr, err := openRecords(context.Background(), LocalFileSystems(), Split{File: path, Length: int64(len(file))}, ParquetInput, 0)
		if err != nil {
			named(err)
			return
		}
		defer rr.Close()
		claimed := rr.(*parquetReader).pf.NumRows()
		var rows int64
		for {
			var rec Record
			err := rr.readRecord(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				named(err)
				return
			}
			if rows++; rows > claimed {
				t.Fatalf("read %d rows, the footer claims %d", rows, claimed)
			}
			if len(rec.Values) != len(rec.Schema) {
				t.Fatalf("row %d: %d values for %d columns", rows, len(rec.Values), len(rec.Schema))
			}
		}
	})
}
