package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReadStepFile checks readStepFile on arbitrary step files (YAML or
// JSON in the shape aws emr add-steps reads): it never panics; an error
// names the file and says more than that; a file it reads holds at least
// one step, each with a job and an output.
func FuzzReadStepFile(f *testing.F) {
	for _, body := range []string{
		"",
		"Name: x\n",
		"- Name: x\n  Argz: [--job, wordcount]\n",
		"- Name: x\n  Type: HIVE\n  Args: []\n",
		"- Name: first\n  Args: [--job, wordcount, --input, /x, --output, /y]\n- Name: second\n  Args: [--job, nosuch, --input, /x, --output, /z]\n",
		"- Name: x\n  ActionOnFailure: EXPLODE\n  Args: [--job, wordcount, --input, /x, --output, /y]\n",
		"- Name: clean\n  ActionOnFailure: CANCEL_AND_WAIT\n  Type: STREAMING\n  Args: [-mapper, \"grep -v ^#\", -reducer, NONE, -input, /in, -output, /analytics]\n" +
			"- Name: curate\n  ActionOnFailure: CANCEL_AND_WAIT\n  Args: [--job, wordcount, --input, /analytics, --output, /curated, --reducers, \"2\"]\n" +
			"- Name: archive\n  Args: [--job, distcp, --src, /curated, --dest, /archive]\n",
		`[{"Name":"wc","ActionOnFailure":"CONTINUE","Type":"CUSTOM_JAR","Jar":"command-runner.jar","Args":["hadoop-streaming","-files","s3://b/m.py","-mapper","m.py","-reducer","aggregate","-input","s3://b/in","-output","s3://b/out","-D","mapreduce.job.reduces=3"]}]`,
		`[{"Name":"x","Jar":"command-runner.jar","Args":["spark-submit","x.py"]}]`,
		"- Args: [--job, wordcount, --input, /x, --output, /y, --split-size, 1e9]\n",
		"- Args: [--job, grep, --input, /x, --output, /y, --help]\n",
		"- &a {Name: x, Args: [--job, wordcount, --input, /x, --output, /y]}\n- *a\n",
		"- [1, 2]\n",
		"--- \n...\n",
	} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		file := filepath.Join(t.TempDir(), "steps.yaml")
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		steps, _, err := readStepFile(file)
		if err != nil {
			prefix := "step file " + file + ": "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || len(strings.TrimSpace(msg[len(prefix):])) == 0 {
				t.Fatalf("error %q does not start with %q and say why", msg, prefix)
			}
			return
		}
		if len(steps) == 0 {
			t.Fatalf("step file %q: no steps and no error", body)
		}
		for i, st := range steps {
			if st.spec == nil || st.cmd == nil || st.spec.Job == "" || st.spec.Output == "" {
				t.Fatalf("step file %q: step %d is %+v", body, i+1, st.spec)
			}
		}
	})
}
