package worker

import "golang.org/x/sys/unix"

// DefaultMapOutputCacheBytes is a tenth of the machine's memory (2 GiB if
// it cannot be read).
func DefaultMapOutputCacheBytes() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 2 << 30
	}
	return int64(si.Totalram) * int64(si.Unit) / 10
}
