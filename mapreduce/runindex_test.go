package mapreduce

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRunIndexRoundTrip(t *testing.T) {
	segs := []Segment{
		{Partition: 0, Offset: 0, Length: 0, Records: 0},
		{Partition: 1, Offset: 0, Length: 1025, RawLength: 4000, Records: 12, Sums: []uint32{1, 0xffffffff, 3}, Codec: "s2"},
		{Partition: 2, Offset: 1025, Length: 512, RawLength: 512, Records: 1 << 40, Sums: []uint32{7}},
	}
	path := filepath.Join(t.TempDir(), "run.index")
	if err := writeRunIndex(path, segs); err != nil {
		t.Fatal(err)
	}
	got, err := readRunIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	segs[0].Sums = []uint32{} // decoded as empty, not nil
	if !reflect.DeepEqual(got, segs) {
		t.Fatalf("decoded %+v, want %+v", got, segs)
	}
}

func TestRunIndexBadInput(t *testing.T) {
	good := encodeRunIndex([]Segment{{Partition: 3, Offset: 0, Length: 600, RawLength: 600, Records: 2, Sums: []uint32{5, 6}}})
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "not a run index"},
		{"text", []byte(`[{"partition":0}]`), "not a run index"},
		{"truncated in the checksums", good[:len(good)-3], "checksums: 8 bytes, only 5 left"},
		{"truncated in a varint", good[:len(runIndexMagic)+1], "partition: truncated"},
		{"trailing bytes", append(append([]byte{}, good...), 0), "1 bytes after the last segment"},
		{"too few checksums", encodeRunIndex([]Segment{{Length: 600, Sums: []uint32{5}}}), "segment 0 of 600 bytes has 1 checksums, want 2"},
		{"huge count", append([]byte(runIndexMagic), 0xff, 0xff, 0xff, 0xff, 0x0f), "segment count 4294967295 is out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.index")
			os.WriteFile(path, c.b, 0o644)
			_, err := readRunIndex(path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s with %q", err, path, c.want)
			}
			if c.name != "empty" && c.name != "text" && !strings.Contains(err.Error(), "at offset ") {
				t.Fatalf("%v names no offset", err)
			}
		})
	}
}
