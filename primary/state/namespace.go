package state

import (
	"fmt"
	"iter"
	"strings"
)

// The HDFS namespace: folders and files, each file's ordered blocks, and
// the leases of the files being written. Which core workers hold a
// block's replicas is not here: that is soft state the leader rebuilds
// from block reports.

// Inode is a folder or a file of the HDFS namespace. Paths are clean
// absolute paths (hdfs/namespace.Clean); the root folder "/" always exists
// and is not stored.
type Inode struct {
	Path        string     `json:"path"`
	Dir         bool       `json:"dir,omitempty"`
	Length      int64      `json:"length,omitempty"`
	Replication int        `json:"replication,omitempty"`
	BlockSize   int64      `json:"block_size,omitempty"`
	MTime       int64      `json:"mtime"`
	Owner       string     `json:"owner,omitempty"`
	Blocks      []BlockRef `json:"blocks,omitempty"`
	// Writer is the lease holder of a file being written. Such a file is
	// invisible to readers and listings until it is completed.
	Writer string `json:"writer,omitempty"`
	// CloseMTime, when set, is the modification time the file gets once
	// completed (hdfs dfs -put -p keeps the local file's).
	CloseMTime int64 `json:"close_mtime,omitempty"`
}

// Visible reports whether readers see the inode (it is not a file being
// written).
func (n *Inode) Visible() bool { return n.Writer == "" }

// BlockRef is one block of a file.
type BlockRef struct {
	ID     int64 `json:"id"`
	Length int64 `json:"length"`
}

// Lease is a writer's hold on the files it is writing; the leader expires
// it when it is not renewed in time, and the files go.
type Lease struct {
	Holder  string `json:"holder"`
	Renewed int64  `json:"renewed"`
}

// rootInode is the root folder, which is never stored.
var rootInode = &Inode{Path: "/", Dir: true}

// parentOf returns the parent folder of a clean path ("" for the root and
// for anything that is not an absolute path).
func parentOf(p string) string {
	i := strings.LastIndexByte(p, '/')
	switch {
	case p == "/" || i < 0:
		return ""
	case i == 0:
		return "/"
	}
	return p[:i]
}

func blockKey(id int64) string { return fmt.Sprintf("%020d", id) }

// Inode returns the folder or file at a path, a file being written
// included.
func (v *View) Inode(p string) (*Inode, bool) {
	if p == "/" {
		return rootInode, true
	}
	return first[*Inode](v.txn, tableInodes, indexID, p)
}

// Children yields the entries of a folder, by path, files being written
// included.
func (v *View) Children(dir string) iter.Seq[*Inode] {
	return all[*Inode](v.txn.Get(tableInodes, indexParent, dir))
}

// ChildrenAfter yields the entries of a folder whose path sorts after
// after, by path (for paged listings).
func (v *View) ChildrenAfter(dir, after string) iter.Seq[*Inode] {
	it := all[*Inode](v.txn.LowerBound(tableInodes, indexParent, key(dir, after)))
	return func(yield func(*Inode) bool) {
		for n := range it {
			if parentOf(n.Path) != dir {
				return
			}
			if n.Path == after {
				continue
			}
			if !yield(n) {
				return
			}
		}
	}
}

// Descendants yields everything under a folder, by path.
func (v *View) Descendants(dir string) iter.Seq[*Inode] {
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	return all[*Inode](v.txn.Get(tableInodes, indexID+"_prefix", prefix))
}

// BlockFile returns the file a block belongs to.
func (v *View) BlockFile(id int64) (*Inode, bool) {
	return first[*Inode](v.txn, tableInodes, indexBlock, blockKey(id))
}

// FilesWrittenBy returns the files a lease holder is writing.
func (v *View) FilesWrittenBy(holder string) []*Inode {
	return collect(all[*Inode](v.txn.Get(tableInodes, indexWriter, holder)))
}

// Leases returns every lease.
func (v *View) Leases() []*Lease {
	return collect(all[*Lease](v.txn.Get(tableLeases, indexID+"_prefix", "")))
}

// MaxBlockID returns the largest block id ever allocated.
func (v *View) MaxBlockID() int64 {
	m, _ := first[*meta](v.txn, tableMeta, indexID, metaMaxBlock)
	if m == nil {
		return 0
	}
	return int64(m.Value)
}

// SafeModeEntered reports whether an administrator put HDFS in safe mode.
func (v *View) SafeModeEntered() bool {
	m, _ := first[*meta](v.txn, tableMeta, indexID, metaSafeMode)
	return m != nil && m.Value == 1
}

// Files yields every file of the namespace, completed or not, by path.
func (v *View) Files() iter.Seq[*Inode] {
	it := all[*Inode](v.txn.Get(tableInodes, indexID+"_prefix", ""))
	return func(yield func(*Inode) bool) {
		for n := range it {
			if !n.Dir && !yield(n) {
				return
			}
		}
	}
}
