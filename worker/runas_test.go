package worker

import (
	"bytes"
	"log/slog"
	"os/user"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

// TestResolveRunAs: a root worker runs streaming commands as nobody by
// default, or as the account named, never as root; any other worker runs
// them as itself and warns about a name given.
func TestResolveRunAs(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no account nobody: %v", err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ra, err := resolveRunAs("", 0, log)
	if err != nil {
		t.Fatal(err)
	}
	if want := (mapreduce.RunAs{User: "nobody", UID: parseID(t, nobody.Uid), GID: parseID(t, nobody.Gid)}); ra == nil || *ra != want {
		t.Errorf("root, no run-as: %+v, want %+v", ra, want)
	}
	if _, err := resolveRunAs("root", 0, log); err == nil || err.Error() != `run-as "root": user id 0, group id 0: streaming commands must not run as root; name an unprivileged account` {
		t.Errorf("run-as root: %v", err)
	}
	if _, err := resolveRunAs("no-such-account-gomr", 0, log); err == nil || !strings.HasPrefix(err.Error(), `run-as "no-such-account-gomr": the account streaming commands run as: user: unknown user no-such-account-gomr`) {
		t.Errorf("run-as an unknown account: %v", err)
	}
	logs.Reset()
	if ra, err := resolveRunAs("nobody", 1000, log); ra != nil || err != nil {
		t.Errorf("a worker not root: %+v, %v; want no account", ra, err)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"run-as is ignored: the worker does not run as root") {
		t.Errorf("no warning for run-as on a worker not root; logs:\n%s", logs.String())
	}
}

func parseID(t *testing.T, s string) uint32 {
	t.Helper()
	var n uint32
	for _, c := range s {
		n = n*10 + uint32(c-'0')
	}
	return n
}
