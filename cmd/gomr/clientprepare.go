package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/s3"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/spf13/viper"
)

// prepareOnClient runs a job's client-side preparation of a step before
// it is submitted (jobs.Definition.PrepareClient): terasort samples its
// input for its split points, teragen writes its control files into the
// step's staging folder in HDFS. The input is read through the same
// file systems the cluster uses: local paths, hdfs:// and s3://.
func prepareOnClient(ctx context.Context, v *viper.Viper, c *clusterClient, spec *pb.StepSpec) error {
	def, err := jobs.Lookup(spec.Job)
	if err != nil || !def.PreparesOnClient() {
		return nil
	}
	hc, closeHC := newHDFSClient(c)
	defer closeHC()
	fss := mapreduce.LocalFileSystems().With("hdfs", hc.FileSystem())
	if fs, err := s3.New(ctx, s3Config(v, slog.Default())); err == nil {
		fss = fss.With("s3", fs)
	}
	cs := &jobs.ClientStep{FileSystems: fss, Staging: stagingDir + "/" + strings.ToLower(spec.ClientToken),
		Inputs: spec.Inputs, Output: spec.Output, Reducers: int(spec.Reducers), SplitSize: spec.SplitSize, Options: spec.Options}
	if err := def.PrepareClient(ctx, cs); err != nil {
		return err
	}
	spec.Inputs, spec.Options = cs.Inputs, cs.Options
	return nil
}
