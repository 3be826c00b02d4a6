package primary

import (
	"slices"
	"testing"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/protobuf/proto"
)

// FuzzBlockReport decodes two arbitrary block reports of a core worker
// (the first usually full, the second a delta) and applies them to a
// block map that also holds replicas of another worker and a replica a
// write pipeline recorded. It checks that decoding and applying never
// panic; that after each report the worker's block count is the number
// of replicas the map holds for it; that no block outside the namespace
// is kept, each being ordered deleted instead (unless the report was
// refused, the worker asked for a full one); and that the other
// worker's replicas are untouched.
func FuzzBlockReport(f *testing.F) {
	enc := func(r *hdfspb.BlockReport) []byte {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	full := enc(&hdfspb.BlockReport{Full: true, Seq: 1, Capacity: 100, Used: 30, Remaining: 70,
		Blocks: []*hdfspb.Block{{Id: 1, Length: 10}, {Id: 2, Length: 20}, {Id: 3, Length: 1}, {Id: 4, Length: 0}, {Id: 1, Length: 10}}})
	delta := enc(&hdfspb.BlockReport{Seq: 2, Blocks: []*hdfspb.Block{{Id: 5, Length: 5}}, Deleted: []int64{2, 2, 9}, Corrupt: []int64{4, 7}})
	f.Add(full, delta)
	f.Add(delta, full)
	f.Add(full, enc(&hdfspb.BlockReport{Seq: 5, Deleted: []int64{1}}))
	f.Add(full, enc(&hdfspb.BlockReport{Full: true, Seq: 2}))
	f.Add([]byte{}, []byte{0x12, 0x02, 0x08})
	f.Add([]byte{0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f}, []byte{0x22, 0x01, 0x80})
	known := func(id int64) bool { return id%3 != 0 }
	f.Fuzz(func(t *testing.T, first, second []byte) {
		b := newBlockMap()
		b.report("w2", "b:1", &hdfspb.BlockReport{Full: true, Seq: 1, Blocks: []*hdfspb.Block{{Id: 1, Length: 10}, {Id: 2, Length: 20}}}, known)
		b.report("w1", "a:1", nil, known)
		b.stored(8, []string{"w1"})
		for i, data := range [][]byte{first, second} {
			var r hdfspb.BlockReport
			if err := proto.Unmarshal(data, &r); err != nil {
				continue
			}
			needFull := b.report("w1", "a:1", &r, known)
			held := 0
			for id, set := range b.replicas {
				if set["w1"] {
					held++
					if !known(id) {
						t.Fatalf("report %d: block %d outside the namespace kept as a replica", i+1, id)
					}
				}
			}
			if n := b.nodes["w1"]; n.blocks != held {
				t.Fatalf("report %d (%v): the worker's block count is %d, the map holds %d of its replicas", i+1, &r, n.blocks, held)
			}
			for _, blk := range r.Blocks {
				if !needFull && !known(blk.Id) && !slices.Contains(b.deletes["w1"], blk.Id) {
					t.Fatalf("report %d: block %d outside the namespace not ordered deleted", i+1, blk.Id)
				}
			}
			if !b.replicas[1]["w2"] || !b.replicas[2]["w2"] || b.nodes["w2"].blocks != 2 {
				t.Fatalf("report %d of w1 changed w2's replicas", i+1)
			}
		}
	})
}
