package state

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-memdb"
)

// The tables of the replicated state, in a go-memdb database: an
// immutable radix tree per index, so that a read view or a snapshot is a
// pointer to the current roots, taken in constant time, and Apply never
// waits for a reader.
const (
	tablePrimaries = "primaries"
	tableWorkers   = "workers"
	tableSteps     = "steps"
	tableTasks     = "tasks"
	tableMeta      = "meta"
	tableInodes    = "inodes"
	tableLeases    = "leases"
	tableTokens    = "tokens"
)

// Index names.
const (
	indexID = "id"
	// steps
	indexSeq   = "seq"   // submission order
	indexToken = "token" // client token
	indexState = "state" // (step state, cleaned up)
	// tasks
	indexPhase   = "phase"   // (step, kind, task state)
	indexAttempt = "attempt" // every attempt id of the task
	indexRunning = "running" // (worker, incarnation) of each running attempt
	indexOutput  = "output"  // (worker, incarnation) of a map task's winning attempt
	// inodes
	indexParent = "parent" // parent folder
	indexBlock  = "block"  // every block id of the file
	indexWriter = "writer" // lease holder of a file being written
)

// key joins the parts of an index key.
func key(parts ...string) string { return strings.Join(parts, "\x00") }

func incKey(worker string, inc int64) string { return key(worker, fmt.Sprint(inc)) }

// taskKey orders a step's tasks: maps by index, then reduces by index.
func taskKey(stepID string, kind TaskKind, index int) string {
	return key(stepID, fmt.Sprintf("%c%08d", kind.letter(), index))
}

func seqKey(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// oneKey indexes objects of type T by one string key (or none).
type oneKey[T any] func(T) (string, bool)

func (f oneKey[T]) FromObject(raw any) (bool, []byte, error) {
	obj, ok := raw.(T)
	if !ok {
		return false, nil, fmt.Errorf("index: object of type %T, want %T", raw, *new(T))
	}
	k, ok := f(obj)
	if !ok {
		return false, nil, nil
	}
	return true, []byte(k + "\x00"), nil
}

func (f oneKey[T]) FromArgs(args ...any) ([]byte, error)       { return argKey(args, "\x00") }
func (f oneKey[T]) PrefixFromArgs(args ...any) ([]byte, error) { return argKey(args, "") }

// manyKeys indexes objects of type T by any number of string keys.
type manyKeys[T any] func(T) []string

func (f manyKeys[T]) FromObject(raw any) (bool, [][]byte, error) {
	obj, ok := raw.(T)
	if !ok {
		return false, nil, fmt.Errorf("index: object of type %T, want %T", raw, *new(T))
	}
	keys := f(obj)
	if len(keys) == 0 {
		return false, nil, nil
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k + "\x00")
	}
	return true, out, nil
}

func (f manyKeys[T]) FromArgs(args ...any) ([]byte, error)       { return argKey(args, "\x00") }
func (f manyKeys[T]) PrefixFromArgs(args ...any) ([]byte, error) { return argKey(args, "") }

func argKey(args []any, end string) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("index: want one key argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("index: key argument of type %T, want string", args[0])
	}
	return []byte(s + end), nil
}

// meta holds a named number of the state (the next step sequence number).
type meta struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
	Text  string `json:"text,omitempty"`
}

// Names of the meta values.
const (
	metaNextSeq  = "next_seq"
	metaMaxBlock = "max_block" // the largest block id allocated
	metaSafeMode = "safe_mode" // 1 while an administrator holds HDFS in safe mode
	// metaTerminated is set (Text: why) once a step's TERMINATE_CLUSTER
	// action terminated the cluster.
	metaTerminated = "terminated"
)

func index[T any](name string, unique bool, f oneKey[T]) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: name, Unique: unique, AllowMissing: !unique, Indexer: f}
}

func multiIndex[T any](name string, f manyKeys[T]) *memdb.IndexSchema {
	return &memdb.IndexSchema{Name: name, AllowMissing: true, Indexer: f}
}

func tableSchema(name string, indexes ...*memdb.IndexSchema) *memdb.TableSchema {
	t := &memdb.TableSchema{Name: name, Indexes: map[string]*memdb.IndexSchema{}}
	for _, ix := range indexes {
		t.Indexes[ix.Name] = ix
	}
	return t
}

// schema is the database layout. Changing an index changes nothing on
// disk: snapshots hold the objects, and Restore rebuilds every index.
func schema() *memdb.DBSchema {
	tables := []*memdb.TableSchema{
		tableSchema(tablePrimaries,
			index(indexID, true, oneKey[*Primary](func(p *Primary) (string, bool) { return p.ID, true }))),
		tableSchema(tableWorkers,
			index(indexID, true, oneKey[*Worker](func(w *Worker) (string, bool) { return w.ID, true }))),
		tableSchema(tableSteps,
			index(indexID, true, oneKey[*Step](func(s *Step) (string, bool) { return s.ID, true })),
			index(indexSeq, true, oneKey[*Step](func(s *Step) (string, bool) { return seqKey(s.Seq), true })),
			index(indexToken, false, oneKey[*Step](func(s *Step) (string, bool) { return s.Spec.ClientToken, s.Spec.ClientToken != "" })),
			index(indexState, false, oneKey[*Step](func(s *Step) (string, bool) { return key(string(s.State), fmt.Sprint(s.CleanedUp)), true }))),
		tableSchema(tableTasks,
			index(indexID, true, oneKey[*Task](func(t *Task) (string, bool) { return taskKey(t.StepID, t.Kind, t.Index), true })),
			index(indexPhase, false, oneKey[*Task](func(t *Task) (string, bool) {
				return key(t.StepID, string(t.Kind), string(t.State)), true
			})),
			multiIndex(indexAttempt, manyKeys[*Task](func(t *Task) []string {
				ids := make([]string, len(t.Attempts))
				for i, a := range t.Attempts {
					ids[i] = a.ID
				}
				return ids
			})),
			multiIndex(indexRunning, manyKeys[*Task](func(t *Task) []string {
				var out []string
				for _, a := range t.Attempts {
					if a.State == AttemptRunning {
						out = append(out, incKey(a.Worker, a.Incarnation))
					}
				}
				return out
			})),
			multiIndex(indexOutput, manyKeys[*Task](func(t *Task) []string {
				if w := t.WinningAttempt(); w != nil && t.Kind == KindMap {
					return []string{incKey(w.Worker, w.Incarnation)}
				}
				return nil
			}))),
		tableSchema(tableInodes,
			index(indexID, true, oneKey[*Inode](func(n *Inode) (string, bool) { return n.Path, true })),
			index(indexParent, false, oneKey[*Inode](func(n *Inode) (string, bool) { return parentOf(n.Path), true })),
			multiIndex(indexBlock, manyKeys[*Inode](func(n *Inode) []string {
				keys := make([]string, len(n.Blocks))
				for i, b := range n.Blocks {
					keys[i] = blockKey(b.ID)
				}
				return keys
			})),
			index(indexWriter, false, oneKey[*Inode](func(n *Inode) (string, bool) { return n.Writer, n.Writer != "" }))),
		tableSchema(tableLeases,
			index(indexID, true, oneKey[*Lease](func(l *Lease) (string, bool) { return l.Holder, true }))),
		tableSchema(tableTokens,
			index(indexID, true, oneKey[*Token](func(t *Token) (string, bool) { return t.Accessor, true }))),
		tableSchema(tableMeta,
			index(indexID, true, oneKey[*meta](func(m *meta) (string, bool) { return m.Name, true }))),
	}
	s := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for _, t := range tables {
		s.Tables[t.Name] = t
	}
	return s
}
