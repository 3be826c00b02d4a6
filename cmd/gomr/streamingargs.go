package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// hadoopStreamingOptions maps Hadoop Streaming's options, written with
// one dash as Hadoop does (or two), to gomr's flags.
var hadoopStreamingOptions = map[string]string{
	"mapper": "mapper", "reducer": "reducer", "combiner": "combiner",
	"input": "input", "output": "output", "numReduceTasks": "reducers",
	"cmdenv": "cmdenv", "file": "file", "files": "file",
}

// hadoopClasses are the Java classes Hadoop Streaming command lines name
// for what a gomr streaming step does with a command or none.
var hadoopClasses = map[string]string{
	"org.apache.hadoop.mapred.lib.IdentityMapper":  "cat",
	"org.apache.hadoop.mapred.lib.IdentityReducer": "",
	"aggregate": "aggregate",
}

// stepArgs rewrites the arguments of "gomr step add" and "gomr run" so
// that a Hadoop Streaming command line, or an EMR step's Args, pastes in:
// --type STREAMING is --job streaming; -mapper, -reducer, -combiner,
// -input, -output, -file, -files, -numReduceTasks, -cmdenv and
// -D mapreduce.job.reduces=N (or mapred.reduce.tasks) and
// -D mapreduce.job.name=NAME become gomr's flags; -cmdenv and -file may
// repeat. It returns warnings for Hadoop settings gomr ignores.
func stepArgs(args []string) ([]string, []string, error) {
	var out, warnings, cmdenv, files []string
	streaming := false
	if len(args) > 0 && (args[0] == "hadoop-streaming" || strings.HasSuffix(args[0], "hadoop-streaming.jar")) {
		args, streaming = args[1:], true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		// -D key=value and -Dkey=value: Hadoop's generic options.
		if a == "-D" || (strings.HasPrefix(a, "-D") && strings.Contains(a, "=")) {
			kv := strings.TrimPrefix(a, "-D")
			if kv == "" {
				v, err := value()
				if err != nil {
					return nil, nil, err
				}
				kv = v
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, nil, fmt.Errorf("-D %s: want KEY=VALUE", kv)
			}
			switch k {
			case "mapreduce.job.reduces", "mapred.reduce.tasks":
				out = append(out, "--reducers", v)
			case "mapreduce.job.name", "mapred.job.name":
				out = append(out, "--name", v)
			default:
				warnings = append(warnings, fmt.Sprintf("-D %s is a Hadoop setting gomr does not have; ignored", k))
			}
			continue
		}
		name, inline, hasInline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		dashes := len(a) - len(strings.TrimLeft(a, "-"))
		if name == "type" && dashes >= 1 {
			v := inline
			if !hasInline {
				var err error
				if v, err = value(); err != nil {
					return nil, nil, err
				}
			}
			switch strings.ToUpper(v) {
			case "STREAMING":
				streaming = true
			case "CUSTOM_JAR", "GOMR", "":
			default:
				return nil, nil, fmt.Errorf("step type %s is not one gomr runs (STREAMING, or a built-in job with --job)", v)
			}
			continue
		}
		flag, ok := hadoopStreamingOptions[name]
		if !ok || dashes == 0 || dashes > 2 {
			out = append(out, a)
			continue
		}
		v := inline
		if !hasInline {
			var err error
			if v, err = value(); err != nil {
				return nil, nil, err
			}
		}
		switch flag {
		case "cmdenv":
			if strings.HasPrefix(strings.TrimSpace(v), "[") {
				var list []string
				if err := json.Unmarshal([]byte(v), &list); err != nil {
					return nil, nil, fmt.Errorf("--cmdenv %s: %w", v, err)
				}
				cmdenv = append(cmdenv, list...)
			} else {
				cmdenv = append(cmdenv, v)
			}
		case "file":
			if name == "files" {
				files = append(files, strings.Split(v, ",")...)
			} else {
				files = append(files, v)
			}
		case "mapper", "reducer", "combiner":
			if class, ok := hadoopClasses[v]; ok {
				v = class
			} else if strings.HasPrefix(v, "org.apache.hadoop.") {
				return nil, nil, fmt.Errorf("-%s %s: gomr runs commands, not Java classes (IdentityMapper, IdentityReducer and aggregate excepted)", name, v)
			}
			out = append(out, "--"+flag, v)
			if flag == "reducer" && v == "NONE" && !slices.Contains(args, "-numReduceTasks") && !slices.Contains(args, "--reducers") {
				out = append(out, "--reducers", "0")
			}
		default:
			out = append(out, "--"+flag, v)
		}
	}
	if streaming {
		out = append([]string{"--job", "streaming"}, out...)
	}
	if len(cmdenv) > 0 {
		b, _ := json.Marshal(cmdenv)
		out = append(out, "--cmdenv", string(b))
	}
	for _, f := range files {
		out = append(out, "--file", f)
	}
	return out, warnings, nil
}
