package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// Profile labels of the bench. Every goroutine of an embedded cluster
// carries modeLabel (e.g. "cluster(2)") and nodeLabel (the worker's id,
// "primary-1", or "s3" for the embedded S3 endpoint), inherited from the
// goroutine that started the node; the goroutine that times a mode
// carries modeLabel alone.
const (
	modeLabel = "mode"
	nodeLabel = "node"
)

// benchProfiler records a CPU and a heap profile around every timed run
// and writes them, per mode and per node, into a folder. Go's CPU profile
// is of the whole process; the cluster's workers run in this process, so
// a worker's own profile is the samples labelled with its node. Go's heap
// profiles carry no labels, so a mode's heap profile covers every node of
// its cluster.
type benchProfiler struct {
	dir   string
	order []string
	cpu   map[string][]*profile.Profile
	heap  map[string][]*profile.Profile
	// profiled tells whether a mode runs in this process (an external
	// program's CPU and memory are not in Go's profiles).
	inProcess map[string]bool
}

func newBenchProfiler(dir string) (*benchProfiler, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--profile: %w", err)
	}
	return &benchProfiler{dir: dir, cpu: map[string][]*profile.Profile{}, heap: map[string][]*profile.Profile{}, inProcess: map[string]bool{}}, nil
}

// around runs one timed run of a mode under a CPU profile, with heap
// profiles taken before and after it (each after a garbage collection,
// so that they are up to date). A nil profiler only runs fn.
func (p *benchProfiler) around(ctx context.Context, mode string, inProcess bool, fn func(ctx context.Context) (float64, error)) (float64, error) {
	var secs float64
	var err error
	labelled := func(ctx context.Context) { secs, err = fn(ctx) }
	if p == nil {
		pprof.Do(ctx, pprof.Labels(modeLabel, mode), labelled)
		return secs, err
	}
	if !slices.Contains(p.order, mode) {
		p.order = append(p.order, mode)
		p.inProcess[mode] = inProcess
	}
	before, perr := heapProfile()
	if perr != nil {
		return 0, perr
	}
	var cpu bytes.Buffer
	if perr := pprof.StartCPUProfile(&cpu); perr != nil {
		return 0, fmt.Errorf("--profile: start the CPU profile: %w", perr)
	}
	pprof.Do(ctx, pprof.Labels(modeLabel, mode), labelled)
	pprof.StopCPUProfile()
	if err != nil {
		return secs, err
	}
	after, perr := heapProfile()
	if perr != nil {
		return 0, perr
	}
	c, perr := profile.Parse(&cpu)
	if perr != nil {
		return 0, fmt.Errorf("--profile: read the CPU profile of %s: %w", mode, perr)
	}
	// The heap profile's figures count from the start of the process:
	// the difference is what this run did.
	before.Scale(-1)
	h, perr := profile.Merge([]*profile.Profile{after, before})
	if perr != nil {
		return 0, fmt.Errorf("--profile: heap profile of %s: %w", mode, perr)
	}
	p.cpu[mode] = append(p.cpu[mode], c)
	p.heap[mode] = append(p.heap[mode], h)
	return secs, nil
}

func heapProfile() (*profile.Profile, error) {
	runtime.GC()
	var b bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&b, 0); err != nil {
		return nil, fmt.Errorf("--profile: heap profile: %w", err)
	}
	p, err := profile.Parse(&b)
	if err != nil {
		return nil, fmt.Errorf("--profile: read the heap profile: %w", err)
	}
	return p, nil
}

// profileFile is the file name of a profile: mode, node (if any) and
// kind, e.g. cluster-2.core-1.cpu.pprof.
func profileFile(mode, node, kind string) string {
	name := strings.NewReplacer("(", "-", ")", "", "/", "-", " ", "-").Replace(mode)
	if node != "" {
		name += "." + node
	}
	return name + "." + kind + ".pprof"
}

// write writes every mode's profiles (merged over its runs) and one CPU
// profile per node of its cluster, then tells w where they are, how the
// CPU of each mode divides between its nodes, and how to read them.
func (p *benchProfiler) write(w io.Writer) error {
	fmt.Fprintf(w, "profiles in %s:\n", p.dir)
	var example, exampleNode string
	for _, mode := range p.order {
		if !p.inProcess[mode] {
			fmt.Fprintf(w, "  %s: an external program, not in Go's profiles\n", mode)
			continue
		}
		cpu, err := profile.Merge(p.cpu[mode])
		if err != nil {
			return fmt.Errorf("--profile: merge the CPU profiles of %s: %w", mode, err)
		}
		heap, err := profile.Merge(p.heap[mode])
		if err != nil {
			return fmt.Errorf("--profile: merge the heap profiles of %s: %w", mode, err)
		}
		files := []string{profileFile(mode, "", "cpu"), profileFile(mode, "", "heap")}
		if err := writeProfile(filepath.Join(p.dir, files[0]), cpu); err != nil {
			return err
		}
		if err := writeProfile(filepath.Join(p.dir, files[1]), heap); err != nil {
			return err
		}
		total, byNode := cpuByNode(cpu, mode)
		nodes := make([]string, 0, len(byNode))
		for n := range byNode {
			nodes = append(nodes, n)
		}
		slices.Sort(nodes)
		var shares []string
		var own int64
		for _, n := range nodes {
			part := cpu.Copy()
			part.Sample = slices.DeleteFunc(part.Sample, func(s *profile.Sample) bool {
				return !hasLabel(s, modeLabel, mode) || !hasLabel(s, nodeLabel, n)
			})
			f := profileFile(mode, n, "cpu")
			if err := writeProfile(filepath.Join(p.dir, f), part.Compact()); err != nil {
				return err
			}
			files = append(files, f)
			own += byNode[n]
			shares = append(shares, fmt.Sprintf("%s %s", n, sharePercent(byNode[n], total)))
			if example == "" && strings.HasPrefix(n, "core-") {
				example, exampleNode = mode, n
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", mode, strings.Join(files, " "))
		if len(nodes) > 0 {
			shares = append(shares, "rest of the process "+sharePercent(total-own, total))
			fmt.Fprintf(w, "    CPU: %s\n", strings.Join(shares, ", "))
		}
	}
	fmt.Fprintln(w, "read them with go tool pprof, e.g.:")
	if example != "" {
		fmt.Fprintf(w, "  go tool pprof -top %s    (one worker's CPU)\n", filepath.Join(p.dir, profileFile(example, exampleNode, "cpu")))
		fmt.Fprintf(w, "  go tool pprof -tags %s    (CPU by mode and node)\n", filepath.Join(p.dir, profileFile(example, "", "cpu")))
		fmt.Fprintf(w, "  go tool pprof -top -tagfocus=%s=%s %s    (the same worker, from the whole process)\n", nodeLabel, exampleNode, filepath.Join(p.dir, profileFile(example, "", "cpu")))
		fmt.Fprintf(w, "  go tool pprof -top -sample_index=alloc_space %s    (what the runs allocated, all nodes together: heap profiles carry no labels)\n", filepath.Join(p.dir, profileFile(example, "", "heap")))
	} else if len(p.order) > 0 {
		fmt.Fprintf(w, "  go tool pprof -top %s\n", filepath.Join(p.dir, profileFile(p.order[0], "", "cpu")))
		fmt.Fprintf(w, "  go tool pprof -top -sample_index=alloc_space %s\n", filepath.Join(p.dir, profileFile(p.order[0], "", "heap")))
	}
	return nil
}

// cpuByNode sums a CPU profile's time by node label, over the samples
// of mode, and returns the profile's total time with it.
func cpuByNode(p *profile.Profile, mode string) (int64, map[string]int64) {
	vi := len(p.SampleType) - 1 // cpu nanoseconds, after the sample count
	var total int64
	by := map[string]int64{}
	for _, s := range p.Sample {
		total += s.Value[vi]
		if !hasLabel(s, modeLabel, mode) {
			continue
		}
		if nodes := s.Label[nodeLabel]; len(nodes) == 1 {
			by[nodes[0]] += s.Value[vi]
		}
	}
	return total, by
}

func hasLabel(s *profile.Sample, key, value string) bool {
	return slices.Contains(s.Label[key], value)
}

func sharePercent(part, total int64) string {
	if total == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(total))
}

func writeProfile(path string, p *profile.Profile) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--profile: %w", err)
	}
	if err := p.Write(f); err != nil {
		f.Close()
		return fmt.Errorf("--profile: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--profile: write %s: %w", path, err)
	}
	return nil
}
