package mapreduce

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMergeOrder merges sorted segments whose keys tie on their first 8
// bytes, are shorter than 8 bytes, hold zero bytes or repeat within and
// across segments, with some values longer than the segments' read
// buffers, and checks the stream against a stable sort of every
// record by key, segment and position: the order the reduce and the
// combiner see.
func TestMergeOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"", "\x00", "a", "a\x00", "ab", "abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefghz", "abcdefgz", "b", "zzzzzzzzzzzz"}
	for _, segCount := range []int{0, 1, 2, 3, 7, 16, 33, 300} {
		t.Run(fmt.Sprintf("%d segments", segCount), func(t *testing.T) {
			type rec struct {
				key, value []byte
				seg, pos   int
			}
			var all []rec
			readers := make([]*segmentReader, segCount)
			for s := range segCount {
				n := rng.IntN(40) // some segments are empty
				var recs []rec
				for p := range n {
					k := []byte(alphabet[rng.IntN(len(alphabet))])
					if rng.IntN(3) == 0 {
						k = append(slices.Clone(k), byte(rng.IntN(3)))
					}
					v := []byte(fmt.Sprintf("%d/%d", s, p))
					if rng.IntN(20) == 0 { // longer than a merge of 300 segments' read buffers
						v = append(v, bytes.Repeat([]byte{byte(p)}, 10<<10)...)
					}
					recs = append(recs, rec{key: k, value: v, seg: s})
				}
				slices.SortStableFunc(recs, func(a, b rec) int { return bytes.Compare(a.key, b.key) })
				var run memRun
				rw, _ := newRunWriter(&run, "")
				rw.startSegment(0)
				for p := range recs {
					recs[p].pos = p
					rw.write(recs[p].key, recs[p].value)
				}
				if err := rw.endSegment(); err != nil {
					t.Fatal(err)
				}
				r := &Run{data: bytesReaderAt(run.buf), Segments: rw.segs}
				rd, seg := r.OpenSegment(0)
				readers[s] = newSegmentReader(rd, seg, fmt.Sprint("segment ", s), mergeBufferSize(segCount))
				all = append(all, recs...)
			}
			slices.SortStableFunc(all, func(a, b rec) int {
				if c := bytes.Compare(a.key, b.key); c != 0 {
					return c
				}
				if a.seg != b.seg {
					return a.seg - b.seg
				}
				return a.pos - b.pos
			})
			it, err := newMergeIter(readers)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				k, v, ok, err := it.next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					if i != len(all) {
						t.Fatalf("merge ended after %d records, want %d", i, len(all))
					}
					break
				}
				if i >= len(all) || !bytes.Equal(k, all[i].key) || !bytes.Equal(v, all[i].value) {
					t.Fatalf("record %d is %q=%q, want %q=%q", i, k, v, all[min(i, len(all)-1)].key, all[min(i, len(all)-1)].value)
				}
			}
			if _, _, ok, _ := it.next(); ok {
				t.Fatal("a record after the end")
			}
		})
	}
}
