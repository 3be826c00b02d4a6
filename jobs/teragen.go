package jobs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// TeraGenJob is the name of the job that generates TeraSort input.
const TeraGenJob = "teragen"

// Counters and files of teragen.
const (
	// TeraGenChecksum is Hadoop TeraGen's CHECKSUM counter: the low 64
	// bits of the sum of the records' CRC-32s (as a signed number, as
	// Hadoop's long counter shows it). The whole 128-bit sum is in the
	// output's _checksums files.
	TeraGenChecksum = "CHECKSUM"
	// TeraChecksumsDir holds, in a teragen output, one file per map task
	// (part-m-NNNNN, as its part file) with the task's row count and the
	// sum of its records' CRC-32s in hex: "ROWS<TAB>SUM". Teravalidate's
	// --generated reads them.
	TeraChecksumsDir = "_checksums"
)

// teraGenMapBytes is the data one teragen map task makes when --maps is
// not given: the default split size, so that a later terasort has about
// as many map tasks.
const teraGenMapBytes = mapreduce.DefaultSplitSize

// teraGenMaxAutoMaps bounds the map tasks teragen picks itself (10 TB of
// records make maps of 1 GB).
const teraGenMaxAutoMaps = 10_000

// teraControlDir is the folder, in a step's staging folder, holding
// teragen's control files: one per map task, named task-NNNNNN, holding
// "TASK<TAB>FIRST-ROW<TAB>ROWS".
const teraControlDir = "teragen"

func teraGen() *Definition {
	return &Definition{
		Name: TeraGenJob,
		Summary: "generate N 100-byte TeraSort records in Hadoop's binary layout (teragen; map-only, no input: " +
			"each map makes its own range of rows; the CRC-32 sum goes in the CHECKSUM counter and _checksums/)",
		MapOnly:    true,
		WholeFiles: true,
		NoInput:    true,
		Options: []Option{
			{Name: "rows", Usage: "number of 100-byte records to generate (required)"},
			{Name: "maps", Usage: "number of map tasks (0: one per 64 MiB of records, at most 10000)", Default: "0"},
		},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			return &mapreduce.Job{Mapper: teraGenMapper{}}, nil
		},
		plan: func(files []mapreduce.InputFile, opts map[string]string) ([]mapreduce.Split, error) {
			splits := make([]mapreduce.Split, 0, len(files))
			for _, f := range files {
				splits = append(splits, mapreduce.WholeFileSplit([]mapreduce.InputFile{f}))
			}
			return splits, nil
		},
		prepareClient: prepareTeraGen,
	}
}

// teraGenPlan is teragen's parsed options: rows cut into maps ranges.
func teraGenPlan(opts map[string]string) (rows uint64, maps int, err error) {
	rows, err = strconv.ParseUint(opts["rows"], 10, 64)
	if err != nil || rows == 0 || rows > 1<<56 {
		return 0, 0, fmt.Errorf("%w: --rows takes the number of records to generate (at least 1), got %q", ErrBadOption, opts["rows"])
	}
	maps, err = strconv.Atoi(opts["maps"])
	if err != nil || maps < 0 || maps > 1<<20 {
		return 0, 0, fmt.Errorf("%w: --maps takes a number of map tasks (0: automatic), got %q", ErrBadOption, opts["maps"])
	}
	if maps == 0 {
		maps = int(min(teraGenMaxAutoMaps, max(1, (rows*TeraRecordBytes+teraGenMapBytes-1)/teraGenMapBytes)))
	}
	if uint64(maps) > rows {
		maps = int(rows)
	}
	return rows, maps, nil
}

// TeraGenRanges returns the rows each of maps map tasks generates: task i
// makes rows [first[i], first[i]+count[i]): equal ranges, the first
// rows%maps tasks one row more.
func TeraGenRanges(rows uint64, maps int) (first, count []uint64) {
	per, extra := rows/uint64(maps), rows%uint64(maps)
	var next uint64
	for i := 0; i < maps; i++ {
		n := per
		if uint64(i) < extra {
			n++
		}
		first, count = append(first, next), append(count, n)
		next += n
	}
	return first, count
}

// prepareTeraGen writes one control file per map task into the step's
// staging folder and makes that folder the step's input.
func prepareTeraGen(ctx context.Context, s *ClientStep, opts map[string]string) error {
	if len(s.Inputs) > 0 {
		return fmt.Errorf("%w: teragen reads no input (it generates --rows records), but the step names %s", ErrBadOption, strings.Join(s.Inputs, ", "))
	}
	rows, maps, err := teraGenPlan(opts)
	if err != nil {
		return err
	}
	if s.Staging == "" {
		return fmt.Errorf("no staging folder for teragen's control files")
	}
	fs, err := s.FileSystems.For(s.Staging)
	if err != nil {
		return fmt.Errorf("staging folder %s: %w", s.Staging, err)
	}
	dir := mapreduce.Join(s.Staging, teraControlDir)
	first, count := TeraGenRanges(rows, maps)
	for i := range first {
		name := mapreduce.Join(dir, fmt.Sprintf("task-%06d", i))
		w, err := fs.Create(ctx, name)
		if err != nil {
			return fmt.Errorf("write control file %s: %w", name, err)
		}
		if _, err := fmt.Fprintf(w, "%d\t%d\t%d\n", i, first[i], count[i]); err != nil {
			w.Abort()
			return fmt.Errorf("write control file %s: %w", name, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("write control file %s: %w", name, err)
		}
	}
	s.Inputs = []string{dir}
	return nil
}

// teraGenMapper generates the rows its control file names into a part
// file of its own.
type teraGenMapper struct{}

// Map implements mapreduce.Mapper; teragen maps whole control files.
func (teraGenMapper) Map(*mapreduce.TaskContext, mapreduce.Record, mapreduce.Emitter) error {
	return fmt.Errorf("teragen maps control files whole: its input is not read by line")
}

// MapFiles implements mapreduce.FileMapper: it reads the task's control
// file and writes its rows to part-m-TASK, and their checksum to
// _checksums/part-m-TASK.
func (teraGenMapper) MapFiles(tc *mapreduce.TaskContext, files []mapreduce.SplitFile, fss *mapreduce.FileSystems, out mapreduce.TaskOutput) error {
	ctx := tc.Context()
	for _, sf := range files {
		task, first, rows, err := readTeraControl(ctx, fss, sf)
		if err != nil {
			return err
		}
		name := mapreduce.PartName('m', task)
		w, err := out.Create(ctx, name)
		if err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		sum, err := writeTeraRows(tc, w, first, rows)
		if err != nil {
			w.Abort()
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		cw, err := out.Create(ctx, TeraChecksumsDir+"/"+name)
		if err != nil {
			return fmt.Errorf("create %s/%s: %w", TeraChecksumsDir, name, err)
		}
		if _, err := fmt.Fprintf(cw, "%d\t%s\n", rows, sum); err != nil {
			cw.Abort()
			return fmt.Errorf("write %s/%s: %w", TeraChecksumsDir, name, err)
		}
		if err := cw.Close(); err != nil {
			return fmt.Errorf("write %s/%s: %w", TeraChecksumsDir, name, err)
		}
		tc.Counters.Add(TeraGenChecksum, int64(sum.Lo))
		tc.Counters.Add(mapreduce.MapOutputRecords, int64(rows))
		tc.Counters.Add(mapreduce.BytesWritten, int64(rows)*TeraRecordBytes)
	}
	return nil
}

// readTeraControl reads a control file: "TASK<TAB>FIRST-ROW<TAB>ROWS".
func readTeraControl(ctx context.Context, fss *mapreduce.FileSystems, sf mapreduce.SplitFile) (task int, first, rows uint64, err error) {
	f, err := mapreduce.OpenWholeFile(ctx, fss, sf)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(io.NewSectionReader(f, 0, 4096)).ReadString('\n')
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read control file %s: %w", sf.File, err)
	}
	fields := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
	if len(fields) == 3 {
		task, err = strconv.Atoi(fields[0])
		if err == nil {
			first, err = strconv.ParseUint(fields[1], 10, 64)
		}
		if err == nil {
			rows, err = strconv.ParseUint(fields[2], 10, 64)
		}
		if err == nil && task >= 0 {
			return task, first, rows, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("control file %s line 1: want TASK<TAB>FIRST-ROW<TAB>ROWS, got %q", sf.File, strings.TrimSpace(line))
}

// writeTeraRows writes rows records from row first to w, reporting
// progress and stopping when the task is cancelled.
func writeTeraRows(tc *mapreduce.TaskContext, w io.Writer, first, rows uint64) (Unsigned16, error) {
	const batch = 1 << 16
	var sum Unsigned16
	for done := uint64(0); done < rows; {
		if err := tc.Context().Err(); err != nil {
			return sum, err
		}
		n := min(batch, rows-done)
		s, err := WriteTeraRecords(w, first+done, n)
		if err != nil {
			return sum, err
		}
		sum = sum.Add(s)
		done += n
		if tc.Progress != nil {
			tc.Progress.Set(float64(done) / float64(rows))
		}
	}
	return sum, nil
}
