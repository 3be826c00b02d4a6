package jobs

import (
	"fmt"

	"github.com/gomr/gomr/jobs/streaming"
	"github.com/gomr/gomr/mapreduce"
)

// streamingJob registers jobs/streaming (Hadoop Streaming), whose package
// cannot build a Definition itself (it would import this one).
func streamingJob() *Definition {
	d := &Definition{
		Name:    streaming.Name,
		Summary: streaming.Summary,
		MapOnly: true,
		// Typed output: the pairs as they are, a row (key, value) each; an
		// empty key or value (a line without a tab) is a null.
		typed: &typedFormats{rows: pairRows("key:string? | value:string?")},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			job, err := streaming.Build(opts)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadOption, err)
			}
			return job, nil
		},
	}
	for _, o := range streaming.Options() {
		d.Options = append(d.Options, Option{Name: o.Name, Usage: o.Usage, Default: o.Default})
	}
	return d
}
