package mapreduce

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
)

// segmentOf encodes sorted (key, count) pairs as one in-memory segment of
// partition p.
func segmentOf(t *testing.T, p int, name string, pairs ...any) SegmentInput {
	t.Helper()
	var mem memRun
	rw, err := newRunWriter(&mem, "")
	if err != nil {
		t.Fatal(err)
	}
	rw.startSegment(p)
	for i := 0; i < len(pairs); i += 2 {
		if err := rw.write([]byte(pairs[i].(string)), binary.AppendUvarint(nil, uint64(pairs[i+1].(int)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.endSegment(); err != nil {
		t.Fatal(err)
	}
	return SegmentInput{Name: name, Reader: bytes.NewReader(mem.buf), Segment: rw.segs[0]}
}

// reduced runs a word-count style reduce over inputs and returns its
// output as "key=count" lines.
func reduced(t *testing.T, job *Job, inputs []SegmentInput) string {
	t.Helper()
	var out strings.Builder
	emit := emitterFunc(func(k, v []byte) error { fmt.Fprintf(&out, "%s=%s\n", k, v); return nil })
	if err := RunReduce(context.Background(), job, inputs, emit, &TaskContext{Counters: NewCounters()}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

type emitterFunc func(k, v []byte) error

func (f emitterFunc) Emit(k, v []byte) error { return f(k, v) }

// TestCombineSegments combines segments with the job's combiner: the
// reduce over the combined segment gives what the reduce over the
// segments gives, the combined segment holds one record a key, and the
// combine counters count it; a job without a combiner, no segments and a
// corrupt segment are errors naming what is wrong.
func TestCombineSegments(t *testing.T) {
	job := &Job{Combiner: countReducer{}, Reducer: countReducer{text: true}}
	segs := func() []SegmentInput {
		return []SegmentInput{
			segmentOf(t, 3, "map 0", "a", 1, "b", 2, "c", 1),
			segmentOf(t, 3, "map 1", "b", 5),
			segmentOf(t, 3, "map 2", "a", 200, "d", 1),
		}
	}
	want := reduced(t, job, segs())
	if want != "a=201\nb=7\nc=1\nd=1\n" {
		t.Fatalf("reduce of the segments: %q", want)
	}
	c := NewCounters()
	merged, err := CombineSegments(context.Background(), job, 3, segs(), &TaskContext{Counters: c})
	if err != nil {
		t.Fatal(err)
	}
	if merged.Segment.Partition != 3 || merged.Segment.Records != 4 || c.Get(CombineInputRecords) != 6 || c.Get(CombineOutputRecords) != 4 {
		t.Fatalf("combined segment %+v, counters %v", merged.Segment, c.Map())
	}
	if got := reduced(t, job, []SegmentInput{merged}); got != want {
		t.Fatalf("reduce of the combined segment %q, want %q", got, want)
	}

	if _, err := CombineSegments(context.Background(), &Job{Reducer: countReducer{}}, 3, segs(), &TaskContext{Counters: NewCounters()}); err == nil || !strings.Contains(err.Error(), "no combiner") {
		t.Fatalf("without a combiner: %v", err)
	}
	if _, err := CombineSegments(context.Background(), job, 3, nil, &TaskContext{Counters: NewCounters()}); err == nil {
		t.Fatal("no segments: no error")
	}
	bad := segs()
	corrupt, _ := io.ReadAll(bad[1].Reader)
	corrupt[len(corrupt)-1] ^= 0xff
	bad[1].Reader = bytes.NewReader(corrupt)
	if _, err := CombineSegments(context.Background(), job, 3, bad, &TaskContext{Counters: NewCounters()}); err == nil || !strings.Contains(err.Error(), "map 1") {
		t.Fatalf("corrupt segment: %v", err)
	}
}
