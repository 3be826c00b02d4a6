package primary

import (
	"errors"
	"strings"
	"testing"

	"github.com/gomr/gomr/primary/access"
	"github.com/gomr/gomr/primary/state"
)

// TestStepsHoldNoSecrets: a step spec that carries a credential is
// refused, and the error names where without quoting it; ordinary specs
// pass.
func TestStepsHoldNoSecrets(t *testing.T) {
	tok, _, _ := access.NewToken()
	const awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	for _, c := range []struct {
		name   string
		spec   state.StepSpec
		secret string // must not be in the error; "" for a spec that passes
		says   string
	}{
		{"cmdenv secret key", state.StepSpec{Options: map[string]string{"cmdenv": `["AWS_SECRET_ACCESS_KEY=` + awsSecret + `"]`}}, awsSecret, "option cmdenv sets AWS_SECRET_ACCESS_KEY"},
		{"cmdenv session token", state.StepSpec{Options: map[string]string{"cmdenv": "LANG=C\nAWS_SESSION_TOKEN=abc123"}}, "abc123", "sets AWS_SESSION_TOKEN"},
		{"mapper password flag", state.StepSpec{Options: map[string]string{"mapper": "python3 m.py --db-password=hunter2"}}, "hunter2", "option mapper sets db-password"},
		{"a gomr token anywhere", state.StepSpec{Name: "run " + tok}, tok[10:], "the step name holds what looks like a credential (gomr_...)"},
		{"an access key id", state.StepSpec{Options: map[string]string{"mapper": "aws s3 cp --key AKIAIOSFODNN7EXAMPLE"}}, "AKIAIOSFODNN7EXAMPLE", "looks like a credential (AKIAI...)"},
		{"a private key", state.StepSpec{Options: map[string]string{"files": "-----BEGIN EC PRIVATE KEY-----\nMHc"}}, "MHc", "looks like a credential"},
		{"credentials in an input URI", state.StepSpec{Inputs: []string{"s3://AKIDEXAMPLE:" + awsSecret + "@bucket/in/"}}, awsSecret, "--input 1 has credentials in its URI (s3://USER:...@)"},
		{"credentials in the output URI", state.StepSpec{Output: "s3://me:pw12345@bucket/out/"}, "pw12345", "--output has credentials in its URI"},
		{"an option named like a secret", state.StepSpec{Options: map[string]string{"secret": "x"}}, "", "option secret holds a secret"},
		{"ordinary", state.StepSpec{Name: "count words", Inputs: []string{"/data/in", "s3://logs/2026/", "hdfs:///in"}, Output: "s3://out/x/",
			Options: map[string]string{"mapper": "tr -cs A-Za-z '\\n'", "cmdenv": `["LC_ALL=C","TOKENIZER_MODE=fast"]`, "regex": "status=\\d+", "split-points": "0a1b,7f00"}}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := refuseSecrets(c.spec)
			if c.says == "" {
				if err != nil {
					t.Fatalf("refused an ordinary spec: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, errInvalid) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %v, want an invalid request saying %q", err, c.says)
			}
			if c.secret != "" && strings.Contains(err.Error(), c.secret) {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
}
