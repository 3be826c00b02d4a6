package mapreduce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A step's output folder, from setup to commit:
//
//	OUT/_temporary/_step-<STEP>            the claim SetupJob leaves
//	OUT/_temporary/<ATTEMPT>/part-r-00000  an attempt's part file
//	OUT/_temporary/<ATTEMPT>/_rejects/...  a map attempt's rejected records
//	OUT/part-r-00000 ...                   committed part files
//	OUT/_rejects/part-m-00003              committed rejects
//	OUT/_SUCCESS                           manifest, written last
//
// Only the attempt the leader chose for each task is renamed out of
// _temporary, so a part file is never missing, duplicated or partial.

// TemporaryDir is where attempts write before commit.
const TemporaryDir = "_temporary"

// LocalCommitter is the output committer of a local output folder, on the
// model of Hadoop's FileOutputCommitter: attempts write under
// OUTPUT/_temporary, and the leader renames each chosen attempt's files
// into place.
type LocalCommitter struct {
	out    string
	stepID string
	// overwrite lets the step replace a folder that exists.
	overwrite bool

	// described holds the size and CRC-32C of each file the committed
	// records described, taken when they were written: CommitJob's
	// manifest need not read them back.
	described Descriptions
}

// localRecord is a local attempt's commit record: the files it wrote, relative
// to the output folder, and the size and CRC-32C of those it completed.
type localRecord struct {
	Files     []string       `json:"files"`
	Described []ManifestFile `json:"described,omitempty"`
}

func (c *LocalCommitter) claim() string { return filepath.Join(c.out, TemporaryDir, "_step-"+c.stepID) }

func (c *LocalCommitter) attemptDir(attemptID string) string {
	return filepath.Join(c.out, TemporaryDir, attemptID)
}

// CheckOutput implements Committer: the folder must not exist (unless
// the step overwrites it), and its parent must be a folder this process
// can create it in.
func (c *LocalCommitter) CheckOutput(context.Context) error {
	if info, err := os.Lstat(c.out); err == nil {
		if !info.IsDir() {
			return fmt.Errorf("output %s: %w", c.out, ErrOutputIsFile)
		}
		if !c.overwrite {
			return fmt.Errorf("output %s: %w", c.out, ErrOutputExists)
		}
		if err := unix.Access(c.out, unix.W_OK|unix.X_OK); err != nil {
			return fmt.Errorf("output %s: cannot overwrite it: %w", c.out, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output %s: %w", c.out, err)
	}
	parent := filepath.Dir(c.out)
	if info, err := os.Stat(parent); err != nil {
		return fmt.Errorf("output %s: parent folder: %w", c.out, err)
	} else if !info.IsDir() {
		return fmt.Errorf("output %s: parent %s is not a folder", c.out, parent)
	}
	if err := unix.Access(parent, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("output %s: cannot create it in %s: %w", c.out, parent, err)
	}
	return nil
}

// SetupJob implements Committer. A step that overwrites its output
// removes what the folder holds first.
func (c *LocalCommitter) SetupJob(context.Context) error {
	if err := os.Mkdir(c.out, 0o755); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("output %s: %w", c.out, err)
		}
		if _, serr := os.Stat(c.claim()); serr == nil {
			return nil
		}
		if !c.overwrite {
			return fmt.Errorf("output %s: %w", c.out, ErrOutputExists)
		}
		entries, err := os.ReadDir(c.out)
		if err != nil {
			return fmt.Errorf("output %s: %w", c.out, err)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(c.out, e.Name())); err != nil {
				return fmt.Errorf("output %s: overwrite: %w", c.out, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(c.out, TemporaryDir), 0o755); err != nil {
		return fmt.Errorf("output %s: %w", c.out, err)
	}
	if err := os.WriteFile(c.claim(), nil, 0o644); err != nil {
		return fmt.Errorf("output %s: %w", c.out, err)
	}
	return nil
}

// SetupTask implements Committer.
func (c *LocalCommitter) SetupTask(_ context.Context, attemptID string) (TaskOutput, error) {
	if attemptID == "" || strings.ContainsAny(attemptID, "/\\") || strings.HasPrefix(attemptID, ".") || strings.HasPrefix(attemptID, "_") {
		return nil, fmt.Errorf("attempt id %q cannot name a folder", attemptID)
	}
	return &localTaskOutput{dir: c.attemptDir(attemptID), files: map[string]bool{}}, nil
}

// localTaskOutput is an attempt's folder under _temporary.
type localTaskOutput struct {
	dir       string
	mu        sync.Mutex
	files     map[string]bool
	described Descriptions // of the files closed
}

func cleanName(name string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(name))
	if clean == "." || filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
		return "", fmt.Errorf("output file name %q is not inside the output folder", name)
	}
	return filepath.ToSlash(clean), nil
}

func (t *localTaskOutput) Create(ctx context.Context, name string) (FileWriter, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, err
	}
	w, err := LocalFS{}.Create(ctx, filepath.Join(t.dir, clean))
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.files[clean] = true
	t.mu.Unlock()
	return DescribeWrites(w, clean, &t.described), nil
}

func (t *localTaskOutput) Commit(context.Context) (json.RawMessage, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := sortedNames(t.files)
	return json.Marshal(localRecord{Files: names, Described: t.described.Of(names)})
}

func (t *localTaskOutput) Abort(context.Context) error {
	if err := os.RemoveAll(t.dir); err != nil {
		return fmt.Errorf("abort %s: %w", t.dir, err)
	}
	return nil
}

func decodeLocal(tc TaskCommit) (localRecord, error) {
	var r localRecord
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

// CommitTask implements Committer: it renames the attempt's
// files into the output folder. A file renamed already (by a leader that
// died part way) is kept.
func (c *LocalCommitter) CommitTask(_ context.Context, tc TaskCommit) error {
	r, err := decodeLocal(tc)
	if err != nil {
		return err
	}
	c.described.Add(r.Described)
	for _, name := range r.Files {
		src := filepath.Join(c.attemptDir(tc.AttemptID), filepath.FromSlash(name))
		dst := filepath.Join(c.out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("commit %s: %w", dst, err)
		}
		if err := os.Rename(src, dst); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("commit %s: %w", dst, err)
			}
			if _, serr := os.Stat(dst); serr != nil {
				return fmt.Errorf("commit %s: output of attempt %s is missing: %w", name, tc.AttemptID, err)
			}
		}
	}
	return nil
}

// AbortTask implements Committer.
func (c *LocalCommitter) AbortTask(_ context.Context, tc TaskCommit) error {
	if err := os.RemoveAll(c.attemptDir(tc.AttemptID)); err != nil {
		return fmt.Errorf("abort attempt %s: %w", tc.AttemptID, err)
	}
	return nil
}

// CommitJob implements Committer: it removes _temporary and
// writes the manifest of every file in the folder, last. A file a
// committed record described, at the size it has, is described so; any
// other is read for its checksum.
func (c *LocalCommitter) CommitJob(_ context.Context, m Manifest) error {
	if err := os.RemoveAll(filepath.Join(c.out, TemporaryDir)); err != nil {
		return fmt.Errorf("remove %s: %w", TemporaryDir, err)
	}
	// A leader killed while it wrote _SUCCESS leaves its temporary file.
	stale, _ := filepath.Glob(filepath.Join(c.out, "."+SuccessFile+".*.tmp"))
	for _, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", f, err)
		}
	}
	m.Files = nil
	err := filepath.WalkDir(c.out, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") || path == filepath.Join(c.out, SuccessFile) {
			return nil
		}
		rel, err := filepath.Rel(c.out, path)
		if err != nil {
			return err
		}
		mf, err := c.describe(rel, d)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, mf)
		return nil
	})
	if err != nil {
		return fmt.Errorf("manifest of %s: %w", c.out, err)
	}
	return writeLocalSuccess(c.out, m)
}

// describe returns the manifest entry of the output file rel: as a
// committed record described it, if its size is the file's, or read.
func (c *LocalCommitter) describe(rel string, d fs.DirEntry) (ManifestFile, error) {
	if info, err := d.Info(); err == nil {
		if mf, ok := c.described.Lookup(filepath.ToSlash(rel), info.Size()); ok {
			return mf, nil
		}
	}
	return describeLocal(c.out, rel)
}

func describeLocal(out, name string) (ManifestFile, error) {
	f, err := os.Open(filepath.Join(out, name))
	if err != nil {
		return ManifestFile{}, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	if err != nil {
		return ManifestFile{}, fmt.Errorf("manifest: read %s: %w", name, err)
	}
	return ManifestFile{Name: filepath.ToSlash(name), Size: n, CRC32C: h.Sum32()}, nil
}

// writeSuccess writes the _SUCCESS manifest durably.
func writeLocalSuccess(out string, m Manifest) error {
	b, err := MarshalManifest(m)
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	// A temporary file of its own: a leader that lost leadership may still
	// be finishing the same commit, idempotently, beside the new one.
	f, err := os.CreateTemp(out, "."+SuccessFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", SuccessFile, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", SuccessFile, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", SuccessFile, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", SuccessFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", SuccessFile, err)
	}
	if err := os.Rename(tmp, filepath.Join(out, SuccessFile)); err != nil {
		return fmt.Errorf("write %s: %w", SuccessFile, err)
	}
	d, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("sync %s: %w", out, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", out, err)
	}
	return nil
}

// AbortJob implements Committer: it removes the output folder the step
// claimed, with whatever its attempts wrote or the commit had moved into
// place already. A folder the step never claimed is left alone; so is a
// committed one (its claim went with _temporary).
func (c *LocalCommitter) AbortJob(context.Context) error {
	if _, err := os.Stat(c.claim()); err != nil {
		return nil // not ours, or committed, or cleaned up already
	}
	// The claim goes last, so that an abort cut short is done again.
	entries, err := os.ReadDir(c.out)
	if err != nil {
		return fmt.Errorf("abort output %s: %w", c.out, err)
	}
	for _, e := range entries {
		if e.Name() == TemporaryDir {
			continue
		}
		if err := os.RemoveAll(filepath.Join(c.out, e.Name())); err != nil {
			return fmt.Errorf("abort output %s: %w", c.out, err)
		}
	}
	if err := os.RemoveAll(c.out); err != nil {
		return fmt.Errorf("abort output %s: %w", c.out, err)
	}
	return nil
}
