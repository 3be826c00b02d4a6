package mapreduce_test

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/committertest"
)

func TestLocalCommitterContract(t *testing.T) {
	committertest.Run(t, committertest.Target{
		FS:     mapreduce.LocalFS{},
		Output: func(t *testing.T) string { return filepath.Join(t.TempDir(), "out") },
	})
}

func TestLocalCommitterRefusesAFileAsOutput(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o644)
	cm, err := mapreduce.LocalFS{}.Committer(f, "s-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.CheckOutput(t.Context()); err == nil || err.Error() != "output "+f+": is a file, not a folder" {
		t.Fatalf("CheckOutput of a file: %v", err)
	}
}

// TestLocalCommitterManifestFromRecords commits two tasks: one whose
// record describes its file as written, one whose record (from a leader
// or worker that did not describe files) lists it only. The manifest
// holds both with their true size and CRC-32C, a described file whose
// size no longer matches is read again rather than trusted, and a
// temporary _SUCCESS a killed leader left is removed.
func TestLocalCommitterManifestFromRecords(t *testing.T) {
	ctx := t.Context()
	out := filepath.Join(t.TempDir(), "out")
	cm := committertest.SetupJob(ctx, t, mapreduce.LocalFS{}, out, "s-1")
	write := func(attempt, name, content string) json.RawMessage {
		return committertest.Record(ctx, t, attempt, committertest.WriteFile(ctx, t, cm, attempt, name, content)).Record
	}
	described := write("attempt_r_0", "part-r-00000", "described\n")
	if !strings.Contains(string(described), `"described":[{"name":"part-r-00000","size":10,`) {
		t.Fatalf("record %s does not describe its file", described)
	}
	write("attempt_r_1", "part-r-00001", "listed only\n")
	listed := json.RawMessage(`{"files":["part-r-00001"]}`)
	stale := write("attempt_r_2", "part-r-00002", "short\n")
	for i, rec := range []json.RawMessage{described, listed, stale} {
		if err := cm.CommitTask(ctx, mapreduce.TaskCommit{AttemptID: fmt.Sprintf("attempt_r_%d", i), Record: rec}); err != nil {
			t.Fatal(err)
		}
	}
	// part-r-00002 changes size after its record was made, and a leader
	// killed while it wrote _SUCCESS left its temporary file.
	os.WriteFile(filepath.Join(out, "part-r-00002"), []byte("longer now\n"), 0o644)
	left := filepath.Join(out, "."+mapreduce.SuccessFile+".1698863454.tmp")
	os.WriteFile(left, []byte("{"), 0o644)
	if err := cm.CommitJob(ctx, mapreduce.Manifest{Step: "s-1", Job: "test"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, mapreduce.SuccessFile))
	if err != nil {
		t.Fatal(err)
	}
	var m mapreduce.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the killed leader's %s is still there: %v", filepath.Base(left), err)
	}
	want := map[string]string{"part-r-00000": "described\n", "part-r-00001": "listed only\n", "part-r-00002": "longer now\n"}
	if len(m.Files) != len(want) {
		t.Fatalf("manifest files %+v, want %d", m.Files, len(want))
	}
	for _, f := range m.Files {
		c := want[f.Name]
		if f.Size != int64(len(c)) || f.CRC32C != crc32.Checksum([]byte(c), crc32.MakeTable(crc32.Castagnoli)) {
			t.Errorf("manifest entry %+v, want size %d and the CRC-32C of %q", f, len(c), c)
		}
	}
}
