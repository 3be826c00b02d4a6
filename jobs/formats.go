package jobs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
)

// Formats is how a step reads its input and writes its output, by the
// names of mapreduce: the input format (mapreduce.InputFormats), the
// output format (mapreduce.OutputFormats) and the output compression
// (none, gzip, zstd). "" is the default of each: text, text, none.
type Formats struct {
	Input, Output, Compress string
}

// typedFormats is how a job reads and writes typed data.
type typedFormats struct {
	// input, when set, is the one input format the job reads: a step
	// that names text (the default) reads it, one that names another is
	// refused (csv2parquet reads csv).
	input string
	// output, when set, is the output format of a step that names text
	// (csv2parquet writes parquet).
	output string
	// buildFor, when set, builds the job for a step's formats instead of
	// build (logagg reads access logs or JSON lines).
	buildFor func(opts map[string]string, f Formats) (*mapreduce.Job, error)
	// rows returns the typed form of the job's output pairs.
	rows func(opts map[string]string, f Formats) (*mapreduce.RowSchema, error)
	// rowGroupBytes returns the Parquet row group size the job's options
	// ask for (0: mapreduce.DefaultRowGroupBytes).
	rowGroupBytes func(opts map[string]string) (int64, error)
	// prepare returns options to add to a step's, computed once at
	// submission from its input (csv2parquet's inferred schema), so that
	// every task of the step uses the same.
	prepare func(ctx context.Context, in PrepareInput, opts map[string]string, f Formats) (map[string]string, error)
}

// PrepareInput is what a job's Prepare may read of a step's input.
type PrepareInput struct {
	FileSystems *mapreduce.FileSystems
	// List lists the step's input files (mapreduce.ListInputs); it is
	// called only by jobs that read their input at submission.
	List func() ([]mapreduce.InputFile, error)
	// MaxLineBytes is the step's line limit.
	MaxLineBytes int
}

// Resolve returns the formats a step of the job uses: the job's own input
// format where the step names text or none, and its own output format
// where the step names text. Unknown names and an input format the job
// cannot read are errors wrapping ErrBadOption.
func (d *Definition) Resolve(f Formats) (Formats, error) {
	if err := mapreduce.CheckInputFormat(f.Input); err != nil {
		return f, fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	if f.Output != "" && !slices.Contains(mapreduce.OutputFormats, f.Output) {
		return f, fmt.Errorf("%w: unknown output format %q (known: %s)", ErrBadOption, f.Output, strings.Join(mapreduce.OutputFormats, ", "))
	}
	if _, err := format.CompressorFor(f.Compress); err != nil {
		return f, fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	if d.typed == nil {
		return f, nil
	}
	if in := d.typed.input; in != "" {
		switch f.Input {
		case "", mapreduce.TextInput:
			f.Input = in
		case in:
		default:
			return f, fmt.Errorf("%w: job %s reads %s input, not %s", ErrBadOption, d.Name, in, f.Input)
		}
	}
	if out := d.typed.output; out != "" && (f.Output == "" || f.Output == mapreduce.TextOutput) {
		f.Output = out
	}
	return f, nil
}

// BuildFor is Build for a step with the given formats: a job that reads
// several input formats (logagg) is built for the step's, and checks its
// options against it.
func (d *Definition) BuildFor(opts map[string]string, f Formats) (*mapreduce.Job, error) {
	f, err := d.Resolve(f)
	if err != nil {
		return nil, err
	}
	if d.typed == nil || d.typed.buildFor == nil {
		// A text job reads the records' Line, which every format has.
		return d.Build(opts)
	}
	full, err := d.checkOptions(opts)
	if err != nil {
		return nil, err
	}
	job, err := d.typed.buildFor(full, f)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", d.Name, err)
	}
	return job, nil
}

// OutputFormat returns how a step of the job with the given options and
// formats writes its part files: the format, the compression and, for a
// typed format, the job's output schema. A typed output format for a job
// without a schema is an error wrapping ErrBadOption.
func (d *Definition) OutputFormat(opts map[string]string, f Formats) (mapreduce.OutputFormat, error) {
	f, err := d.Resolve(f)
	if err != nil {
		return mapreduce.OutputFormat{}, err
	}
	of := mapreduce.OutputFormat{Name: f.Output, Compress: f.Compress}
	if f.Output == "" || f.Output == mapreduce.TextOutput {
		return of, nil
	}
	if f.Output == mapreduce.TeraOutput {
		// Records of fixed width: only the jobs that make them write them.
		if d.typed == nil || d.typed.output != mapreduce.TeraOutput {
			return of, fmt.Errorf("%w: job %s does not write %s records (terasort does)", ErrBadOption, d.Name, mapreduce.TeraOutput)
		}
		return of, nil
	}
	if d.typed == nil || d.typed.rows == nil {
		return of, fmt.Errorf("%w: job %s has no typed output schema: it writes text output only, not %s", ErrBadOption, d.Name, f.Output)
	}
	full, err := d.checkOptions(opts)
	if err != nil {
		return of, err
	}
	if of.Rows, err = d.typed.rows(full, f); err != nil {
		return of, fmt.Errorf("job %s: output schema: %w", d.Name, err)
	}
	if d.typed.rowGroupBytes != nil {
		if of.RowGroupBytes, err = d.typed.rowGroupBytes(full); err != nil {
			return of, fmt.Errorf("job %s: %w", d.Name, err)
		}
	}
	if err := of.Validate(); err != nil {
		return of, fmt.Errorf("%w: job %s: %v", ErrBadOption, d.Name, err)
	}
	return of, nil
}

// Prepare completes a step's options once, at submission, from what the
// step reads (csv2parquet infers its schema from the first rows of its
// input, logagg the types of its sums), and returns them: a new map when
// it added any, else opts. Storing them in the step makes every task use
// the same.
func (d *Definition) Prepare(ctx context.Context, in PrepareInput, opts map[string]string, f Formats) (map[string]string, error) {
	if d.typed == nil || d.typed.prepare == nil {
		return opts, nil
	}
	f, err := d.Resolve(f)
	if err != nil {
		return nil, err
	}
	full, err := d.checkOptions(opts)
	if err != nil {
		return nil, err
	}
	add, err := d.typed.prepare(ctx, in, full, f)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", d.Name, err)
	}
	if len(add) == 0 {
		return opts, nil
	}
	out := maps.Clone(opts)
	if out == nil {
		out = make(map[string]string, len(add))
	}
	maps.Copy(out, add)
	return out, nil
}

// pairRows returns the typed output of a job whose pairs RowFromPair
// reads with a pair schema ("key columns | value columns").
func pairRows(pairSchema string) func(map[string]string, Formats) (*mapreduce.RowSchema, error) {
	return func(map[string]string, Formats) (*mapreduce.RowSchema, error) {
		schema, keys, err := format.ParsePairSchema(pairSchema)
		if err != nil {
			return nil, err
		}
		return &mapreduce.RowSchema{Schema: schema, KeyColumns: keys}, nil
	}
}
