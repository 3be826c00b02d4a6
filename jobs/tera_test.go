package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

func TestRandom16PowersAreHadoopsGenArray(t *testing.T) {
	// Entries of Hadoop's Random16.genArray (Random16.java).
	for i, want := range map[int][2]string{
		0:   {"2360ed051fc65da44385df649fccf645", "4a696d47726179524950202020202001"},
		1:   {"17bce35bdf69743c529ed9eb20e0ae99", "95e0e48262b3edfe04479485c755b646"},
		2:   {"f4dd417327db7a9bd194dfbe42d45771", "882a02c315362b60765f100068b33a1c"},
		63:  {"af85d0c629e6c7de0000000000000001", "7858ca25feb8d4bf8000000000000000"},
		64:  {"5f0ba18c53cd8fbc0000000000000001", "f0b1944bfd71a97f0000000000000000"},
		127: {"00000000000000000000000000000001", "80000000000000000000000000000000"},
	} {
		got := random16Powers[i]
		if got.a != mustUnsigned16(want[0]) || got.c != mustUnsigned16(want[1]) {
			t.Errorf("genArray[%d] = (%s, %s), want (%s, %s)", i, got.a, got.c, want[0], want[1])
		}
	}
}

func TestTeraGenRecordsMatchAnIndependentGenerator(t *testing.T) {
	const rows = 2000
	var buf bytes.Buffer
	sum, err := WriteTeraRecords(&buf, 0, rows)
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() != rows*TeraRecordBytes {
		t.Fatalf("%d bytes, want %d", buf.Len(), rows*TeraRecordBytes)
	}
	// gensort's first key is the generator's constant c: "JimGrayRIP".
	if got := string(buf.Bytes()[:10]); got != "JimGrayRIP" {
		t.Fatalf("first key %q, want gensort's JimGrayRIP", got)
	}
	x := new(big.Int)
	wantSum := new(big.Int)
	for row := uint64(0); row < rows; row++ {
		x = bigLCG.apply(x)
		want := bigRecord(x, row)
		got := buf.Bytes()[row*TeraRecordBytes : (row+1)*TeraRecordBytes]
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %x\nwant %x", row, got, want)
		}
		wantSum.Add(wantSum, big.NewInt(int64(crc32.ChecksumIEEE(want))))
	}
	if sum != toU16(wantSum) || sum.String() != wantSum.Text(16) {
		t.Fatalf("checksum %s, want %s", sum, wantSum.Text(16))
	}
	// Record 1's row id and break bytes, spelled out.
	rec1 := buf.Bytes()[100:200]
	if string(rec1[12:44]) != "00000000000000000000000000000001" || !bytes.Equal(rec1[10:12], []byte{0, 0x11}) ||
		!bytes.Equal(rec1[44:48], []byte{0x88, 0x99, 0xAA, 0xBB}) || !bytes.Equal(rec1[96:], []byte{0xCC, 0xDD, 0xEE, 0xFF}) {
		t.Fatalf("record 1 layout: %x", rec1)
	}
}

func TestRandom16SkipAheadMatchesIteration(t *testing.T) {
	for _, n := range []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(12345), bigHex("10000000000000005"), bigHex("fedcba9876543210fedcba9876543210")} {
		if got, want := Random16SkipAhead(toU16(n)), toU16(bigSkip(n)); got != want {
			t.Errorf("skipAhead(%s) = %s, want %s", n.Text(16), got, want)
		}
	}
	// And by plain iteration.
	x := Unsigned16{}
	for i := 0; i < 5000; i++ {
		x = Random16Next(x)
	}
	if got := Random16SkipAhead(Unsigned16{Lo: 5000}); got != x {
		t.Fatalf("skipAhead(5000) = %s, iteration gives %s", got, x)
	}
}

func TestTeraGenTasksEqualOneSequentialGeneration(t *testing.T) {
	const rows = 3001
	var whole bytes.Buffer
	wantSum, err := WriteTeraRecords(&whole, 0, rows)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "gen")
	_, c := teraStep(t, TeraGenJob, nil, out, 0, map[string]string{"rows": fmt.Sprint(rows), "maps": "7"}, 0)
	parts := readParts(t, out)
	if len(parts) != 7 {
		t.Fatalf("%d part files, want 7", len(parts))
	}
	if got := bytes.Join(parts, nil); !bytes.Equal(got, whole.Bytes()) {
		t.Fatalf("7 map tasks made %d bytes that differ from one sequential generation (%d bytes)", len(got), whole.Len())
	}
	if got := c.Get(TeraGenChecksum); got != int64(wantSum.Lo) {
		t.Fatalf("CHECKSUM counter %d, want the low 64 bits of %s", got, wantSum)
	}
	gotRows, sum, err := ReadTeraGenChecksum(context.Background(), mapreduce.LocalFileSystems(), out)
	if err != nil || gotRows != rows || sum != wantSum {
		t.Fatalf("_checksums: %d rows, sum %s, %v; want %d rows, %s", gotRows, sum, err, rows, wantSum)
	}
	if c.Get(mapreduce.MapOutputRecords) != rows {
		t.Fatalf("MAP_OUTPUT_RECORDS %d", c.Get(mapreduce.MapOutputRecords))
	}
}

func TestTeraSortThenTeraValidate(t *testing.T) {
	const rows = 5000
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen")
	teraStep(t, TeraGenJob, nil, gen, 0, map[string]string{"rows": fmt.Sprint(rows), "maps": "3"}, 0)
	input := bytes.Join(readParts(t, gen), nil)

	sorted := filepath.Join(dir, "sorted")
	// Splits of 30,001 bytes cut records: each belongs to the split it
	// starts in.
	opts, c := teraStep(t, TeraSortJob, []string{gen}, sorted, 4, map[string]string{"samples": "1000"}, 30_001)
	points, err := ParseTeraSplitPoints(opts["split-points"])
	if err != nil || len(points) != 3 {
		t.Fatalf("split points %q: %v", opts["split-points"], err)
	}
	if c.Get(mapreduce.MapInputRecords) != rows || c.Get(mapreduce.ReduceOutputRecords) != rows {
		t.Fatalf("counters: %v", c.Map())
	}
	parts := readParts(t, sorted)
	if len(parts) != 4 {
		t.Fatalf("%d parts", len(parts))
	}
	// Independent check: every key at least the one before, across parts;
	// every part within its split points; the same records as the input.
	var prev []byte
	var got [][]byte
	for p, part := range parts {
		if len(part)%TeraRecordBytes != 0 || len(part) == 0 {
			t.Fatalf("part %d has %d bytes", p, len(part))
		}
		for off := 0; off < len(part); off += TeraRecordBytes {
			rec := part[off : off+TeraRecordBytes]
			key := rec[:TeraKeyBytes]
			if prev != nil && bytes.Compare(key, prev) < 0 {
				t.Fatalf("part %d byte offset %d: key %x after %x", p, off, key, prev)
			}
			if (p > 0 && bytes.Compare(key, points[p-1]) < 0) || (p < 3 && bytes.Compare(key, points[p]) >= 0) {
				t.Fatalf("part %d holds key %x outside its range", p, key)
			}
			prev = key
			got = append(got, rec)
		}
	}
	var want [][]byte
	for off := 0; off < len(input); off += TeraRecordBytes {
		want = append(want, input[off:off+TeraRecordBytes])
	}
	slices.SortFunc(got, bytes.Compare)
	slices.SortFunc(want, bytes.Compare)
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("sorted records are not the input's records (%d vs %d)", len(got), len(want))
	}

	// teravalidate, with the checksum teragen wrote.
	val := filepath.Join(dir, "validate")
	vopts, _ := teraStep(t, TeraValidateJob, []string{sorted}, val, 1, map[string]string{"generated": gen}, 30_001)
	_, sum, err := ReadTeraGenChecksum(context.Background(), mapreduce.LocalFileSystems(), gen)
	if err != nil {
		t.Fatal(err)
	}
	if vopts["checksum"] != sum.String() {
		t.Fatalf("--generated gave checksum %q, want %s", vopts["checksum"], sum)
	}
	report := string(bytes.Join(readParts(t, val), nil))
	if report != "checksum\t"+sum.String()+"\n" {
		t.Fatalf("teravalidate wrote %q, want only the checksum line %s", report, sum)
	}

	// The bench API: records as lines, sorted by sort(1) (or Go when it
	// is missing), match terasort's parts.
	var lines bytes.Buffer
	if err := TeraRecordsToLines(bytes.NewReader(input), &lines); err != nil {
		t.Fatal(err)
	}
	sortedLines := sortLines(t, lines.Bytes())
	if err := CheckTeraSortOutput(context.Background(), mapreduce.LocalFileSystems(), sorted, bytes.NewReader(sortedLines)); err != nil {
		t.Fatalf("CheckTeraSortOutput: %v", err)
	}
	var back bytes.Buffer
	if err := TeraLinesToRecords(bytes.NewReader(sortedLines), &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Bytes(), bytes.Join(parts, nil)) {
		t.Fatalf("lines sorted by sort and converted back differ from terasort's parts")
	}
	// A record changed in the sorted lines is caught.
	bad := slices.Clone(sortedLines)
	bad[TeraLineBytes*100+30] ^= 1
	err = CheckTeraSortOutput(context.Background(), mapreduce.LocalFileSystems(), sorted, bytes.NewReader(bad))
	part, n := 0, 100
	for n >= len(parts[part])/TeraRecordBytes {
		n -= len(parts[part]) / TeraRecordBytes
		part++
	}
	if want := fmt.Sprintf("part-r-%05d record %d (byte offset %d): a record of key ", part, n, n*TeraRecordBytes); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("CheckTeraSortOutput of a changed record 100: %v, want an error naming %q", err, want)
	}
}

// sortLines sorts lines as "LC_ALL=C sort" does, with sort(1) when the
// machine has it.
func sortLines(t *testing.T, lines []byte) []byte {
	if _, err := exec.LookPath("sort"); err == nil {
		cmd := exec.Command("sort")
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		cmd.Stdin = bytes.NewReader(lines)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sort: %v", err)
		}
		return out
	}
	ls := strings.SplitAfter(string(lines), "\n")
	slices.Sort(ls)
	return []byte(strings.Join(ls, ""))
}

func TestTeraValidateFindsMisorders(t *testing.T) {
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen")
	teraStep(t, TeraGenJob, nil, gen, 0, map[string]string{"rows": "3000", "maps": "2"}, 0)
	sorted := filepath.Join(dir, "sorted")
	teraStep(t, TeraSortJob, []string{gen}, sorted, 3, nil, 0)
	_, sum, _ := ReadTeraGenChecksum(context.Background(), mapreduce.LocalFileSystems(), gen)

	validate := func(name string, mutate func(dir string)) string {
		t.Helper()
		in := filepath.Join(dir, name)
		if err := os.CopyFS(in, os.DirFS(sorted)); err != nil {
			t.Fatal(err)
		}
		mutate(in)
		out := filepath.Join(dir, name+"-report")
		teraStep(t, TeraValidateJob, []string{in}, out, 1, map[string]string{"checksum": sum.String()}, 0)
		return string(bytes.Join(readParts(t, out), nil))
	}
	// Two records of part 1 swapped: records 10 and 11.
	swapped := validate("swapped", func(d string) {
		p := filepath.Join(d, "part-r-00001")
		b, _ := os.ReadFile(p)
		r10 := slices.Clone(b[1000:1100])
		copy(b[1000:1100], b[1100:1200])
		copy(b[1100:1200], r10)
		os.WriteFile(p, b, 0o644)
	})
	if want := "checksum\t" + sum.String() + "\nerror\tmisorder in part-r-00001: record 11 (byte offset 1100) has key "; !strings.HasPrefix(swapped, want) || strings.Count(swapped, "error\t") != 1 {
		t.Fatalf("swapped pair: report %q, want one error starting %q", swapped, want)
	}
	// Parts 0 and 1 exchanged: each is in order, but not across parts.
	exchanged := validate("exchanged", func(d string) {
		a, b := filepath.Join(d, "part-r-00000"), filepath.Join(d, "part-r-00001")
		os.Rename(a, a+".tmp")
		os.Rename(b, a)
		os.Rename(a+".tmp", b)
	})
	if !strings.Contains(exchanged, "error\tmisorder across splits: part-r-00001 record 0 (byte offset 0) has key ") ||
		!strings.Contains(exchanged, "of part-r-00000 record ") || !strings.HasPrefix(exchanged, "checksum\t"+sum.String()+"\n") {
		t.Fatalf("exchanged parts: report %q", exchanged)
	}
	// A record dropped: the checksum differs.
	dropped := validate("dropped", func(d string) {
		p := filepath.Join(d, "part-r-00002")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[100:], 0o644)
	})
	if !strings.Contains(dropped, "error\tchecksum ") || !strings.Contains(dropped, "differs from the generated data's "+sum.String()) {
		t.Fatalf("dropped record: report %q", dropped)
	}
}

func TestTeraBadInputNamesFileAndOffset(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "in", "short.bin")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	var buf bytes.Buffer
	WriteTeraRecords(&buf, 0, 11)
	os.WriteFile(bad, buf.Bytes()[:1050], 0o644)

	// At submission: the client's sampling refuses it.
	_, _, err := tryTeraStep(t, TeraSortJob, []string{filepath.Dir(bad)}, filepath.Join(dir, "out"), 2, nil, 0)
	var ie *mapreduce.InputError
	if !errors.As(err, &ie) || ie.File != bad || ie.Offset != 1000 || !strings.Contains(err.Error(), "truncated record") {
		t.Fatalf("terasort of a 1050-byte file: %v", err)
	}
	// In a map task (a split planned without the size check): the
	// truncated last record is an error at its offset.
	err = mapreduce.ReadRecords(context.Background(), mapreduce.LocalFileSystems(), mapreduce.Split{File: bad, Doc: "short.bin", Offset: 0, Length: 1050}, mapreduce.TeraInput, 0, func(mapreduce.Record) bool { return true })
	if !errors.As(err, &ie) || ie.File != bad || ie.Offset != 1000 || !strings.Contains(err.Error(), "byte offset 1000") {
		t.Fatalf("reading a truncated record: %v", err)
	}
	// Converting to lines.
	err = TeraRecordsToLines(bytes.NewReader(buf.Bytes()[:1050]), &bytes.Buffer{})
	if !errors.Is(err, ErrTeraRecord) || !strings.Contains(err.Error(), "byte offset 1000") {
		t.Fatalf("TeraRecordsToLines: %v", err)
	}
	// A line that is not a record.
	if err := TeraLinesToRecords(strings.NewReader("zz\tyy\n"), &bytes.Buffer{}); !errors.Is(err, ErrTeraRecord) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("TeraLinesToRecords: %v", err)
	}
	// Bad options.
	for _, tc := range []struct {
		job  string
		opts map[string]string
		want string
	}{
		{TeraGenJob, map[string]string{"rows": "0"}, "--rows"},
		{TeraGenJob, map[string]string{"rows": "ten"}, "--rows"},
		{TeraSortJob, map[string]string{"split-points": "zz"}, "not hex"},
		{TeraSortJob, map[string]string{"split-points": "0a,0a"}, "not greater"},
	} {
		_, _, err := tryTeraStep(t, tc.job, nil, filepath.Join(t.TempDir(), "o"), 3, tc.opts, 0)
		if !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want a bad option naming %s", tc.job, tc.opts, err, tc.want)
		}
	}
}

func TestTeraGenCutsRowsIntoMapRanges(t *testing.T) {
	first, count := TeraGenRanges(10, 3)
	if !slices.Equal(first, []uint64{0, 4, 7}) || !slices.Equal(count, []uint64{4, 3, 3}) {
		t.Fatalf("10 rows in 3 maps: first %v, count %v", first, count)
	}
	for _, tc := range []struct {
		rows, maps string
		want       int
	}{
		{"1000000", "0", 2},         // 100 MB: two maps of 64 MiB
		{"10000000000", "0", 10000}, // 1 TB: capped
		{"671088", "0", 1},          // just under 64 MiB
		{"5", "8", 5},               // no more maps than rows
		{"100", "4", 4},
	} {
		_, maps, err := teraGenPlan(map[string]string{"rows": tc.rows, "maps": tc.maps})
		if err != nil || maps != tc.want {
			t.Errorf("--rows %s --maps %s: %d maps, %v; want %d", tc.rows, tc.maps, maps, err, tc.want)
		}
	}
}
