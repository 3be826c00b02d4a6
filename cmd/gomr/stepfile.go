package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// stepFileEntry is one step of a step file, in the shape of the file
// `aws emr add-steps --steps file://steps.json` reads.
type stepFileEntry struct {
	Name            string `yaml:"Name"`
	ActionOnFailure string `yaml:"ActionOnFailure"`
	// Type STREAMING takes a Hadoop Streaming command line as Args;
	// CUSTOM_JAR (or none) takes the arguments of gomr step add, or, with
	// Jar command-runner.jar, a command line whose first word is
	// hadoop-streaming.
	Type string   `yaml:"Type"`
	Jar  string   `yaml:"Jar"`
	Args []string `yaml:"Args"`
}

// parsedStep is a step of a step file, ready to submit.
type parsedStep struct {
	spec *pb.StepSpec
	// cmd holds the step's own flags (--file, for shipping).
	cmd *cobra.Command
}

// readStepFile reads a step file (YAML, or JSON, which is YAML too) into
// specs, in order. Every error names the file and the step.
func readStepFile(file string) ([]parsedStep, []string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("step file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var entries []stepFileEntry
	if err := dec.Decode(&entries); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("step file %s: it holds no steps", file)
		}
		return nil, nil, fmt.Errorf("step file %s: %w (want a list of steps with Name, ActionOnFailure, Type and Args)", file, err)
	}
	if len(entries) == 0 {
		return nil, nil, fmt.Errorf("step file %s: it holds no steps", file)
	}
	var steps []parsedStep
	var warnings []string
	for i, e := range entries {
		where := fmt.Sprintf("step file %s: step %d", file, i+1)
		if e.Name != "" {
			where += fmt.Sprintf(" (%s)", e.Name)
		}
		args := e.Args
		switch strings.ToUpper(e.Type) {
		case "STREAMING":
			args = append([]string{"--type", "STREAMING"}, args...)
		case "", "CUSTOM_JAR":
			if strings.HasSuffix(e.Jar, "command-runner.jar") && (len(args) == 0 || args[0] != "hadoop-streaming") {
				return nil, nil, fmt.Errorf("%s: command-runner.jar runs hadoop-streaming here, not %q", where, strings.Join(args, " "))
			}
		default:
			return nil, nil, fmt.Errorf("%s: type %s is not one gomr runs (STREAMING, or CUSTOM_JAR with gomr step add arguments)", where, e.Type)
		}
		if e.Name != "" {
			args = append(args, "--name", e.Name)
		}
		if e.ActionOnFailure != "" {
			args = append(args, "--action-on-failure", e.ActionOnFailure)
		}
		spec, cmd, w, err := specFromArgs(args)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, x := range w {
			warnings = append(warnings, where+": "+x)
		}
		steps = append(steps, parsedStep{spec: spec, cmd: cmd})
	}
	return steps, warnings, nil
}

// specFromArgs parses the arguments of one "gomr step add" into a spec,
// through the command's own flags.
func specFromArgs(args []string) (*pb.StepSpec, *cobra.Command, []string, error) {
	rest, warnings, err := stepArgs(args)
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := &cobra.Command{Use: "step", SilenceUsage: true, SilenceErrors: true}
	addSpecFlags(cmd, jobFromArgs(rest))
	cmd.Flags().String("output", "", "output folder")
	if err := cmd.ParseFlags(rest); err != nil {
		return nil, nil, nil, err
	}
	v := viper.New()
	if err := v.BindPFlags(cmd.Flags()); err != nil {
		return nil, nil, nil, err
	}
	spec, err := specFromFlags(cmd, v, cmd.Flags().Args(), v.GetString("output"))
	if err != nil {
		return nil, nil, nil, err
	}
	return spec, cmd, warnings, nil
}

// submitChain ships each step's files and submits the steps in order;
// it returns their ids. A step refused stops the chain there.
func submitChain(ctx context.Context, c *clusterClient, steps []parsedStep, w io.Writer) ([]string, error) {
	var ids []string
	for i, st := range steps {
		if err := shipFiles(ctx, st.cmd, c, st.spec); err != nil {
			return ids, fmt.Errorf("step %d (%s): %w", i+1, st.spec.Name, err)
		}
		if err := prepareOnClient(ctx, viper.New(), c, st.spec); err != nil {
			return ids, fmt.Errorf("step %d (%s): %w", i+1, st.spec.Name, err)
		}
		cctx, cancel := c.callCtx(ctx)
		resp, err := c.SubmitStep(cctx, &pb.SubmitStepRequest{Spec: st.spec})
		cancel()
		if err != nil {
			return ids, fmt.Errorf("step %d (%s): %w", i+1, st.spec.Name, c.explain(err))
		}
		printWarnings(w, resp.Warnings)
		ids = append(ids, resp.StepId)
	}
	return ids, nil
}

// waitChain waits for every step of a chain in turn; it returns the
// first step's error that did not complete, after all have ended.
func waitChain(ctx context.Context, c *clusterClient, ids []string, o waitOptions) error {
	var first error
	for _, id := range ids {
		if err := waitStep(ctx, c, id, o); err != nil {
			if ctx.Err() != nil {
				return err
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}
