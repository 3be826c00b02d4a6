//go:build unix

package streaming

import (
	"io/fs"
	"syscall"

	"github.com/gomr/gomr/mapreduce"
)

// searchable reports whether ra, with no supplementary groups, may search
// the folder fi describes.
func searchable(fi fs.FileInfo, ra *mapreduce.RunAs) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() {
		return false
	}
	perm := fi.Mode().Perm()
	switch {
	case st.Uid == ra.UID:
		return perm&0o100 != 0
	case st.Gid == ra.GID:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// credential is the credential a command running as ra starts with (nil
// without ra): its ids and no supplementary groups.
func credential(ra *mapreduce.RunAs) *syscall.Credential {
	if ra == nil {
		return nil
	}
	return &syscall.Credential{Uid: ra.UID, Gid: ra.GID, Groups: []uint32{}}
}
