package worker

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"

	"github.com/gomr/gomr/mapreduce"
)

// DefaultRunAs is the account a worker running as root runs streaming
// commands as when Config.RunAs names none.
const DefaultRunAs = "nobody"

// resolveRunAs returns the account the worker's user code runs as: for a
// worker running as root, the account named (DefaultRunAs when name is
// ""), which must exist and must not be root; for any other worker, none,
// as it cannot switch accounts (a name given is then ignored, with a
// warning).
func resolveRunAs(name string, euid int, log *slog.Logger) (*mapreduce.RunAs, error) {
	if euid != 0 {
		if name != "" {
			log.Warn("run-as is ignored: the worker does not run as root, so streaming commands run as the worker's own user", "run_as", name, "uid", euid)
		}
		return nil, nil
	}
	if name == "" {
		name = DefaultRunAs
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("run-as %q: the account streaming commands run as: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("run-as %q: user id %q is not a number", name, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("run-as %q: group id %q is not a number", name, u.Gid)
	}
	if uid == 0 || gid == 0 {
		return nil, fmt.Errorf("run-as %q: user id %d, group id %d: streaming commands must not run as root; name an unprivileged account", name, uid, gid)
	}
	ra := &mapreduce.RunAs{User: u.Username, UID: uint32(uid), GID: uint32(gid)}
	log.Info("streaming commands run as an unprivileged account", "run_as", ra.User, "uid", ra.UID, "gid", ra.GID)
	return ra, nil
}

// processRunAs resolves the run-as account for this process's user.
func processRunAs(name string, log *slog.Logger) (*mapreduce.RunAs, error) {
	return resolveRunAs(name, os.Geteuid(), log)
}
