package jobs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkTeraGen measures generating records (the generator, the
// layout and the CRC-32 sum), written nowhere.
func BenchmarkTeraGen(b *testing.B) {
	const rows = 100_000
	b.SetBytes(rows * TeraRecordBytes)
	for b.Loop() {
		if _, err := WriteTeraRecords(io.Discard, 0, rows); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTeraSortSequential measures a terasort step of 200,000
// records (20 MB) through the sequential runner: 4 splits, 4 reducers.
func BenchmarkTeraSortSequential(b *testing.B) {
	const rows = 200_000
	dir := b.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	if _, err := GenerateTeraFile(filepath.Join(in, "records"), rows); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rows * TeraRecordBytes)
	i := 0
	for b.Loop() {
		i++
		if _, _, err := tryTeraStep(b, TeraSortJob, []string{in}, filepath.Join(dir, fmt.Sprint("out", i)), 4, nil, rows*TeraRecordBytes/4); err != nil {
			b.Fatal(err)
		}
	}
}
