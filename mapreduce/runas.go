package mapreduce

// RunAs is the unprivileged account a task's user code (a streaming
// job's commands) runs as when the worker runs as root, as Hadoop's
// LinuxContainerExecutor runs containers as the submitting user. The
// worker resolves it once, at start; nil means the code runs as the
// worker itself.
type RunAs struct {
	// User is the account's name (nobody by default).
	User string
	// UID and GID are the account's user and primary group ids; the code
	// runs with no supplementary groups.
	UID, GID uint32
}
