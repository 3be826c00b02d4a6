package mapreduce_test

import (
	"os"
	"path/filepath"
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
