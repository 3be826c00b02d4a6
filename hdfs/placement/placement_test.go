package placement

import (
	"fmt"
	"slices"
	"testing"
)

const block = 1 << 20

// node is a live core worker with used of capacity bytes used and room
// for the rest.
func node(id string, used, capacity int64, blocks int) Node {
	return Node{ID: id, Addr: id + ":9866", Capacity: capacity, Used: used, Remaining: capacity - used, Blocks: blocks}
}

func decommissioning(nd Node) Node { nd.Decommissioning = true; return nd }

func transfers(nd Node, n int) Node { nd.Transfers = n; return nd }

func ids(nodes []Node) []string {
	out := []string{}
	for _, nd := range nodes {
		out = append(out, nd.ID)
	}
	return out
}

// cluster has five roomy core workers, least used first: w3, w1, w5, w2,
// w4 (w1 and w5 tie on fraction; w1 has fewer blocks).
func cluster() []Node {
	return []Node{
		node("w1", 20*block, 100*block, 5),
		node("w2", 30*block, 100*block, 1),
		node("w3", 10*block, 100*block, 9),
		node("w4", 80*block, 200*block, 0), // 40%
		node("w5", 40*block, 200*block, 8), // 20%, like w1, more blocks
	}
}

func TestChoose(t *testing.T) {
	full := node("full", 100*block-1, 100*block, 0) // one byte short of a block
	for _, tc := range []struct {
		name    string
		nodes   []Node
		writer  string
		n       int
		exclude []string
		want    []string
	}{
		{"least used first", cluster(), "", 3, nil, []string{"w3", "w1", "w5"}},
		{"all of them", cluster(), "", 5, nil, []string{"w3", "w1", "w5", "w2", "w4"}},
		{"writer first", cluster(), "w4", 3, nil, []string{"w4", "w3", "w1"}},
		{"writer first alone", cluster(), "w2", 1, nil, []string{"w2"}},
		{"writer already least used", cluster(), "w3", 3, nil, []string{"w3", "w1", "w5"}},
		{"writer excluded", cluster(), "w4", 3, []string{"w4"}, []string{"w3", "w1", "w5"}},
		{"task worker writer gets no place", cluster(), "task-7", 3, nil, []string{"w3", "w1", "w5"}},
		{"excluded skipped", cluster(), "", 3, []string{"w3", "w5", "gone"}, []string{"w1", "w2", "w4"}},
		{"full skipped", append(cluster(), full), "", 6, nil, []string{"w3", "w1", "w5", "w2", "w4"}},
		{"full writer gets no place", append(cluster(), full), "full", 2, nil, []string{"w3", "w1"}},
		{"exactly a block left is room", []Node{node("a", 99*block, 100*block, 0), node("b", 50*block, 100*block, 0)}, "a", 2, nil, []string{"a", "b"}},
		{"decommissioning skipped", []Node{decommissioning(node("d", 0, 100*block, 0)), node("a", 50*block, 100*block, 0)}, "", 2, nil, []string{"a"}},
		{"decommissioning writer gets no place", []Node{decommissioning(node("d", 0, 100*block, 0)), node("a", 50*block, 100*block, 0), node("b", 60*block, 100*block, 0)}, "d", 2, nil, []string{"a", "b"}},
		{"fewer nodes than n", cluster()[:2], "", 3, nil, []string{"w1", "w2"}},
		{"fewer nodes than n with writer", cluster()[:2], "w2", 3, nil, []string{"w2", "w1"}},
		{"no nodes", nil, "w1", 3, nil, []string{}},
		{"n zero", cluster(), "w1", 0, nil, []string{}},
		{"n negative", cluster(), "", -1, nil, []string{}},
		{"each node once", []Node{node("a", 0, 100*block, 0), node("a", 0, 100*block, 0), node("b", 1, 100*block, 0)}, "", 3, nil, []string{"a", "b"}},
		{"writer once", []Node{node("a", 0, 100*block, 0), node("b", 1, 100*block, 0), node("b", 1, 100*block, 0)}, "b", 3, nil, []string{"b", "a"}},
		{"ties by blocks then id", []Node{node("c", 0, 100*block, 2), node("b", 0, 100*block, 2), node("a", 0, 100*block, 3)}, "", 3, nil, []string{"b", "c", "a"}},
		{"no capacity counts as full", []Node{{ID: "z", Remaining: 50 * block}, node("y", 99*block, 200*block, 0)}, "", 2, nil, []string{"y", "z"}},
		{"terabytes compare exactly", []Node{node("big", 3<<40+1, 6<<40, 0), node("half", 3<<40, 6<<40, 0)}, "", 2, nil, []string{"half", "big"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Choose(tc.nodes, tc.writer, tc.n, block, tc.exclude)
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("Choose(writer %q, n %d, exclude %q) = %q; want %q", tc.writer, tc.n, tc.exclude, ids(got), tc.want)
			}
			for _, nd := range got {
				if nd.Addr == "" && nd.ID != "z" {
					t.Errorf("node %q lost its address", nd.ID)
				}
			}
		})
	}
}

func TestChooseIsDeterministic(t *testing.T) {
	nodes := cluster()
	for i := range 20 {
		nodes = append(nodes, node(fmt.Sprintf("x%02d", i), int64(i%3)*block, 10*block, i%2))
	}
	want := ids(Choose(nodes, "x07", 6, block, []string{"x03"}))
	for i := range 10 {
		shuffled := slices.Clone(nodes)
		// A deterministic reordering per round: rotate and reverse.
		shuffled = append(shuffled[i:], shuffled[:i]...)
		if i%2 == 1 {
			slices.Reverse(shuffled)
		}
		before := slices.Clone(shuffled)
		got := ids(Choose(shuffled, "x07", 6, block, []string{"x03"}))
		if !slices.Equal(got, want) {
			t.Errorf("round %d: Choose = %q; want %q", i, got, want)
		}
		if !slices.Equal(shuffled, before) {
			t.Errorf("round %d: Choose reordered its input", i)
		}
	}
	if want[0] != "x07" || len(want) != 6 {
		t.Errorf("Choose = %q", want)
	}
}

func TestChooseTargets(t *testing.T) {
	full := node("full", 100*block, 100*block, 0)
	for _, tc := range []struct {
		name    string
		nodes   []Node
		holders []string
		n       int
		want    []string
	}{
		{"one more", cluster(), []string{"w3", "w1"}, 1, []string{"w5"}},
		{"two more", cluster(), []string{"w3"}, 2, []string{"w1", "w5"}},
		{"holders never chosen", cluster(), []string{"w1", "w2", "w3", "w4"}, 2, []string{"w5"}},
		{"dead holders ignored", cluster(), []string{"gone", "w3"}, 2, []string{"w1", "w5"}},
		{"all hold it", cluster(), []string{"w1", "w2", "w3", "w4", "w5"}, 1, []string{}},
		{"full and decommissioning skipped", []Node{full, decommissioning(node("d", 0, 100*block, 0)), node("a", 0, 100*block, 0), node("h", 0, 100*block, 0)}, []string{"h"}, 3, []string{"a"}},
		{"n zero", cluster(), nil, 0, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ChooseTargets(tc.nodes, tc.holders, tc.n, block)
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("ChooseTargets(holders %q, n %d) = %q; want %q", tc.holders, tc.n, ids(got), tc.want)
			}
		})
	}
}

func TestChooseSource(t *testing.T) {
	nodes := []Node{
		transfers(node("a", 0, 100*block, 0), 2),
		transfers(node("b", 0, 100*block, 0), 1),
		transfers(node("c", 0, 100*block, 0), 1),
		decommissioning(transfers(node("d", 90*block, 100*block, 0), 0)),
		transfers(node("e", 0, 100*block, 0), 0),
	}
	for _, tc := range []struct {
		name    string
		holders []string
		want    string // "" when none
	}{
		{"fewest transfers", []string{"a", "b"}, "b"},
		{"ties by id", []string{"c", "a", "b"}, "b"},
		{"decommissioning allowed", []string{"a", "b", "d"}, "d"},
		{"ties by id with decommissioning", []string{"e", "d"}, "d"},
		{"single holder", []string{"a"}, "a"},
		{"dead holders skipped", []string{"gone", "a"}, "a"},
		{"no live holder", []string{"gone"}, ""},
		{"no holders", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ChooseSource(nodes, tc.holders)
			switch {
			case tc.want == "" && ok:
				t.Errorf("ChooseSource(%q) = %q; want none", tc.holders, got.ID)
			case tc.want != "" && (!ok || got.ID != tc.want):
				t.Errorf("ChooseSource(%q) = %q, %v; want %q", tc.holders, got.ID, ok, tc.want)
			case ok && got.Addr != got.ID+":9866":
				t.Errorf("ChooseSource(%q) lost the address: %+v", tc.holders, got)
			}
		})
	}
}

func TestSortByDistance(t *testing.T) {
	for _, tc := range []struct {
		name    string
		holders []string
		reader  string
		want    []string
	}{
		{"reader first", []string{"a", "b", "c"}, "c", []string{"c", "a", "b"}},
		{"reader already first", []string{"a", "b", "c"}, "a", []string{"a", "b", "c"}},
		{"reader in the middle", []string{"c", "a", "b"}, "a", []string{"a", "c", "b"}},
		{"reader holds none", []string{"b", "a", "c"}, "z", []string{"b", "a", "c"}},
		{"no reader", []string{"b", "a"}, "", []string{"b", "a"}},
		{"no holders", nil, "a", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.holders)
			got := SortByDistance(in, tc.reader)
			if !slices.Equal(got, tc.want) {
				t.Errorf("SortByDistance(%q, %q) = %q; want %q", tc.holders, tc.reader, got, tc.want)
			}
			if !slices.Equal(in, tc.holders) {
				t.Errorf("SortByDistance changed its input to %q", in)
			}
		})
	}
}

func TestExcess(t *testing.T) {
	nodes := []Node{
		node("a", 10*block, 100*block, 1),
		node("b", 50*block, 100*block, 1),
		node("c", 50*block, 100*block, 4), // as used as b, more blocks
		node("d", 90*block, 100*block, 0),
		decommissioning(node("x", 0, 100*block, 0)),
		decommissioning(node("y", 0, 100*block, 0)),
		node("e", 50*block, 100*block, 4), // ties c on all but ID
	}
	for _, tc := range []struct {
		name    string
		holders []string
		n       int
		want    []string
	}{
		{"none over", []string{"a", "b", "c"}, 3, []string{}},
		{"under", []string{"a"}, 3, []string{}},
		{"most used first", []string{"a", "b", "d"}, 2, []string{"d"}},
		{"most used two", []string{"a", "b", "d"}, 1, []string{"d", "b"}},
		{"more blocks first on a tie", []string{"b", "c"}, 1, []string{"c"}},
		{"id on a full tie", []string{"e", "c", "a"}, 1, []string{"c", "e"}},
		{"decommissioning first", []string{"a", "d", "x"}, 2, []string{"x"}},
		{"decommissioning before the most used", []string{"d", "y", "x", "a"}, 2, []string{"x", "y"}},
		{"dead holders do not count", []string{"a", "b", "gone1", "gone2"}, 2, []string{}},
		{"dead holders never chosen", []string{"gone", "a", "b", "d"}, 2, []string{"d"}},
		{"duplicates count once", []string{"a", "a", "b"}, 2, []string{}},
		{"n zero keeps one", []string{"a", "b", "d"}, 0, []string{"d", "b"}},
		{"n negative keeps one", []string{"x", "a"}, -3, []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Excess(nodes, tc.holders, tc.n)
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Excess(%q, %d) = %q; want %q", tc.holders, tc.n, got, tc.want)
			}
			// The same answer whatever the order of nodes and holders.
			rn, rh := slices.Clone(nodes), slices.Clone(tc.holders)
			slices.Reverse(rn)
			slices.Reverse(rh)
			again := Excess(rn, rh, tc.n)
			if again == nil {
				again = []string{}
			}
			if !slices.Equal(again, tc.want) {
				t.Errorf("Excess reversed = %q; want %q", again, tc.want)
			}
		})
	}
}
