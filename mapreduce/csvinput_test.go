package mapreduce

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rowMapper emits, for each CSV row, its line number as the key and its
// fields as the value: "name=value" joined by \x1f, <nil> for a null.
type rowMapper struct{}

func (rowMapper) Map(_ *TaskContext, rec Record, out Emitter) error {
	var parts []string
	for i, v := range rec.Values {
		s := "<nil>"
		if v != nil {
			s = v.(string)
		}
		parts = append(parts, rec.Schema[i].Name+"="+s)
	}
	return out.Emit([]byte(fmt.Sprintf("%s:%08d", rec.Doc, rec.Offset)), []byte(strings.Join(parts, "\x1f")))
}

// TestCSVInput reads a CSV file cut into many splits (each reads the
// header from the file's start): every good row is handed to the mapper
// once with its header, as encoding/csv reads it; every bad row is
// rejected with its file, line and reason, and counted.
func TestCSVInput(t *testing.T) {
	dir := t.TempDir()
	header := "id,name,note"
	var lines []string
	lines = append(lines, header)
	wantBad := map[int]string{} // line number -> reason fragment
	for i := 1; len(lines) < 400; i++ {
		n := len(lines) + 1 // the line number of the next line
		switch i % 37 {
		case 5:
			lines = append(lines, fmt.Sprintf("%d,too,many,fields", i))
			wantBad[n] = "has 4 fields, the header has 3"
		case 11:
			lines = append(lines, fmt.Sprintf("%d,short", i))
			wantBad[n] = "has 2 fields, the header has 3"
		case 17:
			lines = append(lines, fmt.Sprintf("%d,bad \xff\xfe utf8,x", i))
			wantBad[n] = "not valid UTF-8"
		case 23:
			// A quoted field holding a line break: two lines, both rejected.
			lines = append(lines, fmt.Sprintf(`%d,"first half`, i), `second half",x`)
			wantBad[n] = "rows must be one line each"
			wantBad[n+1] = "CSV"
		case 29:
			lines = append(lines, fmt.Sprintf(`%d,stray "quote,x`, i))
			wantBad[n] = "double quote inside an unquoted field"
		default:
			lines = append(lines, fmt.Sprintf(`%d,"name, with comma ""%d""",%s`, i, i, strings.Repeat("n", i%5)))
		}
	}
	text := strings.Join(lines, "\r\n") + "\r\n"
	path := filepath.Join(dir, "rows.csv")
	os.WriteFile(path, []byte(text), 0o644)

	// The independent reading: encoding/csv on each good line.
	var want []string
	offset := 0
	for n, l := range lines {
		lineNo := n + 1
		off := offset
		offset += len(l) + 2
		if lineNo == 1 {
			continue
		}
		if _, bad := wantBad[lineNo]; bad {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(l)).Read()
		if err != nil {
			t.Fatalf("line %d: encoding/csv: %v", lineNo, err)
		}
		var parts []string
		for i, name := range strings.Split(header, ",") {
			v := rec[i]
			if v == "" {
				v = "<nil>"
			}
			parts = append(parts, name+"="+v)
		}
		want = append(want, fmt.Sprintf("rows.csv:%08d\t%s", off, strings.Join(parts, "\x1f")))
	}
	slices.Sort(want)

	job := &Job{Mapper: rowMapper{}, Reducer: concatReducer{}}
	out := filepath.Join(dir, "out")
	parts, c, err := runFiles(t, job, []string{path}, 1<<10, SequentialOptions{Reducers: 1, InputFormat: CSVInput, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(parts["part-r-00000"], "\n"), "\n")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("rows differ from encoding/csv's:\ngot  %d rows, first %q\nwant %d rows, first %q", len(got), got[:min(2, len(got))], len(want), want[:min(2, len(want))])
	}
	if c.Get(RejectedRecords) != int64(len(wantBad)) || c.Get(MalformedRecords) != int64(len(wantBad)) {
		t.Errorf("REJECTED_RECORDS %d, MALFORMED_RECORDS %d; want %d", c.Get(RejectedRecords), c.Get(MalformedRecords), len(wantBad))
	}
	if c.Get(MapInputRecords) != int64(len(lines)-1) {
		t.Errorf("MAP_INPUT_RECORDS %d, want %d (every line but the header)", c.Get(MapInputRecords), len(lines)-1)
	}
	// The rejects: file, line, reason, the line itself.
	rejected := map[int]string{}
	files, _ := filepath.Glob(filepath.Join(out, RejectsDir, "part-m-*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			fields := strings.SplitN(l, "\t", 4)
			if len(fields) != 4 || fields[0] != path {
				t.Fatalf("reject %q: want file<TAB>line<TAB>reason<TAB>line", l)
			}
			n, _ := strconv.Atoi(fields[1])
			if fields[3] != lines[n-1] {
				t.Errorf("reject of line %d holds %q, the line is %q", n, fields[3], lines[n-1])
			}
			rejected[n] = fields[2]
		}
	}
	if len(rejected) != len(wantBad) {
		t.Errorf("%d rejected lines, want %d", len(rejected), len(wantBad))
	}
	for n, frag := range wantBad {
		if !strings.Contains(rejected[n], frag) {
			t.Errorf("line %d: reject reason %q, want it to say %q", n, rejected[n], frag)
		}
	}
}

// TestCSVHeaderErrors checks that a header row that cannot be read fails
// the task, naming the file and line 1, and that an empty file has no
// rows.
func TestCSVHeaderErrors(t *testing.T) {
	dir := t.TempDir()
	job := &Job{Mapper: rowMapper{}, Reducer: concatReducer{}}
	for name, text := range map[string]string{
		"badquote.csv": "a,b\"c\n1,2\n",
		"badutf8.csv":  "a,\xffb\n1,2\n",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(text), 0o644)
		_, _, err := runFiles(t, job, []string{path}, 1<<20, SequentialOptions{Reducers: 1, InputFormat: CSVInput})
		if err == nil || !strings.Contains(err.Error(), path+": line 1") {
			t.Errorf("%s: %v; want an error naming the file and line 1", name, err)
		}
	}
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, nil, 0o644)
	headerOnly := filepath.Join(dir, "header.csv")
	os.WriteFile(headerOnly, []byte("\xef\xbb\xbfa,b\n"), 0o644)
	parts, c, err := runFiles(t, job, []string{empty, headerOnly}, 1<<20, SequentialOptions{Reducers: 1, InputFormat: CSVInput})
	if err != nil || parts["part-r-00000"] != "" || c.Get(MapInputRecords) != 0 {
		t.Errorf("empty and header-only files: %q, %d records, %v", parts["part-r-00000"], c.Get(MapInputRecords), err)
	}
}
