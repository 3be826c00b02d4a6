package state

// HDFS namespace commands. Paths are clean (the leader validated them).

// Mkdirs makes a folder; with Parents, its missing parents too, and an
// existing folder is no error.
type Mkdirs struct {
	Path    string `json:"path"`
	Parents bool   `json:"parents,omitempty"`
	Owner   string `json:"owner,omitempty"`
	Time    int64  `json:"time"`
}

// CreateFile opens a new file for writing by Client, under its lease.
type CreateFile struct {
	Path         string `json:"path"`
	Client       string `json:"client"`
	Overwrite    bool   `json:"overwrite,omitempty"`
	Replication  int    `json:"replication"`
	BlockSize    int64  `json:"block_size"`
	Owner        string `json:"owner,omitempty"`
	CloseMTime   int64  `json:"close_mtime,omitempty"`
	CreateParent bool   `json:"create_parent,omitempty"`
	Time         int64  `json:"time"`
}

// AddBlock appends a block, whose id the leader chose, to a file being
// written, after setting the final length of the block before it.
type AddBlock struct {
	Path     string    `json:"path"`
	Client   string    `json:"client"`
	Previous *BlockRef `json:"previous,omitempty"`
	BlockID  int64     `json:"block_id"`
	Time     int64     `json:"time"`
}

// AbandonBlock drops the last block of a file being written (its
// pipeline failed before any data reached it).
type AbandonBlock struct {
	Path    string `json:"path"`
	Client  string `json:"client"`
	BlockID int64  `json:"block_id"`
}

// CompleteFile closes a file being written: with the final length of its
// last block it becomes visible.
type CompleteFile struct {
	Path   string    `json:"path"`
	Client string    `json:"client"`
	Last   *BlockRef `json:"last,omitempty"`
	Time   int64     `json:"time"`
}

// AbandonFile drops a file its writer gave up.
type AbandonFile struct {
	Path   string `json:"path"`
	Client string `json:"client"`
}

// RenewLease renews a writer's lease.
type RenewLease struct {
	Client string `json:"client"`
	Time   int64  `json:"time"`
}

// ExpireLeases drops the leases the leader found expired, and with them
// the files their holders were writing.
type ExpireLeases struct {
	Clients []string `json:"clients"`
	Time    int64    `json:"time"`
}

// DeletePath removes a file or a folder (a non-empty folder only when
// Recursive).
type DeletePath struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive,omitempty"`
	Time      int64  `json:"time"`
}

// RenamePath moves a file or folder; onto an existing folder, into it.
type RenamePath struct {
	Src  string `json:"src"`
	Dst  string `json:"dst"`
	Time int64  `json:"time"`
}

// SetReplication sets the replication of a file, or of every file under a
// folder.
type SetReplication struct {
	Path        string `json:"path"`
	Replication int    `json:"replication"`
}

// SetSafeMode enters or leaves safe mode by an administrator's hand.
type SetSafeMode struct {
	On bool `json:"on"`
}

// Type implements Command.
func (Mkdirs) Type() CommandType { return CmdMkdirs }

// Type implements Command.
func (CreateFile) Type() CommandType { return CmdCreateFile }

// Type implements Command.
func (AddBlock) Type() CommandType { return CmdAddBlock }

// Type implements Command.
func (AbandonBlock) Type() CommandType { return CmdAbandonBlock }

// Type implements Command.
func (CompleteFile) Type() CommandType { return CmdCompleteFile }

// Type implements Command.
func (AbandonFile) Type() CommandType { return CmdAbandonFile }

// Type implements Command.
func (RenewLease) Type() CommandType { return CmdRenewLease }

// Type implements Command.
func (ExpireLeases) Type() CommandType { return CmdExpireLeases }

// Type implements Command.
func (DeletePath) Type() CommandType { return CmdDeletePath }

// Type implements Command.
func (RenamePath) Type() CommandType { return CmdRenamePath }

// Type implements Command.
func (SetReplication) Type() CommandType { return CmdSetReplication }

// Type implements Command.
func (SetSafeMode) Type() CommandType { return CmdSetSafeMode }

// DecommissionWorker starts decommissioning a core worker: it takes no
// new attempts, and its blocks are copied to other core workers.
type DecommissionWorker struct {
	ID   string `json:"id"`
	Time int64  `json:"time"`
}

// FinishDecommission records that a decommissioning worker's blocks
// all have their replicas elsewhere.
type FinishDecommission struct {
	ID   string `json:"id"`
	Time int64  `json:"time"`
}

// Type implements Command.
func (DecommissionWorker) Type() CommandType { return CmdDecommissionWorker }

// Type implements Command.
func (FinishDecommission) Type() CommandType { return CmdFinishDecommission }
