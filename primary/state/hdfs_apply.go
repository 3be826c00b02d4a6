package state

import (
	"fmt"
	"slices"
	"strings"
)

func (w *tx) inode(p string) (*Inode, bool) { return w.Inode(p) }

func (w *tx) putInode(n *Inode) { w.put(tableInodes, n) }

func (w *tx) deleteInode(n *Inode) {
	if err := w.txn.Delete(tableInodes, n); err != nil {
		panic(fmt.Sprintf("state: delete inode %s: %v", n.Path, err))
	}
}

// dirFor returns the folder a new entry goes in, making it (and its
// parents) when makeParents is set.
func (w *tx) dirFor(p string, makeParents bool, owner string, now int64) error {
	parent := parentOf(p)
	n, ok := w.inode(parent)
	switch {
	case ok && n.Dir:
		return nil
	case ok:
		return rule(ErrConflict, "%s: parent %s is a file", p, parent)
	case !makeParents:
		return rule(ErrNotFound, "%s: parent folder %s does not exist", p, parent)
	}
	if err := w.dirFor(parent, true, owner, now); err != nil {
		return err
	}
	w.putInode(&Inode{Path: parent, Dir: true, MTime: now, Owner: owner})
	return nil
}

func (w *tx) mkdirs(c *Mkdirs) error {
	if n, ok := w.inode(c.Path); ok {
		switch {
		case !n.Dir:
			return rule(ErrConflict, "mkdir %s: it is a file", c.Path)
		case c.Parents:
			return nil
		}
		return rule(ErrExists, "mkdir %s", c.Path)
	}
	if err := w.dirFor(c.Path, c.Parents, c.Owner, c.Time); err != nil {
		return fmt.Errorf("mkdir %w", err)
	}
	w.putInode(&Inode{Path: c.Path, Dir: true, MTime: c.Time, Owner: c.Owner})
	return nil
}

func (w *tx) createFile(c *CreateFile) error {
	if c.Path == "/" || c.Client == "" || c.Replication < 1 || c.BlockSize < 1 {
		return rule(ErrConflict, "create %s: bad request", c.Path)
	}
	if n, ok := w.inode(c.Path); ok {
		switch {
		case n.Dir:
			return rule(ErrConflict, "create %s: it is a folder", c.Path)
		case !n.Visible() && n.Writer != c.Client:
			return rule(ErrConflict, "create %s: it is being written by %s", c.Path, n.Writer)
		case !c.Overwrite && n.Visible():
			return rule(ErrExists, "create %s", c.Path)
		}
		w.deleteInode(n) // its blocks are orphans now, deleted when reported
	}
	if err := w.dirFor(c.Path, c.CreateParent, c.Owner, c.Time); err != nil {
		return fmt.Errorf("create %w", err)
	}
	w.putInode(&Inode{Path: c.Path, Replication: c.Replication, BlockSize: c.BlockSize, MTime: c.Time, Owner: c.Owner, Writer: c.Client, CloseMTime: c.CloseMTime})
	w.put(tableLeases, &Lease{Holder: c.Client, Renewed: c.Time})
	return nil
}

// writing returns a copy of a file the client is writing.
func (w *tx) writing(p, client string) (*Inode, error) {
	n, ok := w.inode(p)
	if !ok {
		return nil, rule(ErrNotFound, "%s", p)
	}
	if n.Dir || n.Writer != client {
		return nil, rule(ErrStale, "%s is not being written by %s (its lease expired, or it was closed)", p, client)
	}
	c := *n
	c.Blocks = slices.Clone(n.Blocks)
	return &c, nil
}

// setLast sets the final length of a file's last block, which must be b.
func setLast(n *Inode, b *BlockRef) error {
	switch {
	case b == nil && len(n.Blocks) == 0:
		return nil
	case b == nil || len(n.Blocks) == 0 || n.Blocks[len(n.Blocks)-1].ID != b.ID:
		return rule(ErrConflict, "%s: the last block is not the one given", n.Path)
	case b.Length < 0 || b.Length > n.BlockSize:
		return rule(ErrConflict, "%s: block %d of %d bytes, more than the block size %d", n.Path, b.ID, b.Length, n.BlockSize)
	}
	n.Blocks[len(n.Blocks)-1].Length = b.Length
	return nil
}

func (w *tx) addBlock(c *AddBlock) error {
	n, err := w.writing(c.Path, c.Client)
	if err != nil {
		return fmt.Errorf("add block: %w", err)
	}
	if c.BlockID <= w.MaxBlockID() {
		return rule(ErrConflict, "add block %d to %s: block ids only grow (largest %d)", c.BlockID, c.Path, w.MaxBlockID())
	}
	if err := setLast(n, c.Previous); err != nil {
		return fmt.Errorf("add block: %w", err)
	}
	n.Blocks = append(n.Blocks, BlockRef{ID: c.BlockID})
	w.putInode(n)
	w.put(tableMeta, &meta{Name: metaMaxBlock, Value: uint64(c.BlockID)})
	w.put(tableLeases, &Lease{Holder: c.Client, Renewed: c.Time})
	return nil
}

func (w *tx) abandonBlock(c *AbandonBlock) error {
	n, err := w.writing(c.Path, c.Client)
	if err != nil {
		return fmt.Errorf("abandon block: %w", err)
	}
	if len(n.Blocks) == 0 || n.Blocks[len(n.Blocks)-1].ID != c.BlockID {
		return rule(ErrConflict, "abandon block %d of %s: not its last block", c.BlockID, c.Path)
	}
	n.Blocks = n.Blocks[:len(n.Blocks)-1]
	w.putInode(n)
	return nil
}

func (w *tx) completeFile(c *CompleteFile) error {
	n, err := w.writing(c.Path, c.Client)
	if err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	if err := setLast(n, c.Last); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	n.Length = 0
	for _, b := range n.Blocks {
		n.Length += b.Length
	}
	n.Writer = ""
	n.MTime = c.Time
	if n.CloseMTime != 0 {
		n.MTime, n.CloseMTime = n.CloseMTime, 0
	}
	w.putInode(n)
	w.dropLeaseIfIdle(c.Client)
	return nil
}

func (w *tx) abandonFile(c *AbandonFile) error {
	n, err := w.writing(c.Path, c.Client)
	if err != nil {
		return fmt.Errorf("abandon: %w", err)
	}
	w.deleteInode(n)
	w.dropLeaseIfIdle(c.Client)
	return nil
}

// dropLeaseIfIdle removes the lease of a holder that writes no file.
func (w *tx) dropLeaseIfIdle(holder string) {
	if len(w.FilesWrittenBy(holder)) > 0 {
		return
	}
	if l, ok := first[*Lease](w.txn, tableLeases, indexID, holder); ok {
		if err := w.txn.Delete(tableLeases, l); err != nil {
			panic(err)
		}
	}
}

func (w *tx) renewLease(c *RenewLease) error {
	if _, ok := first[*Lease](w.txn, tableLeases, indexID, c.Client); !ok {
		return fmt.Errorf("renew lease of %s: %w", c.Client, ErrNotFound)
	}
	w.put(tableLeases, &Lease{Holder: c.Client, Renewed: c.Time})
	return nil
}

func (w *tx) expireLeases(c *ExpireLeases) error {
	for _, holder := range c.Clients {
		for _, n := range w.FilesWrittenBy(holder) {
			w.deleteInode(n)
		}
		w.dropLeaseIfIdle(holder)
	}
	return nil
}

func (w *tx) deletePath(c *DeletePath) error {
	if c.Path == "/" {
		return rule(ErrConflict, "delete /: the root folder cannot be deleted")
	}
	n, ok := w.inode(c.Path)
	if !ok {
		return rule(ErrNotFound, "delete %s", c.Path)
	}
	if n.Dir {
		children := collect(w.Descendants(c.Path))
		if len(children) > 0 && !c.Recursive {
			return rule(ErrConflict, "delete %s: it is a folder that is not empty (delete it recursively)", c.Path)
		}
		for _, d := range children {
			w.deleteInode(d)
			if d.Writer != "" {
				w.dropLeaseIfIdle(d.Writer)
			}
		}
	}
	w.deleteInode(n)
	if n.Writer != "" {
		w.dropLeaseIfIdle(n.Writer)
	}
	return nil
}

func (w *tx) renamePath(c *RenamePath) error {
	if c.Src == "/" {
		return rule(ErrConflict, "rename /: the root folder cannot be moved")
	}
	src, ok := w.inode(c.Src)
	if !ok || !src.Visible() {
		return rule(ErrNotFound, "rename %s", c.Src)
	}
	dst := c.Dst
	if d, ok := w.inode(dst); ok {
		if !d.Dir {
			return rule(ErrExists, "rename %s to %s", c.Src, dst)
		}
		if dst == c.Src {
			return rule(ErrConflict, "rename %s onto itself", c.Src)
		}
		dst = joinPath(dst, baseOf(c.Src))
	}
	switch {
	case dst == c.Src:
		return rule(ErrConflict, "rename %s onto itself", c.Src)
	case src.Dir && strings.HasPrefix(dst, c.Src+"/"):
		return rule(ErrConflict, "rename %s into its own subfolder %s", c.Src, dst)
	}
	if _, ok := w.inode(dst); ok {
		return rule(ErrExists, "rename %s to %s", c.Src, dst)
	}
	if p, ok := w.inode(parentOf(dst)); !ok || !p.Dir {
		return rule(ErrNotFound, "rename %s to %s: folder %s does not exist", c.Src, dst, parentOf(dst))
	}
	moved := []*Inode{src}
	if src.Dir {
		moved = append(moved, collect(w.Descendants(c.Src))...)
	}
	for _, n := range moved {
		w.deleteInode(n)
		m := *n
		m.Path = dst + n.Path[len(c.Src):]
		w.putInode(&m)
	}
	return nil
}

func (w *tx) setReplication(c *SetReplication) error {
	if c.Replication < 1 {
		return rule(ErrConflict, "set replication of %s: %d replicas", c.Path, c.Replication)
	}
	n, ok := w.inode(c.Path)
	if !ok {
		return rule(ErrNotFound, "set replication of %s", c.Path)
	}
	files := []*Inode{n}
	if n.Dir {
		files = collect(w.Descendants(c.Path))
	}
	for _, f := range files {
		if f.Dir {
			continue
		}
		m := *f
		m.Replication = c.Replication
		w.putInode(&m)
	}
	return nil
}

func (w *tx) setSafeMode(c *SetSafeMode) error {
	v := uint64(0)
	if c.On {
		v = 1
	}
	w.put(tableMeta, &meta{Name: metaSafeMode, Value: v})
	return nil
}

func baseOf(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

func (w *tx) decommissionWorker(c *DecommissionWorker) error {
	old, ok := w.Worker(c.ID)
	if !ok {
		return fmt.Errorf("worker %s: %w", c.ID, ErrNotFound)
	}
	if old.Role != RoleCore {
		return rule(ErrConflict, "decommission %s: it is a %s worker, which stores no blocks (drain it instead)", c.ID, old.Role)
	}
	if old.State != WorkerAlive && old.State != WorkerDraining {
		return rule(ErrConflict, "decommission %s: worker is %s", c.ID, old.State)
	}
	wk := *old
	wk.State = WorkerDecommissioning
	w.put(tableWorkers, &wk)
	return nil
}

func (w *tx) finishDecommission(c *FinishDecommission) error {
	old, ok := w.Worker(c.ID)
	if !ok {
		return fmt.Errorf("worker %s: %w", c.ID, ErrNotFound)
	}
	if old.State != WorkerDecommissioning {
		return rule(ErrConflict, "decommissioned %s: worker is %s", c.ID, old.State)
	}
	wk := *old
	wk.State = WorkerDecommissioned
	w.put(tableWorkers, &wk)
	return nil
}

// ruleError is a command refused by a rule of the namespace: its message
// is for the user, and it wraps the sentinel of its kind.
type ruleError struct {
	msg  string
	kind error
}

func (e *ruleError) Error() string { return e.msg }
func (e *ruleError) Unwrap() error { return e.kind }

// rule makes a ruleError; a missing or existing path says so as a file
// system does.
func rule(kind error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch kind {
	case ErrExists:
		msg += ": file exists"
	case ErrNotFound:
		msg += ": no such file or directory"
	}
	return &ruleError{msg: msg, kind: kind}
}
