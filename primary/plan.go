package primary

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/mapreduce"
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
	// warnings are things that look like mistakes, for the submitter.
	warnings []string
}

func (p *inputPlan) summary() state.InputSummary {
	return state.InputSummary{Files: len(p.files), Bytes: p.bytes, Splits: len(p.splits)}
}

// planInput lists a step's input once and cuts it into splits, refusing a
// step that would have more tasks than the cluster allows.
func (s *Server) planInput(ctx context.Context, spec state.StepSpec) (*inputPlan, error) {
	files, err := mapreduce.ListInputs(ctx, s.cfg.FileSystems, spec.Inputs)
	if err != nil {
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
	if p.splits, err = mapreduce.PlanSplits(files, spec.SplitSize); err != nil {
		return nil, err
	}
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
