package mapreduce

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A step's output folder, from setup to commit:
//
//	OUT/_temporary/_step-<STEP>            the claim SetupOutput leaves
//	OUT/_temporary/<ATTEMPT>/part-r-00000  a reduce attempt's part file
//	OUT/_temporary/<ATTEMPT>/_rejects/...  a map attempt's rejected records
//	OUT/part-r-00000 ...                   committed part files
//	OUT/_rejects/part-m-00003              committed rejects
//	OUT/_SUCCESS                           manifest, written last
//
// Only the attempt the primary chose for each task is moved out of
// _temporary, so a part file is never missing, duplicated or partial.

const (
	// TemporaryDir is where attempts write before commit.
	TemporaryDir = "_temporary"
	// RejectsDir holds copies of rejected input records.
	RejectsDir = "_rejects"
	// SuccessFile is written last by a committed step.
	SuccessFile = "_SUCCESS"
)

// ErrOutputExists is returned when a step's output folder already exists
// (Hadoop's FileAlreadyExistsException).
var ErrOutputExists = errors.New("output folder already exists")

// ErrOutputIsFile is returned when a step's output path names a file.
var ErrOutputIsFile = errors.New("is a file, not a folder")

// CheckOutput refuses an output folder that already exists, a path that
// names a file, and a folder whose parent this process cannot write in.
func CheckOutput(out string) error {
	if out == "" {
		return fmt.Errorf("no output folder given")
	}
	if info, err := os.Lstat(out); err == nil {
		if !info.IsDir() {
			return fmt.Errorf("output %s: %w", out, ErrOutputIsFile)
		}
		return fmt.Errorf("output %s: %w", out, ErrOutputExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output %s: %w", out, err)
	}
	parent := filepath.Dir(out)
	if info, err := os.Stat(parent); err != nil {
		return fmt.Errorf("output %s: parent folder: %w", out, err)
	} else if !info.IsDir() {
		return fmt.Errorf("output %s: parent %s is not a folder", out, parent)
	}
	if err := unix.Access(parent, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("output %s: cannot create it in %s: %w", out, parent, err)
	}
	return nil
}

func stepClaim(out, stepID string) string {
	return filepath.Join(out, TemporaryDir, "_step-"+stepID)
}

// SetupOutput creates the output folder and claims it for a step. Running it
// again for the same step (after a primary failover) succeeds; for any other
// step an existing folder is refused.
func SetupOutput(out, stepID string) error {
	if err := os.Mkdir(out, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			if _, serr := os.Stat(stepClaim(out, stepID)); serr == nil {
				return nil
			}
			return fmt.Errorf("output %s: %w", out, ErrOutputExists)
		}
		return fmt.Errorf("output %s: %w", out, err)
	}
	if err := os.MkdirAll(filepath.Join(out, TemporaryDir), 0o755); err != nil {
		return fmt.Errorf("output %s: %w", out, err)
	}
	if err := os.WriteFile(stepClaim(out, stepID), nil, 0o644); err != nil {
		return fmt.Errorf("output %s: %w", out, err)
	}
	return nil
}

// AttemptDir is the folder an attempt writes its files to.
func AttemptDir(out, attemptID string) string {
	return filepath.Join(out, TemporaryDir, attemptID)
}

// CommittedTask names the attempt chosen for a task and the files it wrote,
// relative to its attempt folder.
type CommittedTask struct {
	AttemptID string
	Files     []string
}

// Manifest is the content of _SUCCESS.
type Manifest struct {
	Step     string           `json:"step"`
	Job      string           `json:"job"`
	Files    []ManifestFile   `json:"files"`
	Counters map[string]int64 `json:"counters"`
}

// ManifestFile describes one committed file.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

// CommitOutput moves each chosen attempt's files into the output folder,
// removes _temporary, and writes the _SUCCESS manifest, listing every file
// in the folder, last. It is idempotent: a file already moved by an
// interrupted commit is kept.
func CommitOutput(out string, tasks []CommittedTask, m Manifest) error {
	if err := MoveCommitted(out, tasks); err != nil {
		return err
	}
	return finishCommit(out, m)
}

// MoveCommitted moves the chosen attempts' files into the output folder;
// a file moved already is kept. CommitOutput does this first.
func MoveCommitted(out string, tasks []CommittedTask) error {
	for _, t := range tasks {
		for _, name := range t.Files {
			src := filepath.Join(AttemptDir(out, t.AttemptID), name)
			dst := filepath.Join(out, name)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("commit %s: %w", dst, err)
			}
			if err := os.Rename(src, dst); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("commit %s: %w", dst, err)
				}
				if _, serr := os.Stat(dst); serr != nil {
					return fmt.Errorf("commit %s: output of attempt %s is missing: %w", name, t.AttemptID, err)
				}
			}
		}
	}
	return nil
}

// finishCommit removes _temporary and writes the manifest.
func finishCommit(out string, m Manifest) error {
	if err := os.RemoveAll(filepath.Join(out, TemporaryDir)); err != nil {
		return fmt.Errorf("remove %s: %w", TemporaryDir, err)
	}
	m.Files = nil
	err := filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") || path == filepath.Join(out, SuccessFile) {
			return nil
		}
		rel, err := filepath.Rel(out, path)
		if err != nil {
			return err
		}
		mf, err := describeFile(out, rel)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, mf)
		return nil
	})
	if err != nil {
		return fmt.Errorf("manifest of %s: %w", out, err)
	}
	return WriteSuccess(out, m)
}

// WriteSuccess writes the _SUCCESS manifest durably.
func WriteSuccess(out string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	tmp := filepath.Join(out, "."+SuccessFile+".tmp")
	if err := writeFileSync(tmp, append(b, '\n')); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(out, SuccessFile)); err != nil {
		return fmt.Errorf("write %s: %w", SuccessFile, err)
	}
	return syncDir(out)
}

func describeFile(out, name string) (ManifestFile, error) {
	f, err := os.Open(filepath.Join(out, name))
	if err != nil {
		return ManifestFile{}, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	n, err := io.Copy(h, f)
	if err != nil {
		return ManifestFile{}, fmt.Errorf("manifest: read %s: %w", name, err)
	}
	return ManifestFile{Name: filepath.ToSlash(name), Size: n, CRC32C: h.Sum32()}, nil
}

// AbortOutput removes what a failed or cancelled step left: its _temporary
// folder, and the output folder itself if nothing else is in it.
func AbortOutput(out, stepID string) error {
	if _, err := os.Stat(stepClaim(out, stepID)); err != nil {
		// Not ours (or already cleaned up): leave it alone.
		return nil
	}
	if err := os.RemoveAll(filepath.Join(out, TemporaryDir)); err != nil {
		return fmt.Errorf("abort output %s: %w", out, err)
	}
	if err := os.Remove(out); err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("abort output %s: %w", out, err)
	}
	return nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
