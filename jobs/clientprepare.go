package jobs

import (
	"context"
	"fmt"
	"maps"

	"github.com/gomr/gomr/mapreduce"
)

// ClientStep is what a job's client-side preparation reads and completes
// of a step before the client submits it, as Hadoop's job client does
// (TeraSort samples its input there, TeraGen plans its map tasks).
type ClientStep struct {
	// FileSystems reads the step's input and writes its staging folder
	// (local paths, hdfs://, s3://, as the client reaches them).
	FileSystems *mapreduce.FileSystems
	// Staging is a folder private to this submission (it need not exist)
	// in which the preparation may write files the step's tasks read: a
	// path every worker can read (hdfs:// on a cluster).
	Staging string
	// Inputs, Output and Reducers are the step's; the preparation may
	// set Inputs (teragen's control files).
	Inputs   []string
	Output   string
	Reducers int
	// SplitSize is the step's largest split (DefaultSplitSize when 0).
	SplitSize int64
	// Options are the step's job options as given; the preparation adds
	// the ones it computes (terasort's split points), so that the step,
	// and its description, carry them.
	Options map[string]string
}

// PrepareClient completes a step of the job on the client, before it is
// submitted: it may add options to s.Options and set s.Inputs. A job
// without a client-side preparation leaves s as it is.
func (d *Definition) PrepareClient(ctx context.Context, s *ClientStep) error {
	if d.prepareClient == nil {
		return nil
	}
	full, err := d.checkOptions(s.Options)
	if err != nil {
		return err
	}
	if s.SplitSize <= 0 {
		s.SplitSize = mapreduce.DefaultSplitSize
	}
	if s.FileSystems == nil {
		s.FileSystems = mapreduce.LocalFileSystems()
	}
	before := maps.Clone(full)
	if err := d.prepareClient(ctx, s, full); err != nil {
		return fmt.Errorf("job %s: %w", d.Name, err)
	}
	for k, v := range full {
		if before[k] != v {
			if s.Options == nil {
				s.Options = map[string]string{}
			}
			s.Options[k] = v
		}
	}
	return nil
}

// PreparesOnClient reports whether the job completes its steps on the
// client before they are submitted (PrepareClient does something).
func (d *Definition) PreparesOnClient() bool { return d.prepareClient != nil }
