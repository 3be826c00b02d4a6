package client_test

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/committertest"
)

func TestHDFSCommitterContract(t *testing.T) {
	c := startCluster(t, 2, nil)
	var n atomic.Int64
	committertest.Run(t, committertest.Target{
		FS:     c.client("").FileSystem(),
		Output: func(*testing.T) string { return fmt.Sprintf("/out-%d", n.Add(1)) },
	})
}

// TestHDFSCommitterManifestFromRecords commits three tasks: one whose
// record describes its file as written, one whose record lists it only,
// and one whose record describes it at a length it no longer has. The
// manifest takes the first from its record (a record that claims a
// different CRC-32C at the right length is believed: the file is not read
// back) and reads the other two for their true size and CRC-32C.
func TestHDFSCommitterManifestFromRecords(t *testing.T) {
	c := startCluster(t, 2, nil)
	ctx := t.Context()
	cl := c.client("")
	cm := committertest.SetupJob(ctx, t, cl.FileSystem(), "/out", "s-1")
	write := func(attempt, name, content string) json.RawMessage {
		return committertest.Record(ctx, t, attempt, committertest.WriteFile(ctx, t, cm, attempt, name, content)).Record
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	described := write("attempt_r_0", "part-r-00000", "described\n")
	want := fmt.Sprintf(`{"name":"part-r-00000","size":10,"crc32c":%d}`, crc32.Checksum([]byte("described\n"), castagnoli))
	if !strings.Contains(string(described), want) {
		t.Fatalf("record %s does not describe its file as %s", described, want)
	}
	// The record claims another checksum at the same length.
	forged := strings.Replace(string(described), want, `{"name":"part-r-00000","size":10,"crc32c":7}`, 1)
	write("attempt_r_1", "part-r-00001", "listed only\n")
	listed := `{"files":["part-r-00001"]}`
	write("attempt_r_2", "part-r-00002", "grown\n")
	grown := `{"files":["part-r-00002"],"described":[{"name":"part-r-00002","size":3,"crc32c":7}]}`
	for i, rec := range []string{forged, listed, grown} {
		if err := cm.CommitTask(ctx, mapreduce.TaskCommit{AttemptID: fmt.Sprintf("attempt_r_%d", i), Record: json.RawMessage(rec)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cm.CommitJob(ctx, mapreduce.Manifest{Step: "s-1", Job: "test"}); err != nil {
		t.Fatal(err)
	}
	var m mapreduce.Manifest
	if err := json.Unmarshal(readAll(t, cl, "/out/"+mapreduce.SuccessFile), &m); err != nil {
		t.Fatal(err)
	}
	wantFiles := []mapreduce.ManifestFile{
		{Name: "part-r-00000", Size: 10, CRC32C: 7},
		{Name: "part-r-00001", Size: 12, CRC32C: crc32.Checksum([]byte("listed only\n"), castagnoli)},
		{Name: "part-r-00002", Size: 6, CRC32C: crc32.Checksum([]byte("grown\n"), castagnoli)},
	}
	if fmt.Sprint(m.Files) != fmt.Sprint(wantFiles) {
		t.Fatalf("manifest files\n%+v\nwant\n%+v", m.Files, wantFiles)
	}
}
