package primary

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gomr/gomr/primary/state"
)

// A step's spec is stored in the replicated log and shown by step
// describe, the status page and the CLI, so it must hold no secret:
// a step that would carry one is refused at submission, with an error
// that names where the secret is and never quotes it. Credentials
// belong in the workers' environment (S3) or in the client's (tokens).
var (
	// secretName matches the names of environment variables, flags and
	// options that hold secrets: a word of the name (between '_', '-'
	// and '.') says so, as in AWS_SECRET_ACCESS_KEY, --db-password or
	// GOMR_TOKEN (TOKENIZER_MODE is not one).
	secretName = regexp.MustCompile(`(?i)(^|[_.-])(secret|password|passwd|token|credentials?|access[_.-]?key|private[_.-]?key)([_.-]|$)`)
	// assignment finds NAME=VALUE pairs.
	assignment = regexp.MustCompile(`([A-Za-z0-9_.-]+)\s*=\s*\S`)
	// uriCredentials finds credentials in a URI's authority.
	uriCredentials = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*)://[^@\s]*:[^@\s]*@`)
	// secretValue matches values that are secrets whatever they are
	// called: gomr tokens, PEM private keys, AWS access key ids.
	secretValue = regexp.MustCompile(`gomr_[0-9a-f]{16}_[0-9a-f]{64}|-----BEGIN [A-Z ]*PRIVATE KEY-----|\b(AKIA|ASIA)[0-9A-Z]{16}\b`)
)

// refuseSecrets refuses a step spec that holds a secret.
func refuseSecrets(spec state.StepSpec) error {
	check := func(where, v string) error {
		if m := secretValue.FindString(v); m != "" {
			return fmt.Errorf("%w: %s holds what looks like a credential (%s...): a step is stored in the replicated log and shown to every reader, so it may hold no secret; give credentials to the workers' environment instead", errInvalid, where, m[:min(len(m), 5)])
		}
		for _, m := range assignment.FindAllStringSubmatch(v, -1) {
			if name := strings.TrimLeft(m[1], "-"); secretName.MatchString(name) {
				return fmt.Errorf("%w: %s sets %s: a step is stored in the replicated log and shown to every reader, so it may hold no secret; give credentials to the workers' environment instead", errInvalid, where, name)
			}
		}
		if m := uriCredentials.FindStringSubmatch(v); m != nil {
			return fmt.Errorf("%w: %s has credentials in its URI (%s://USER:...@): give them to the workers' environment instead", errInvalid, where, m[1])
		}
		return nil
	}
	fields := []struct{ where, v string }{{"the step name", spec.Name}, {"--output", spec.Output}, {"--export", spec.Export}}
	for i, in := range spec.Inputs {
		fields = append(fields, struct{ where, v string }{fmt.Sprintf("--input %d", i+1), in})
	}
	for k, v := range spec.Options {
		if secretName.MatchString(k) && v != "" {
			return fmt.Errorf("%w: option %s holds a secret: a step is stored in the replicated log and shown to every reader; give credentials to the workers' environment instead", errInvalid, k)
		}
		fields = append(fields, struct{ where, v string }{"option " + k, v})
	}
	for _, f := range fields {
		if err := check(f.where, f.v); err != nil {
			return err
		}
	}
	return nil
}
