package primary

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
	"github.com/gomr/gomr/primary/state"
)

// splitsPerEntry bounds how many planned splits one Raft entry carries, so
// that a step of many tasks is recorded in entries of bounded size.
const splitsPerEntry = 2048

// inputPlan is what listing a step's input found.
type inputPlan struct {
	files  []mapreduce.InputFile
	splits []mapreduce.Split
	bytes  int64
	// wholeFiles counts the files read whole, as they cannot be split
	// (compressed).
	wholeFiles int
	// warnings are things that look like mistakes, for the submitter.
	warnings []string
}

func (p *inputPlan) summary() state.InputSummary {
	return state.InputSummary{Files: len(p.files), Bytes: p.bytes, Splits: len(p.splits), WholeFiles: p.wholeFiles}
}

// planInput lists a step's input once and cuts it into splits, refusing a
// step that would have more tasks than the cluster allows.
func (s *Server) planInput(ctx context.Context, spec state.StepSpec) (*inputPlan, error) {
	if def, err := jobs.Lookup(spec.Job); err == nil && def.WholeFiles {
		return s.planWholeFiles(ctx, def, spec)
	}
	// Binary records (tera) are listed without the check for NUL bytes.
	files, err := mapreduce.ListInputsFor(ctx, s.cfg.FileSystems, spec.Inputs, spec.InputFormat)
	if err != nil {
		return nil, badInput(err)
	}
	if err := s.confineListed(files); err != nil { // confine.go
		return nil, err
	}
	p := &inputPlan{files: files}
	for _, f := range files {
		p.bytes += f.Size
	}
	maps := mapreduce.CountSplits(files, spec.SplitSize)
	if limit := int64(s.cfg.MaxTasksPerStep); maps+int64(spec.Reducers) > limit {
		return nil, fmt.Errorf("%w: %s of input in splits of %s would make %d map tasks (and %d reduce tasks), more than this cluster's limit of %d tasks per step (primary --max-tasks-per-step); use a larger --split-size",
			errInvalid, humanize.IBytes(uint64(p.bytes)), humanize.IBytes(uint64(spec.SplitSize)), maps, spec.Reducers, limit)
	}
	// Compressed files are one split each; Parquet files are cut at their
	// row groups, whose footers are read (and checked) here.
	if p.splits, err = mapreduce.PlanInput(ctx, s.cfg.FileSystems, files, spec.SplitSize, spec.InputFormat); err != nil {
		return nil, badInput(err)
	}
	if limit := s.cfg.MaxTasksPerStep; len(p.splits)+spec.Reducers > limit {
		return nil, fmt.Errorf("%w: the input's row groups make %d map tasks (and %d reduce tasks), more than this cluster's limit of %d tasks per step (primary --max-tasks-per-step); use a larger --split-size",
			errInvalid, len(p.splits), spec.Reducers, limit)
	}
	p.wholeFiles = mapreduce.WholeFiles(files)
	if len(files) == 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("the input (%s) holds no files: the step will read nothing", strings.Join(spec.Inputs, ", ")))
	}
	if r := spec.Reducers; r > 16 && r > 10*max(1, len(p.splits)) {
		p.warnings = append(p.warnings, fmt.Sprintf("%d reducers for %s of input in %d map tasks: most part files will be empty, and each reducer costs a task", r, humanize.IBytes(uint64(p.bytes)), len(p.splits)))
	}
	for _, in := range spec.Inputs {
		in = strings.TrimSuffix(in, "/")
		if strings.HasPrefix(spec.Output, in+"/") {
			p.warnings = append(p.warnings, fmt.Sprintf("the output %s is inside the input folder %s: a later step reading %s would read this output too", spec.Output, in, in))
		}
	}
	return p, nil
}

// planWholeFiles plans the input of a job that maps whole files (distcp):
// its files are listed without being read and grouped by the job.
func (s *Server) planWholeFiles(ctx context.Context, def *jobs.Definition, spec state.StepSpec) (*inputPlan, error) {
	files, err := mapreduce.ListFiles(ctx, s.cfg.FileSystems, spec.Inputs)
	if err != nil {
		return nil, err
	}
	if err := s.confineListed(files); err != nil { // confine.go
		return nil, err
	}
	p := &inputPlan{files: files}
	if p.splits, err = def.PlanFiles(files, spec.Options); err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalid, err)
	}
	for _, sp := range p.splits {
		p.bytes += sp.Length
	}
	if limit := s.cfg.MaxTasksPerStep; len(p.splits) > limit {
		return nil, fmt.Errorf("%w: %d files to copy would make %d map tasks, more than this cluster's limit of %d tasks per step (primary --max-tasks-per-step); group them with --group-by",
			errInvalid, len(files), len(p.splits), limit)
	}
	if len(p.splits) == 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("the input (%s) holds no files to copy: the step will copy nothing", strings.Join(spec.Inputs, ", ")))
	}
	return p, nil
}

// recordSplits records a pending step's splits from index from on, in
// entries of at most splitsPerEntry splits.
func (s *Server) recordSplits(id string, splits []mapreduce.Split, from int) error {
	for i := from; i < len(splits); i += splitsPerEntry {
		if err := s.apply(&state.AddSplits{ID: id, Splits: splits[i:min(i+splitsPerEntry, len(splits))]}); err != nil {
			return err
		}
	}
	return nil
}

// finishPlanning records the rest of the splits of a step whose planning
// was interrupted (its leader lost leadership while recording them). The
// input is listed again; if it no longer gives the same splits, the step
// fails.
func (s *Server) finishPlanning(step *state.Step) error {
	recorded := step.Maps
	p, err := s.planInput(s.ctx, step.Spec)
	if err == nil && len(p.splits) != step.Input.Splits {
		err = fmt.Errorf("%w: input changed while the step was planned (%d splits planned, %d now)", mapreduce.ErrInputChanged, step.Input.Splits, len(p.splits))
	}
	if err != nil {
		return s.apply(&state.FailStep{ID: step.ID, Error: fmt.Sprintf("plan input: %v", err), Time: time.Now().UnixNano()})
	}
	s.log.Info("finishing an interrupted plan", "step", step.ID, "recorded", recorded, "splits", len(p.splits))
	return s.recordSplits(step.ID, p.splits, recorded)
}

// planWaitingStep lists the input of a step that waited for another, now
// that it completed, and records it; a step whose input cannot be planned
// fails.
func (s *Server) planWaitingStep(step *state.Step) error {
	s.planning.add(step.ID)
	defer s.planning.remove(step.ID)
	p, err := s.planInput(s.ctx, step.Spec)
	if err != nil {
		return s.apply(&state.FailStep{ID: step.ID, Error: fmt.Sprintf("plan input: %v", err), Time: time.Now().UnixNano()})
	}
	if err := s.apply(&state.PlanStep{ID: step.ID, Input: p.summary()}); err != nil {
		return err
	}
	s.log.Info("planned a step that waited", "step", step.ID, "after", step.Spec.After, "files", len(p.files), "splits", len(p.splits))
	return s.recordSplits(step.ID, p.splits, 0)
}

// waitedForReason says why a waiting step is cancelled: the step it
// waited for did not complete.
func waitedForReason(v *state.View, step *state.Step) string {
	after, ok := v.Step(step.Spec.After)
	if !ok {
		return fmt.Sprintf("step %s it waited for is gone", step.Spec.After)
	}
	return fmt.Sprintf("step %s it waited for ended %s", after.ID, after.State)
}

// planningSet holds the steps this leader is recording splits for, so that
// the step loop leaves them alone.
type planningSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (ps *planningSet) add(id string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.ids == nil {
		ps.ids = make(map[string]bool)
	}
	ps.ids[id] = true
}

func (ps *planningSet) remove(id string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	delete(ps.ids, id)
}

func (ps *planningSet) has(id string) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.ids[id]
}

// badInput marks an error about the data of an input file (a truncated
// gzip stream, a corrupt Parquet footer) as a refusal of the step: it
// names the file, and submitting it again cannot succeed.
func badInput(err error) error {
	var ie *mapreduce.InputError
	if errors.As(err, &ie) || errors.Is(err, format.ErrCorruptStream) {
		return fmt.Errorf("%w: %w", errInvalid, err)
	}
	return err
}

// prepareFormats checks a submitted step's formats against its job and
// completes the spec with what its tasks need to agree on: the formats
// the job reads and writes (csv2parquet reads csv and writes parquet), a
// typed output schema for a typed output format (refused for a job
// without one), and the options the job computes from its input once,
// here (csv2parquet's inferred schema, logagg's sum types), which the
// step stores so that every task uses the same. validateSpec calls it.
func (s *Server) prepareFormats(ctx context.Context, def *jobs.Definition, spec *state.StepSpec) error {
	f := jobs.Formats{Input: spec.InputFormat, Output: spec.OutputFormat, Compress: spec.Compress}
	resolved, err := def.Resolve(f)
	if err != nil {
		return fmt.Errorf("%w: %w", errInvalid, err)
	}
	if _, err := def.BuildFor(spec.Options, resolved); err != nil {
		return fmt.Errorf("%w: %w", errInvalid, err)
	}
	in := jobs.PrepareInput{
		FileSystems:  s.cfg.FileSystems,
		MaxLineBytes: int(spec.MaxLineBytes),
		List: func() ([]mapreduce.InputFile, error) {
			files, err := mapreduce.ListInputs(ctx, s.cfg.FileSystems, spec.Inputs)
			if err == nil {
				err = s.confineListed(files) // confine.go
			}
			return files, badInput(err)
		},
	}
	opts, err := def.Prepare(ctx, in, spec.Options, resolved)
	if err != nil {
		return err // a bad option (ErrBadOption), or the input's listing error
	}
	if _, err := def.OutputFormat(opts, resolved); err != nil {
		return fmt.Errorf("%w: %w", errInvalid, err)
	}
	spec.Options = opts
	spec.InputFormat, spec.OutputFormat = resolved.Input, resolved.Output
	return nil
}
