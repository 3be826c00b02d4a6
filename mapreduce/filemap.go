package mapreduce

import (
	"context"
	"fmt"
)

// runFileMap runs a map task of a FileMapper: it hands the mapper the
// split's whole files and the task's output.
func runFileMap(ctx context.Context, t MapTask, fm FileMapper) (*MapResult, error) {
	if t.Reducers != 0 {
		return nil, fmt.Errorf("job maps whole files: it is map-only, but the step has %d reducers", t.Reducers)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	counters := NewCounters()
	info := t.Info
	info.Kind, info.Index, info.Split, info.Reducers = "m", t.Index, t.Split, t.Reducers
	tc := &TaskContext{Counters: counters, Info: info, Progress: t.Progress, FileSystems: t.FileSystems, ctx: ctx}
	if err := fm.MapFiles(tc, t.Split.Files(), t.FileSystems, t.Output); err != nil {
		return nil, err
	}
	if t.Progress != nil {
		t.Progress.Set(1)
	}
	return &MapResult{Counters: counters}, nil
}

// OpenWholeFile opens a file of a whole-file split, refusing it if it
// changed since the step was planned (see ErrInputChanged).
func OpenWholeFile(ctx context.Context, fss *FileSystems, sf SplitFile) (File, error) {
	f, err := fss.Open(ctx, sf.File)
	if err != nil {
		return nil, fmt.Errorf("open input %s: %w", sf.File, err)
	}
	if err := checkUnchanged(ctx, f, Split{File: sf.File, FileSize: sf.FileSize, ModTime: sf.ModTime}); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
