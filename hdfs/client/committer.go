package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/mapreduce"
)

// The output folder of a step on HDFS, from setup to commit, as the local
// committer's: attempts write complete files under OUT/_temporary/ATTEMPT,
// and the leader renames each chosen attempt's files into place (a rename
// in the replicated namespace, atomic), then writes _SUCCESS last.
const temporaryDir = "_temporary"

// Committer is the output committer of an HDFS output folder.
type Committer struct {
	c      *Client
	out    string
	stepID string
	// described holds the size and CRC-32C of each file the committed
	// records described, taken as they were written: CommitJob's
	// manifest need not read them back from the DataNodes.
	described mapreduce.Descriptions
}

// record is an HDFS attempt's commit record: the files it wrote, relative
// to the output folder, and the size and CRC-32C of those it completed.
type record struct {
	Files     []string                 `json:"files"`
	Described []mapreduce.ManifestFile `json:"described,omitempty"`
}

func (cm *Committer) claim() string {
	return namespace.Join(namespace.Join(cm.out, temporaryDir), "_step-"+cm.stepID)
}

func (cm *Committer) attemptDir(attemptID string) string {
	return namespace.Join(namespace.Join(cm.out, temporaryDir), attemptID)
}

func (cm *Committer) exists(ctx context.Context, p string) (bool, error) {
	_, err := cm.c.Stat(ctx, p)
	if errors.Is(err, mapreduce.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// CheckOutput implements mapreduce.Committer.
func (cm *Committer) CheckOutput(ctx context.Context) error {
	s, err := cm.c.Stat(ctx, cm.out)
	if err == nil {
		if !s.IsDir {
			return fmt.Errorf("output %s: %w", namespace.URI(cm.out), mapreduce.ErrOutputIsFile)
		}
		return fmt.Errorf("output %s: %w", namespace.URI(cm.out), mapreduce.ErrOutputExists)
	}
	if !errors.Is(err, mapreduce.ErrNotExist) {
		return fmt.Errorf("output %s: %w", namespace.URI(cm.out), err)
	}
	return nil
}

// SetupJob implements mapreduce.Committer.
func (cm *Committer) SetupJob(ctx context.Context) error {
	ok, err := cm.exists(ctx, cm.out)
	if err != nil {
		return err
	}
	if ok {
		if mine, err := cm.exists(ctx, cm.claim()); err != nil || mine {
			return err
		}
		return fmt.Errorf("output %s: %w", namespace.URI(cm.out), mapreduce.ErrOutputExists)
	}
	if err := cm.c.Mkdirs(ctx, namespace.Join(cm.out, temporaryDir), true); err != nil {
		return fmt.Errorf("output %s: %w", namespace.URI(cm.out), err)
	}
	w, err := cm.c.Create(ctx, cm.claim(), CreateOptions{Overwrite: true})
	if err != nil {
		return fmt.Errorf("output %s: %w", namespace.URI(cm.out), err)
	}
	return w.Close()
}

// SetupTask implements mapreduce.Committer.
func (cm *Committer) SetupTask(_ context.Context, attemptID string) (mapreduce.TaskOutput, error) {
	if attemptID == "" || strings.ContainsAny(attemptID, "/:") || strings.HasPrefix(attemptID, ".") || strings.HasPrefix(attemptID, "_") {
		return nil, fmt.Errorf("attempt id %q cannot name a folder", attemptID)
	}
	return &taskOutput{cm: cm, dir: cm.attemptDir(attemptID), files: map[string]*Writer{}}, nil
}

type taskOutput struct {
	cm        *Committer
	dir       string
	mu        sync.Mutex
	files     map[string]*Writer
	described mapreduce.Descriptions // of the files closed
}

func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("output file name %q is not inside the output folder", name)
	}
	clean, err := namespace.Clean("/" + name)
	if err != nil {
		return "", fmt.Errorf("output file name %q: %w", name, err)
	}
	return strings.TrimPrefix(clean, "/"), nil
}

func (t *taskOutput) Create(ctx context.Context, name string) (mapreduce.FileWriter, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	w, err := t.cm.c.Create(ctx, namespace.Join(t.dir, clean), CreateOptions{CreateParent: true, Overwrite: true})
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.files[clean] = w
	t.mu.Unlock()
	return mapreduce.DescribeWrites(w, clean, &t.described), nil
}

func (t *taskOutput) Commit(context.Context) (json.RawMessage, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.files))
	for n := range t.files {
		names = append(names, n)
	}
	slices.Sort(names)
	return json.Marshal(record{Files: names, Described: t.described.Of(names)})
}

func (t *taskOutput) Abort(ctx context.Context) error {
	t.mu.Lock()
	for _, w := range t.files {
		w.Abort()
	}
	t.mu.Unlock()
	_, err := t.cm.c.Delete(ctx, t.dir, true)
	return err
}

// Counters implements mapreduce.CounterSource.
func (t *taskOutput) Counters() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, w := range t.files {
		n += w.Written()
	}
	return map[string]int64{BytesWrittenCounter: n}
}

func decodeRecord(tc mapreduce.TaskCommit) (record, error) {
	var r record
	if err := json.Unmarshal(tc.Record, &r); err != nil {
		return r, fmt.Errorf("commit record of attempt %s: %w", tc.AttemptID, err)
	}
	for _, f := range r.Files {
		if _, err := cleanName(f); err != nil {
			return r, fmt.Errorf("commit record of attempt %s: %w", tc.AttemptID, err)
		}
	}
	for _, d := range r.Described {
		if _, err := cleanName(d.Name); err != nil {
			return r, fmt.Errorf("commit record of attempt %s: %w", tc.AttemptID, err)
		}
	}
	return r, nil
}

// CommitTask implements mapreduce.Committer: a rename per file; a file
// renamed already (by a leader that died part way) is kept.
func (cm *Committer) CommitTask(ctx context.Context, tc mapreduce.TaskCommit) error {
	r, err := decodeRecord(tc)
	if err != nil {
		return err
	}
	cm.described.Add(r.Described)
	for _, name := range r.Files {
		src, dst := namespace.Join(cm.attemptDir(tc.AttemptID), name), namespace.Join(cm.out, name)
		if err := cm.c.Mkdirs(ctx, namespace.Parent(dst), true); err != nil {
			return fmt.Errorf("commit %s: %w", namespace.URI(dst), err)
		}
		if err := cm.c.Rename(ctx, src, dst); err != nil {
			if !errors.Is(err, mapreduce.ErrNotExist) {
				return fmt.Errorf("commit %s: %w", namespace.URI(dst), err)
			}
			if ok, serr := cm.exists(ctx, dst); serr != nil || !ok {
				return fmt.Errorf("commit %s: output of attempt %s is missing: %w", name, tc.AttemptID, err)
			}
		}
	}
	return nil
}

// AbortTask implements mapreduce.Committer.
func (cm *Committer) AbortTask(ctx context.Context, tc mapreduce.TaskCommit) error {
	_, err := cm.c.Delete(ctx, cm.attemptDir(tc.AttemptID), true)
	return err
}

// CommitJob implements mapreduce.Committer: it removes _temporary and
// writes the manifest of every file in the folder, last. A file a
// committed record described, at the length it has, is described so;
// any other is read for its checksum.
func (cm *Committer) CommitJob(ctx context.Context, m mapreduce.Manifest) error {
	if _, err := cm.c.Delete(ctx, namespace.Join(cm.out, temporaryDir), true); err != nil {
		return fmt.Errorf("remove %s: %w", temporaryDir, err)
	}
	m.Files = nil
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := cm.c.List(ctx, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := strings.TrimPrefix(e.Path, cm.out+"/")
			if e.IsDir {
				if err := walk(e.Path); err != nil {
					return err
				}
				continue
			}
			if name == mapreduce.SuccessFile || strings.HasPrefix(namespace.Base(e.Path), ".") {
				continue
			}
			if d, ok := cm.described.Lookup(name, e.Length); ok {
				m.Files = append(m.Files, d)
				continue
			}
			sum, err := cm.crc(ctx, e.Path)
			if err != nil {
				return err
			}
			m.Files = append(m.Files, mapreduce.ManifestFile{Name: name, Size: e.Length, CRC32C: sum})
		}
		return nil
	}
	if err := walk(cm.out); err != nil {
		return fmt.Errorf("manifest of %s: %w", namespace.URI(cm.out), err)
	}
	b, err := mapreduce.MarshalManifest(m)
	if err != nil {
		return err
	}
	w, err := cm.c.Create(ctx, namespace.Join(cm.out, mapreduce.SuccessFile), CreateOptions{Overwrite: true})
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

func (cm *Committer) crc(ctx context.Context, p string) (uint32, error) {
	f, err := cm.c.Open(ctx, p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, f.Size())); err != nil {
		return 0, fmt.Errorf("read %s: %w", namespace.URI(p), err)
	}
	return h.Sum32(), nil
}

// AbortJob implements mapreduce.Committer: the folder the step claimed
// goes, with what its attempts wrote or the commit moved into place; a
// folder it did not claim, or a committed one, stays.
func (cm *Committer) AbortJob(ctx context.Context) error {
	mine, err := cm.exists(ctx, cm.claim())
	if err != nil || !mine {
		return err
	}
	_, err = cm.c.Delete(ctx, cm.out, true)
	return err
}
