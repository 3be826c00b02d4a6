package jobs

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

// columnSumMapper sums one double column of its task's rows (CSV text or
// Parquet values) and emits the sum when the task ends.
type columnSumMapper struct {
	column string
	sum    float64
	n      int64
}

func (m *columnSumMapper) Setup(*mapreduce.TaskContext) error { m.sum, m.n = 0, 0; return nil }

func (m *columnSumMapper) Map(_ *mapreduce.TaskContext, rec mapreduce.Record, _ mapreduce.Emitter) error {
	i := rec.Schema.Index(m.column)
	if i < 0 {
		return fmt.Errorf("no column %s", m.column)
	}
	switch v := rec.Values[i].(type) {
	case float64:
		m.sum += v
	case string:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return err
		}
		m.sum += x
	case nil:
		return nil
	}
	m.n++
	return nil
}

func (m *columnSumMapper) Cleanup(_ *mapreduce.TaskContext, out mapreduce.Emitter) error {
	return out.Emit([]byte(m.column), binary.LittleEndian.AppendUint64(nil, math.Float64bits(m.sum)))
}

type floatSumReducer struct{}

func (floatSumReducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	var sum float64
	for values.Next() {
		sum += math.Float64frombits(binary.LittleEndian.Uint64(values.Value()))
	}
	return out.Emit(key, strconv.AppendFloat(nil, sum, 'g', -1, 64))
}

// runEngine runs a job over inputs in one process (splits of 64 MiB).
func runEngine(b *testing.B, job *mapreduce.Job, inputs []string, inputFormat string) {
	ctx := context.Background()
	fss := mapreduce.LocalFileSystems()
	files, err := mapreduce.ListInputs(ctx, fss, inputs)
	if err != nil {
		b.Fatal(err)
	}
	splits, err := mapreduce.PlanInput(ctx, fss, files, mapreduce.DefaultSplitSize, inputFormat)
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "out")
	if _, err := mapreduce.RunSequential(ctx, job, splits, mapreduce.SequentialOptions{Reducers: 1, Output: out, InputFormat: inputFormat}); err != nil {
		b.Fatal(err)
	}
}

func treeSize(b *testing.B, pattern string) int64 {
	files, _ := filepath.Glob(pattern)
	var n int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// BenchmarkUSGSParquetVsCSV converts the USGS earthquake CSV files to
// Parquet with csv2parquet (default row groups, snappy), reports both
// sizes, and times summing one column (mag) through the engine from the
// Parquet files, then from the CSV files: x_csv_vs_parquet is how much
// longer the CSV run takes. The Parquet reader decodes every column of a
// row (there is no column projection), so the gain is decoding typed
// values instead of parsing CSV text.
func BenchmarkUSGSParquetVsCSV(b *testing.B) {
	dir := usgsData(b)
	csvs := filepath.Join(dir, "*.csv")
	pq, _, _ := stepRun{job: Csv2ParquetJob, inputs: []string{csvs}}.run(b)
	pqFiles := filepath.Join(pq, "part-m-*.parquet")
	csvBytes, pqBytes := treeSize(b, csvs), treeSize(b, pqFiles)
	job := func() *mapreduce.Job {
		return &mapreduce.Job{Mapper: &columnSumMapper{column: "mag"}, Reducer: floatSumReducer{}}
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		runEngine(b, job(), []string{pqFiles}, mapreduce.ParquetInput)
	}
	parquetTime := time.Since(start)
	b.StopTimer()
	start = time.Now()
	for range b.N {
		runEngine(b, job(), []string{csvs}, mapreduce.CSVInput)
	}
	csvTime := time.Since(start)
	b.ReportMetric(float64(csvBytes), "csv_bytes")
	b.ReportMetric(float64(pqBytes), "parquet_bytes")
	b.ReportMetric(float64(csvBytes)/float64(pqBytes), "x_csv_vs_parquet_size")
	b.ReportMetric(float64(csvTime.Nanoseconds())/float64(b.N), "csv_ns/op")
	b.ReportMetric(float64(csvTime)/float64(parquetTime), "x_csv_vs_parquet_time")
}

// BenchmarkGzipInput times a word count over gzip-compressed text (the
// timed runs) and over the same text uncompressed (x_gzip_vs_plain is the
// ratio of the two), both in one split a file.
func BenchmarkGzipInput(b *testing.B) {
	dir := b.TempDir()
	var plain, packed []string
	for i := range 4 {
		var buf bytes.Buffer
		if err := WriteSampleText(&buf, 4<<20, uint64(i)); err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("text-%d.txt", i))
		os.WriteFile(p, buf.Bytes(), 0o644)
		var gz bytes.Buffer
		zw := stdgzip.NewWriter(&gz)
		zw.Write(buf.Bytes())
		zw.Close()
		os.WriteFile(p+".gz", gz.Bytes(), 0o644)
		plain, packed = append(plain, p), append(packed, p+".gz")
	}
	wc, _ := Lookup("wordcount")
	job, err := wc.Build(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(16 << 20)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		runEngine(b, job, packed, mapreduce.TextInput)
	}
	gzTime := time.Since(start)
	b.StopTimer()
	start = time.Now()
	for range b.N {
		runEngine(b, job, plain, mapreduce.TextInput)
	}
	b.ReportMetric(float64(gzTime)/float64(time.Since(start)), "x_gzip_vs_plain")
}
