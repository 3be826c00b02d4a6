package mapreduce

import (
	"fmt"
	"strings"
	"testing"
)

// codecRun writes keys through a sort buffer (no combiner) into a run
// compressed with codec.
func codecRun(t *testing.T, codec string, keys [][]byte) *Run {
	t.Helper()
	sb, err := newSortBuffer(&Job{Mapper: fieldsMapper{}}, 3, 64<<20, memStore{}, NewCounters())
	if err != nil {
		t.Fatal(err)
	}
	sb.codec = codec
	for i, k := range keys {
		if err := sb.Emit(k, []byte(fmt.Sprint(i%7))); err != nil {
			t.Fatal(err)
		}
	}
	r, err := sb.finish("out")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMapOutputCodecs: a run compressed with each codec holds the same
// records as an uncompressed one, in fewer stored bytes; a flipped byte
// of a compressed segment is a checksum error; an unknown codec, in a
// task or in a segment, is refused by name.
func TestMapOutputCodecs(t *testing.T) {
	keys := benchKeys(50000)
	plain := codecRun(t, "", keys)
	want := pairs(t, plain)
	for _, codec := range MapOutputCodecs {
		r := codecRun(t, codec, keys)
		if got := pairs(t, r); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d records, want %d equal to the uncompressed run's", codec, len(got), len(want))
		}
		if r.RawBytes() != plain.Bytes() || r.Bytes() >= plain.Bytes() {
			t.Errorf("%s: %d bytes stored for %d raw (uncompressed run: %d)", codec, r.Bytes(), r.RawBytes(), plain.Bytes())
		}
		// Flip a byte in the middle of partition 1's stored bytes.
		data := append([]byte(nil), r.data.(bytesReaderAt)...)
		seg := r.Segments[1]
		data[seg.Offset+seg.Length/2] ^= 0x40
		bad := &Run{data: bytesReaderAt(data), Segments: r.Segments}
		rd, s := bad.OpenSegment(1)
		err := ReadPairs(rd, s, func(k, v []byte) error { return nil })
		if err == nil {
			t.Errorf("%s: a flipped byte went unnoticed", codec)
		}
	}
	if _, err := RunMap(t.Context(), MapTask{Job: &Job{Mapper: fieldsMapper{}}, Reducers: 1, OutputCodec: "gzip"}); err == nil || !strings.Contains(err.Error(), `"gzip"`) {
		t.Errorf("a task with codec gzip: %v", err)
	}
	seg := plain.Segments[0]
	seg.Codec = "lzma"
	rd, _ := plain.OpenSegment(0)
	if err := ReadPairs(rd, seg, func(k, v []byte) error { return nil }); err == nil || !strings.Contains(err.Error(), `"lzma"`) {
		t.Errorf("a segment with codec lzma: %v", err)
	}
}
