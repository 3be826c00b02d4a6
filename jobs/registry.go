package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// ErrUnknownJob is returned for a job name no definition has.
var ErrUnknownJob = errors.New("unknown job")

// ErrBadOption is returned for an option a job does not have or a value it
// cannot take.
var ErrBadOption = errors.New("bad job option")

// Option is one job option, given on the command line as --NAME VALUE (or
// --NAME alone for a boolean).
type Option struct {
	Name    string
	Usage   string
	Default string
	// Bool marks a flag that takes no value.
	Bool bool
	// Path marks an option that names a file or folder: the client makes
	// a relative local path absolute, as it does the step's input.
	Path bool
}

// Definition describes a built-in job.
type Definition struct {
	Name    string
	Summary string
	Options []Option
	// MapOnly is set for jobs whose mapper output is the job's output, so
	// that a step may run with zero reducers. Jobs whose mappers emit an
	// intermediate encoding (counts as varints) need a reducer.
	MapOnly bool
	// WholeFiles marks a job that maps whole files (its mapper is a
	// mapreduce.FileMapper): its input is listed without reading it and
	// grouped into splits by PlanFiles.
	WholeFiles bool
	// InputOption and OutputOption name options that stand for the
	// step's input and output on the command line (distcp's --src and
	// --dest, as s3-dist-cp's).
	InputOption, OutputOption string
	// NoInput marks a job that reads no input of the user's (teragen): a
	// step of it is submitted without --input, and its client-side
	// preparation (PrepareClient) makes what its map tasks read.
	NoInput bool
	build   func(opts map[string]string) (*mapreduce.Job, error)
	// prepareClient completes a step on the client before it is
	// submitted (see PrepareClient); opts are the step's options with
	// their defaults.
	prepareClient func(ctx context.Context, s *ClientStep, opts map[string]string) error
	// plan groups the listed files of a WholeFiles job into splits.
	plan func(files []mapreduce.InputFile, opts map[string]string) ([]mapreduce.Split, error)
	// deletesInput reports whether a completed step removes its input.
	deletesInput func(opts map[string]string) bool
	// typed is how the job reads and writes typed data (formats.go);
	// nil for a job of text lines only.
	typed *typedFormats
}

// PlanFiles groups the listed input files of a WholeFiles job into the
// splits of its map tasks.
func (d *Definition) PlanFiles(files []mapreduce.InputFile, opts map[string]string) ([]mapreduce.Split, error) {
	if d.plan == nil {
		return nil, fmt.Errorf("job %s does not map whole files", d.Name)
	}
	splits, err := d.plan(files, d.withDefaults(opts))
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", d.Name, err)
	}
	return splits, nil
}

// DeletesInput reports whether a step of the job, once completed, removes
// the files it read (distcp's --delete-on-success).
func (d *Definition) DeletesInput(opts map[string]string) bool {
	return d.deletesInput != nil && d.deletesInput(d.withDefaults(opts))
}

// withDefaults returns opts with every option not given at its default.
func (d *Definition) withDefaults(opts map[string]string) map[string]string {
	full := make(map[string]string, len(d.Options))
	for _, o := range d.Options {
		full[o.Name] = o.Default
	}
	for k, v := range opts {
		full[k] = v
	}
	return full
}

// All returns every built-in job, sorted by name.
func All() []*Definition {
	return []*Definition{csv2Parquet(), distCp(), grepJob(), invertedIndex(), logAgg(), streamingJob(), teraGen(), teraSort(), teraValidate(), wordCount()}
}

// Names returns the names of the built-in jobs.
func Names() []string {
	var names []string
	for _, d := range All() {
		names = append(names, d.Name)
	}
	return names
}

// Lookup returns the definition of a job by name.
func Lookup(name string) (*Definition, error) {
	for _, d := range All() {
		if d.Name == name {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w %q (known jobs: %s)", ErrUnknownJob, name, strings.Join(Names(), ", "))
}

// Build checks option values and returns the configured job. Options not
// given take their defaults; an option the job does not have is an error.
func (d *Definition) Build(opts map[string]string) (*mapreduce.Job, error) {
	full, err := d.checkOptions(opts)
	if err != nil {
		return nil, err
	}
	job, err := d.build(full)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", d.Name, err)
	}
	return job, nil
}

// checkOptions returns opts with every option not given at its default,
// refusing an option the job does not have and a bad boolean.
func (d *Definition) checkOptions(opts map[string]string) (map[string]string, error) {
	full := make(map[string]string, len(d.Options))
	for _, o := range d.Options {
		full[o.Name] = o.Default
	}
	for k, v := range opts {
		i := slices.IndexFunc(d.Options, func(o Option) bool { return o.Name == k })
		if i < 0 {
			return nil, fmt.Errorf("%w: job %s has no option --%s (options: %s)", ErrBadOption, d.Name, k, d.optionList())
		}
		if d.Options[i].Bool {
			if _, err := strconv.ParseBool(v); err != nil {
				return nil, fmt.Errorf("%w: --%s takes true or false, got %q", ErrBadOption, k, v)
			}
		}
		full[k] = v
	}
	return full, nil
}

func (d *Definition) optionList() string {
	if len(d.Options) == 0 {
		return "none"
	}
	var names []string
	for _, o := range d.Options {
		names = append(names, "--"+o.Name)
	}
	return strings.Join(names, ", ")
}

func boolOpt(opts map[string]string, name string) bool {
	b, _ := strconv.ParseBool(opts[name])
	return b
}
