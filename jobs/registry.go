package jobs

import (
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
	build   func(opts map[string]string) (*mapreduce.Job, error)
}

// All returns every built-in job, sorted by name.
func All() []*Definition {
	return []*Definition{grepJob(), invertedIndex(), logAgg(), streamingJob(), wordCount()}
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
	job, err := d.build(full)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", d.Name, err)
	}
	return job, nil
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
