package datanode

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/hdfs"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/protobuf/proto"
)

func TestStoreReadWithSums(t *testing.T) {
	s := openStore(t, t.TempDir(), "w1")
	data := randomBytes(10*hdfs.ChunkSize+100, 1)
	putBlock(t, s, 1, data)

	br, err := s.OpenBlock(1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	var got []byte
	var sums []uint32
	for {
		d, ss, err := br.Next(1000) // rounded down to one chunk
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(d) > hdfs.ChunkSize {
			t.Fatalf("Next(1000) returned %d bytes", len(d))
		}
		got = append(got, d...)
		sums = append(sums, ss...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	if !slices.Equal(sums, sumsOf(data)) {
		t.Fatal("stored sums differ from the data's")
	}
	if err := s.Verify(context.Background(), 1); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestStoreErrors(t *testing.T) {
	s := openStore(t, t.TempDir(), "w1")
	putBlock(t, s, 1, randomBytes(1000, 1))

	if _, err := s.Create(1, 10); !errors.Is(err, ErrExists) {
		t.Errorf("Create of a stored block: %v, want ErrExists", err)
	}
	w, err := s.Create(2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(2, 10); !errors.Is(err, ErrExists) {
		t.Errorf("Create of a block being written: %v, want ErrExists", err)
	}
	w.Abort()
	if _, err := s.OpenBlock(3, 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenBlock of a missing block: %v, want ErrNotFound", err)
	}
	for _, r := range [][2]int64{{1001, 0}, {0, 1001}, {999, 2}, {-1, 1}} {
		if _, err := s.OpenBlock(1, r[0], r[1]); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("OpenBlock(1, %d, %d): %v, want ErrOutOfRange", r[0], r[1], err)
		}
	}

	// Bad sums, named by their offset in the block.
	w, err = s.Create(4, 2000)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(2000, 2)
	if err := w.Write(data[:1024], sumsOf(data[:1024])); err != nil {
		t.Fatal(err)
	}
	bad := sumsOf(data[1024:])
	bad[1]++
	err = w.Write(data[1024:], bad)
	var ce *hdfs.ChecksumError
	if !errors.As(err, &ce) || ce.Offset != 1536 || !errors.Is(err, hdfs.ErrChecksum) {
		t.Errorf("Write with a bad sum: %v, want a checksum error at offset 1536", err)
	}
	if err := w.Finalize(); err == nil {
		t.Error("Finalize after a failed write succeeded")
	}
	if s.Has(4) || len(rbwEntries(t, s)) != 0 {
		t.Error("a failed write left a replica")
	}

	// Data after a partial chunk; a length other than announced.
	w, _ = s.Create(5, 1000)
	if err := w.Write(data[:100], sumsOf(data[:100])); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(data[100:200], sumsOf(data[100:200])); !errors.Is(err, ErrInvalid) {
		t.Errorf("Write after a partial chunk: %v, want ErrInvalid", err)
	}
	w.Abort()
	w, _ = s.Create(6, 1000)
	w.Write(data[:512], sumsOf(data[:512]))
	if err := w.Finalize(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Finalize short of the announced length: %v, want ErrInvalid", err)
	}
	if s.Has(6) || len(rbwEntries(t, s)) != 0 {
		t.Error("a short write left a replica")
	}
	w, _ = s.Create(7, UnknownLength)
	w.Write(data[:700], sumsOf(data[:700]))
	if err := w.Finalize(); err != nil {
		t.Fatalf("Finalize of an unknown length: %v", err)
	}
	if got := s.Blocks(); !proto.Equal(got[len(got)-1], &hdfspb.Block{Id: 7, Length: 700}) {
		t.Errorf("Blocks = %v, want block 7 of 700 bytes last", got)
	}

	s.Close()
	if _, err := s.Create(8, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Create after Close: %v, want ErrClosed", err)
	}
}

func blockIDs(bs []*hdfspb.Block) []int64 {
	var ids []int64
	for _, b := range bs {
		ids = append(ids, b.Id)
	}
	return ids
}

func TestReport(t *testing.T) {
	s := openStore(t, t.TempDir(), "w1")
	r := s.Report(true)
	if !r.Full || r.Seq != 1 || len(r.Blocks) != 0 || r.Used != 0 {
		t.Fatalf("first report = %v", r)
	}
	if r.Capacity <= 0 || r.Remaining <= 0 || r.Remaining > r.Capacity {
		t.Errorf("capacity %d, remaining %d", r.Capacity, r.Remaining)
	}
	putBlock(t, s, 1, randomBytes(1000, 1))
	putBlock(t, s, 2, nil)
	putBlock(t, s, 3, randomBytes(513, 3))

	r = s.Report(false)
	if r.Full || r.Seq != 2 || !slices.Equal(blockIDs(r.Blocks), []int64{1, 2, 3}) || len(r.Deleted) != 0 {
		t.Fatalf("delta after 3 writes = %v", r)
	}
	if r.Blocks[0].Length != 1000 || r.Blocks[1].Length != 0 || r.Blocks[2].Length != 513 {
		t.Errorf("lengths = %v", r.Blocks)
	}
	if want := int64(1000+513) + metaSize(1000) + metaSize(0) + metaSize(513); r.Used != want {
		t.Errorf("used = %d, want %d", r.Used, want)
	}

	if err := s.Delete(1, 99); err != nil {
		t.Fatal(err)
	}
	putBlock(t, s, 4, randomBytes(10, 4))
	putBlock(t, s, 5, randomBytes(10, 5))
	s.Delete(5) // added and deleted within one interval
	r = s.Report(false)
	if r.Seq != 3 || !slices.Equal(blockIDs(r.Blocks), []int64{4}) || !slices.Equal(r.Deleted, []int64{1, 5}) {
		t.Fatalf("delta after deletes = %v", r)
	}
	if _, err := os.Stat(s.dataPath(1)); !os.IsNotExist(err) {
		t.Errorf("deleted block file: %v", err)
	}
	if _, err := os.Stat(s.metaPath(1)); !os.IsNotExist(err) {
		t.Errorf("deleted meta file: %v", err)
	}

	r = s.Report(false)
	if r.Seq != 4 || len(r.Blocks)+len(r.Deleted)+len(r.Corrupt) != 0 {
		t.Fatalf("delta without changes = %v", r)
	}
	r = s.Report(true)
	if !r.Full || r.Seq != 5 || !slices.Equal(blockIDs(r.Blocks), []int64{2, 3, 4}) || len(r.Deleted) != 0 {
		t.Fatalf("full report = %v", r)
	}
	if !slices.Equal(blockIDs(s.Blocks()), []int64{2, 3, 4}) || s.Has(1) || !s.Has(4) {
		t.Errorf("Blocks = %v", s.Blocks())
	}
}

func TestCorruptReplica(t *testing.T) {
	n := startNode(t, "w1", 0)
	data := randomBytes(4096, 7)
	if _, err := writeBlock(t, 7, data, n); err != nil {
		t.Fatal(err)
	}
	n.store.Report(true)
	flipByte(t, n.store, 7, 1500)

	_, _, _, err := readBlock(t, n.client, 7, 0, 0)
	if err == nil {
		t.Fatal("read of a corrupt replica succeeded")
	}
	t.Logf("error: %v", err)
	for _, want := range []string{"block 7", "worker w1", "offset 1024", "checksum mismatch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if code := statusCode(err); code != "DataLoss" {
		t.Errorf("code %s, want DataLoss", code)
	}
	// Chunks before the bad one still read.
	if got, _, _, err := readBlock(t, n.client, 7, 100, 900); err != nil || !bytes.Equal(got, data[100:1000]) {
		t.Errorf("read of the good chunks: %v", err)
	}
	r := n.store.Report(false)
	if !slices.Equal(r.Corrupt, []int64{7}) {
		t.Errorf("report corrupt = %v, want [7]", r.Corrupt)
	}
	if r = n.store.Report(false); len(r.Corrupt) != 0 {
		t.Errorf("corrupt replica reported twice in deltas: %v", r.Corrupt)
	}
	if r = n.store.Report(true); !slices.Equal(r.Corrupt, []int64{7}) || !slices.Equal(blockIDs(r.Blocks), []int64{7}) {
		t.Errorf("full report = %v, want block 7 listed and corrupt", r)
	}
	if err := n.store.Verify(context.Background(), 7); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify: %v, want ErrCorrupt", err)
	}
}

func TestScanner(t *testing.T) {
	s := openStore(t, t.TempDir(), "w1")
	for id := int64(1); id <= 3; id++ {
		putBlock(t, s, id, randomBytes(200<<10, uint64(id)))
	}
	s.Report(true)
	flipByte(t, s, 2, 150000)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.RunScanner(ctx, ScanConfig{BytesPerSecond: 64 << 20, Period: 20 * time.Millisecond})
		close(done)
	}()
	var corrupt []int64
	eventually(t, "the scanner to find block 2", func() bool {
		corrupt = append(corrupt, s.Report(false).Corrupt...)
		return slices.Contains(corrupt, 2)
	})
	time.Sleep(100 * time.Millisecond) // a few more passes
	corrupt = append(corrupt, s.Report(false).Corrupt...)
	if !slices.Equal(corrupt, []int64{2}) {
		t.Errorf("corrupt = %v, want [2] once", corrupt)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the scanner did not stop")
	}
}

func TestOpenAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, "w1")
	data := randomBytes(1000, 1)
	putBlock(t, s, 1, data)
	putBlock(t, s, 2, nil)
	if _, err := Open(Config{Dir: dir, Worker: "w1", Logger: quiet}); err == nil {
		t.Fatal("a second Open of an open store succeeded")
	}
	// A write cut short by a crash: never finalized nor aborted.
	w, err := s.Create(3, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(data[:512], sumsOf(data[:512])); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A crash between the renames of finalize; a block without meta file.
	os.WriteFile(filepath.Join(dir, currentDir, "blk_9.meta"), metaHeader(), 0o644)
	os.WriteFile(filepath.Join(dir, currentDir, "blk_5"), []byte("no meta"), 0o644)
	if got := rbwEntries(t, s); len(got) != 2 {
		t.Fatalf("rbw before reopening = %v", got)
	}

	s = openStore(t, dir, "w1")
	if got := rbwEntries(t, s); len(got) != 0 {
		t.Errorf("rbw after Open = %v", got)
	}
	want := []*hdfspb.Block{{Id: 1, Length: 1000}, {Id: 2}, {Id: 5, Length: 7}}
	if got := s.Blocks(); !slices.EqualFunc(got, want, func(a, b *hdfspb.Block) bool { return proto.Equal(a, b) }) {
		t.Errorf("Blocks = %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, currentDir, "blk_9.meta")); !os.IsNotExist(err) {
		t.Errorf("orphan meta file: %v", err)
	}
	r := s.Report(true)
	if !slices.Equal(r.Corrupt, []int64{5}) {
		t.Errorf("corrupt = %v, want [5] (no meta file)", r.Corrupt)
	}
	if err := s.Verify(context.Background(), 1); err != nil {
		t.Errorf("Verify of an earlier store's block: %v", err)
	}
	w, err = s.Create(3, 0)
	if err != nil {
		t.Fatalf("Create of the block whose write crashed: %v", err)
	}
	w.Abort()
}
