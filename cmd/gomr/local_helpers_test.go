package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/primary/pki"
)

// localOutput is what a gomr local process printed for its users.
type localOutput struct {
	// env is the client environment it tells other terminals to export
	// (GOMR_CLUSTER, GOMR_TLS_*, GOMR_TOKEN read from the file it names).
	env []string
	// endpoint and credentials are the embedded S3 endpoint's URL and
	// credentials file.
	endpoint, credentials string
}

// waitLocalOutput waits until a gomr local process is ready and reads
// what it printed, as a user would.
func waitLocalOutput(t *testing.T, p *ct.Process) localOutput {
	t.Helper()
	var lo localOutput
	ct.WaitFor(t, "gomr local to print its addresses", time.Minute, func() bool {
		if !p.Running() {
			t.Fatalf("gomr local exited: %v\n%s", p.Err(), p.LogTail(40))
		}
		log, _ := os.ReadFile(p.Log)
		if !strings.Contains(string(log), "press Ctrl-C to stop") {
			return false
		}
		lo = parseLocalOutput(t, string(log))
		return true
	})
	return lo
}

func parseLocalOutput(t *testing.T, log string) localOutput {
	t.Helper()
	var lo localOutput
	addr := ""
	for _, line := range strings.Split(log, "\n") {
		f := strings.Fields(line)
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "cluster address:") && len(f) == 3:
			addr = f[2]
		case strings.HasPrefix(trimmed, "export GOMR_TOKEN=$(cat "):
			file := strings.TrimSuffix(strings.TrimPrefix(trimmed, "export GOMR_TOKEN=$(cat "), ")")
			token, err := pki.ReadSecretFile(file)
			if err != nil {
				t.Fatalf("the token file gomr local names: %v", err)
			}
			lo.env = append(lo.env, "GOMR_TOKEN="+strings.TrimSpace(string(token)))
		case strings.HasPrefix(trimmed, "export GOMR_TLS_"):
			lo.env = append(lo.env, strings.TrimPrefix(trimmed, "export "))
		case strings.HasPrefix(line, "embedded S3 endpoint ") && len(f) > 3:
			lo.endpoint = strings.TrimSuffix(f[3], ",")
		}
		for _, w := range f {
			if v, ok := strings.CutPrefix(w, "AWS_SHARED_CREDENTIALS_FILE="); ok {
				lo.credentials = v
			}
		}
	}
	if addr == "" {
		t.Fatalf("gomr local printed no cluster address:\n%s", log)
	}
	lo.env = append(lo.env, "GOMR_CLUSTER="+addr)
	return lo
}

// readCredentials reads a profile's key pair from an AWS shared
// credentials file, checking that only its owner may read it.
func readCredentials(t *testing.T, file, profile string) (accessKey, secretKey string) {
	t.Helper()
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %04o, want 0600", file, st.Mode().Perm())
	}
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	in := false
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			in = line == "["+profile+"]"
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !in || !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			accessKey = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secretKey = strings.TrimSpace(v)
		}
	}
	if accessKey == "" || secretKey == "" {
		t.Fatalf("%s has no key pair under [%s]", file, profile)
	}
	return accessKey, secretKey
}
