package localcluster_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker"
	"google.golang.org/grpc/codes"
)

func TestSpillGivesSameOutputAsNoSpill(t *testing.T) {
	in := sampleText(t, 3, 600<<10)
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core"), Slots: 2})
	cl := c.Client()
	out := t.TempDir()
	spec := func(name string, buffer int64) *pb.StepSpec {
		return &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, name), Reducers: 4, SplitSize: 256 << 10, SortBufferBytes: buffer}
	}
	big := ct.RunStep(t, cl, spec("big", 64<<20))
	small := ct.RunStep(t, cl, spec("small", 1<<10))
	ct.MustComplete(t, big)
	ct.MustComplete(t, small)
	if big.Counters["SPILLS"] != 0 {
		t.Fatalf("64 MiB buffer spilled: %v", big.Counters)
	}
	perMap := small.Counters["MAP_OUTPUT_BYTES"] / int64(small.MapsTotal)
	if perMap < 20<<10 || small.Counters["SPILLS"] < 20*int64(small.MapsTotal) {
		t.Fatalf("each map's output (%d bytes) is not 20 times its 1 KiB budget, or it spilled too little: %v", perMap, small.Counters)
	}
	for p := range 4 {
		name := "part-r-0000" + string(rune('0'+p))
		a, _ := os.ReadFile(filepath.Join(out, "big", name))
		b, _ := os.ReadFile(filepath.Join(out, "small", name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s differs with spills (%d vs %d bytes)", name, len(a), len(b))
		}
	}
}

func TestBadInputGetsAClearError(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("some words here\n"), 0o644)
	binary := filepath.Join(dir, "image.bin")
	os.WriteFile(binary, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0o644)
	// A NUL byte far beyond the first 8 KiB is found by the map task.
	lateNUL := filepath.Join(dir, "late-nul.txt")
	os.WriteFile(lateNUL, []byte(strings.Repeat("plain text line\n", 2000)+"bad\x00line\n"), 0o644)
	long := filepath.Join(dir, "long.txt")
	os.WriteFile(long, []byte("short\n"+strings.Repeat("x", 2<<20)+"\nshort again\n"), 0o644)
	exists := filepath.Join(dir, "exists")
	os.Mkdir(exists, 0o755)

	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "task"), Slots: 2})
	cl := c.Client()
	out := func(name string) string { return filepath.Join(dir, "out-"+name) }

	for _, tc := range []struct {
		name string
		spec *pb.StepSpec
		code codes.Code
		text []string
	}{
		{"missing input", &pb.StepSpec{Job: "wordcount", Inputs: []string{filepath.Join(dir, "nope.txt")}, Output: out("a"), Reducers: 1},
			codes.NotFound, []string{"nope.txt", "no such file"}},
		{"glob matching nothing", &pb.StepSpec{Job: "wordcount", Inputs: []string{filepath.Join(dir, "*.csv")}, Output: out("b"), Reducers: 1},
			codes.NotFound, []string{"*.csv", "no files match"}},
		{"binary file", &pb.StepSpec{Job: "wordcount", Inputs: []string{good, binary}, Output: out("c"), Reducers: 1},
			codes.InvalidArgument, []string{"image.bin", "byte offset 8", "binary"}},
		{"output exists", &pb.StepSpec{Job: "wordcount", Inputs: []string{good}, Output: exists, Reducers: 1},
			codes.AlreadyExists, []string{exists, "already exists"}},
		{"unknown job", &pb.StepSpec{Job: "wordcout", Inputs: []string{good}, Output: out("d"), Reducers: 1},
			codes.InvalidArgument, []string{`unknown job "wordcout"`, "wordcount"}},
		{"unknown option", &pb.StepSpec{Job: "wordcount", Options: map[string]string{"colour": "red"}, Inputs: []string{good}, Output: out("e"), Reducers: 1},
			codes.InvalidArgument, []string{"--colour", "--lower"}},
		{"bad option value", &pb.StepSpec{Job: "logagg", Options: map[string]string{"group-by": "status,referer"}, Inputs: []string{good}, Output: out("f"), Reducers: 1},
			codes.InvalidArgument, []string{`"referer"`, "status, method"}},
		{"relative path", &pb.StepSpec{Job: "wordcount", Inputs: []string{"good.txt"}, Output: out("g"), Reducers: 1},
			codes.InvalidArgument, []string{"not an absolute path"}},
		{"negative reducers", &pb.StepSpec{Job: "wordcount", Inputs: []string{good}, Output: out("h"), Reducers: -1},
			codes.InvalidArgument, []string{"reducers"}},
		{"no reducer for a job that needs one", &pb.StepSpec{Job: "wordcount", Inputs: []string{good}, Output: out("i"), Reducers: 0},
			codes.InvalidArgument, []string{"wordcount needs at least one reducer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := submitErr(t, cl, tc.spec)
			if st.Code() != tc.code {
				t.Errorf("code %s, want %s (%s)", st.Code(), tc.code, st.Message())
			}
			for _, s := range tc.text {
				if !strings.Contains(st.Message(), s) {
					t.Errorf("error %q does not mention %q", st.Message(), s)
				}
			}
		})
	}

	// Errors found while the step runs fail it at once (re-running cannot
	// cure bad data), name the file and line, and remove the partial output.
	for _, tc := range []struct {
		name, input string
		text        []string
	}{
		{"line over the limit", long, []string{long, "line 2", "line longer than the line limit"}},
		{"NUL byte in the middle", lateNUL, []string{lateNUL, "line 2001", "binary data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := out(strings.ReplaceAll(tc.name, " ", "-"))
			st := ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{good, tc.input}, Output: o, Reducers: 2})
			if st.State.Value() != "FAILED" {
				t.Fatalf("step ended %s", st.State)
			}
			for _, s := range tc.text {
				if !strings.Contains(st.Error, s) {
					t.Errorf("error %q does not mention %q", st.Error, s)
				}
			}
			if st.Counters["FAILED_MAPS"] != 1 {
				t.Errorf("a bad-data task was retried: %v", st.Counters)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(o); os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("partial output %s was not removed", o)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}

	// The cluster keeps serving.
	st := ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{good}, Output: out("after"), Reducers: 1})
	ct.MustComplete(t, st)
	if got := ct.ReadLines(t, filepath.Join(out("after"), "part-r-00000")); strings.Join(got, ",") != "here\t1,some\t1,words\t1" {
		t.Fatalf("output %q", got)
	}
}

// TestCompressedShuffleGivesSameOutput runs word count on clusters whose
// workers compress map output with each codec: the output equals the
// sequential run's, and the counters show the shuffle moved the
// compressed runs (whose size differs from the records' encoded size).
func TestCompressedShuffleGivesSameOutput(t *testing.T) {
	in := ct.BigInput(t, 2, 400<<10, 3)
	for _, codec := range []string{"s2", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "task"), MapOutputCodec: codec})
			out := filepath.Join(t.TempDir(), "out")
			st := ct.RunStep(t, c.Client(), &pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: in.Reducers, SplitSize: 128 << 10})
			ct.MustComplete(t, st)
			ct.CheckOutput(t, out, in.Ref)
			raw, stored := st.Counters["MAP_OUTPUT_RUN_BYTES"], st.Counters["MAP_OUTPUT_MATERIALIZED_BYTES"]
			if raw == 0 || stored == 0 || stored == raw || st.Counters["REDUCE_SHUFFLE_BYTES"] != stored {
				t.Fatalf("%s: map output of %d bytes stored as %d, %d shuffled: %v", codec, raw, stored, st.Counters["REDUCE_SHUFFLE_BYTES"], st.Counters)
			}
		})
	}
}

// TestReduceCombinesWhatItHolds runs word count over many map outputs on
// clusters whose reducers combine the fetched segments they hold in
// memory almost at once (a merge threshold of 1 byte), with all of them
// in memory and with a shuffle budget that sends most to disk: the output
// equals the sequential run's, and the counters show the reducers
// combined (fewer records into the reducer and more combine records than
// without, the same keys).
func TestReduceCombinesWhatItHolds(t *testing.T) {
	in := ct.BigInput(t, 2, 400<<10, 2)
	run := func(t *testing.T, memory, merge int64) map[string]int64 {
		c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "task"), TuneWorker: func(wc *worker.Config) {
			wc.ShuffleMemoryBytes, wc.ShuffleMergeBytes = memory, merge
		}})
		out := filepath.Join(t.TempDir(), "out")
		st := ct.RunStep(t, c.Client(), &pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: in.Reducers, SplitSize: 32 << 10})
		ct.MustComplete(t, st)
		ct.CheckOutput(t, out, in.Ref)
		return st.Counters
	}
	plain := run(t, 64<<20, 0)
	for _, tc := range []struct {
		name          string
		memory, merge int64
	}{{"in-memory", 64 << 20, 1}, {"mostly-on-disk", 48 << 10, 1}, {"threshold", 64 << 20, 8 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.memory, tc.merge)
			if got["REDUCE_INPUT_GROUPS"] != plain["REDUCE_INPUT_GROUPS"] || got["REDUCE_OUTPUT_RECORDS"] != plain["REDUCE_OUTPUT_RECORDS"] ||
				got["REDUCE_INPUT_RECORDS"] >= plain["REDUCE_INPUT_RECORDS"] || got["COMBINE_INPUT_RECORDS"] <= plain["COMBINE_INPUT_RECORDS"] {
				t.Fatalf("counters with reduce-side combining %v, without %v", got, plain)
			}
		})
	}
}
