package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/committertest"
	"github.com/gomr/gomr/mapreduce/s3/s3test"
)

func checksumModes() map[string]ChecksumPolicy {
	return map[string]ChecksumPolicy{"checksums": ChecksumsOn, "nochecksums": ChecksumsOff}
}

// TestCommitterContract runs the committer contract on every server,
// with and without server-verified checksums.
func TestCommitterContract(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		for name, mode := range checksumModes() {
			t.Run(name, func(t *testing.T) {
				fs, faults := newFS(t, tg, func(c *Config) { c.Checksums = mode })
				bucket := newBucket(t, fs)
				var n atomic.Int64
				committertest.Run(t, committertest.Target{
					FS:        fs,
					Output:    func(*testing.T) string { return fmt.Sprintf("s3://%s/jobs/out-%d", bucket, n.Add(1)) },
					Interrupt: faults.FailWrites,
				})
				if faults.Count("failed-writes") == 0 {
					t.Error("Interrupt made no write fail")
				}
				// BadNames sets a step up and leaves it: only its claim may stay.
				for _, u := range openUploads(t, fs, bucket, "") {
					if !strings.Contains(u, "/_temporary/_step-") {
						t.Errorf("upload left open after the contract: %v", u)
					}
				}
			})
		}
	})
}

// step writes one file per name through its own attempt and returns the
// commit records.
func step(t *testing.T, cm mapreduce.Committer, files map[string][]byte, tag ...string) []mapreduce.TaskCommit {
	t.Helper()
	ctx := context.Background()
	if err := cm.SetupJob(ctx); err != nil {
		t.Fatal(err)
	}
	var recs []mapreduce.TaskCommit
	i := 0
	for name, data := range files {
		attempt := fmt.Sprintf("attempt_%s_%03d_0", strings.Join(append(tag, "t"), ""), i)
		i++
		to, err := cm.SetupTask(ctx, attempt)
		if err != nil {
			t.Fatal(err)
		}
		w, err := to.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		// Write in uneven pieces, as a record writer does.
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 300_000+i)
			if _, err := w.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		rec, err := to.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := to.(mapreduce.CounterSource).Counters()[BytesWrittenCounter]; got != int64(len(data)) {
			t.Errorf("%s: S3_BYTES_WRITTEN %d, wrote %d", name, got, len(data))
		}
		recs = append(recs, mapreduce.TaskCommit{AttemptID: attempt, Record: rec})
	}
	return recs
}

func manifest(t *testing.T, fs *FS, out string) mapreduce.Manifest {
	t.Helper()
	bucket, key, _ := parse(out)
	var m mapreduce.Manifest
	if err := json.Unmarshal(get(t, fs, bucket, key+"/"+mapreduce.SuccessFile), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func checkManifest(t *testing.T, m mapreduce.Manifest, files map[string][]byte) {
	t.Helper()
	if len(m.Files) != len(files) {
		t.Fatalf("manifest lists %d files, want %d: %+v", len(m.Files), len(files), m.Files)
	}
	for _, f := range m.Files {
		data, ok := files[f.Name]
		if !ok || f.Size != int64(len(data)) || f.CRC32C != crc32.Checksum(data, castagnoli) {
			t.Errorf("manifest entry %+v does not describe %s (%d bytes)", f, f.Name, len(data))
		}
	}
}

// TestMultipartParts writes files larger than a part: real multipart
// uploads with several parts, committed and read back whole.
func TestMultipartParts(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, faults := newFS(t, tg, func(c *Config) { c.PartSize = MinPartSize; c.Checksums = ChecksumsOn })
		bucket := newBucket(t, fs)
		ctx := context.Background()
		out := "s3://" + bucket + "/big"
		files := map[string][]byte{
			"part-r-00000": s3test.Content(3*MinPartSize+12345, 1), // 4 parts
			"part-r-00001": s3test.Content(MinPartSize, 2),         // exactly one part
			"part-r-00002": s3test.Content(100, 3),
		}
		cm, _ := fs.Committer(out, "s-big")
		recs := step(t, cm, files)
		for _, rc := range recs {
			var r commitRecord
			if err := json.Unmarshal(rc.Record, &r); err != nil {
				t.Fatal(err)
			}
			f := r.Files[0]
			want := (len(files[f.Name]) + MinPartSize - 1) / MinPartSize
			if len(f.Parts) != want {
				t.Errorf("%s: %d parts, want %d", f.Name, len(f.Parts), want)
			}
		}
		if got := faults.Count("upload-part"); got != 4+1+1 {
			t.Errorf("%d parts uploaded, want 6", got)
		}
		// Nothing is visible before the commit.
		if entries, err := fs.List(ctx, out); err == nil || !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("before commit, the output lists %v, %v", entries, err)
		}
		for _, rc := range recs {
			if err := cm.CommitTask(ctx, rc); err != nil {
				t.Fatal(err)
			}
		}
		if err := cm.CommitJob(ctx, mapreduce.Manifest{Step: "s-big"}); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if got := get(t, fs, bucket, "big/"+name); !bytes.Equal(got, data) {
				t.Errorf("%s: read %d bytes, not what was written (%d)", name, len(got), len(data))
			}
		}
		checkManifest(t, manifest(t, fs, out), files)
		if ups := openUploads(t, fs, bucket, ""); len(ups) != 0 {
			t.Errorf("uploads left open: %v", ups)
		}
	})
}

// TestCommitJobByNewCommitter: a leader that fails over between the
// tasks' commits and CommitJob; the new committer never saw a record,
// and still writes the full manifest (from checksums, or reading back).
func TestCommitJobByNewCommitter(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		for name, mode := range checksumModes() {
			t.Run(name, func(t *testing.T) {
				fs, faults := newFS(t, tg, func(c *Config) { c.PartSize = MinPartSize; c.Checksums = mode })
				bucket := newBucket(t, fs)
				ctx := context.Background()
				out := "s3://" + bucket + "/failover"
				files := map[string][]byte{
					"part-r-00000":          s3test.Content(MinPartSize+7, 4),
					"part-r-00001":          []byte("a\t1\n"),
					"part-r-00002":          nil,
					"_rejects/part-m-00000": []byte("bad\n"),
				}
				cm, _ := fs.Committer(out, "s-9")
				for _, rc := range step(t, cm, files) {
					if err := cm.CommitTask(ctx, rc); err != nil {
						t.Fatal(err)
					}
				}
				faults.ResetCounts()
				next, _ := fs.Committer(out, "s-9")
				if err := next.CommitJob(ctx, mapreduce.Manifest{Step: "s-9", Job: "j"}); err != nil {
					t.Fatal(err)
				}
				checkManifest(t, manifest(t, fs, out), files)
				t.Logf("objects read back for the manifest: %d", faults.Count("get-object")-1)
				if tg.external && mode == ChecksumsOn && faults.Count("get-object") > 1 {
					t.Errorf("with checksums the manifest read %d objects back", faults.Count("get-object")-1)
				}
			})
		}
	})
}

// TestOverwrite: an output with objects is refused, unless overwriting;
// an overwrite deletes the old output at SetupJob, and an aborted
// overwrite leaves the prefix empty.
func TestOverwrite(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, _ := newFS(t, tg)
		bucket := newBucket(t, fs)
		ctx := context.Background()
		out := "s3://" + bucket + "/out"
		put(t, fs, bucket, "out/part-r-00000", []byte("old"))
		put(t, fs, bucket, "out/old/nested", []byte("old"))
		put(t, fs, bucket, "outside", []byte("keep"))

		plain, _ := fs.Committer(out, "s-1")
		if err := plain.CheckOutput(ctx); !errors.Is(err, mapreduce.ErrOutputExists) {
			t.Fatalf("CheckOutput of an output with objects: %v", err)
		}
		if err := plain.SetupJob(ctx); !errors.Is(err, mapreduce.ErrOutputExists) {
			t.Fatalf("SetupJob of an output with objects: %v", err)
		}
		ow, _ := fs.CommitterOverwrite(out, "s-1")
		if err := ow.CheckOutput(ctx); err != nil {
			t.Fatalf("CheckOutput with overwrite: %v", err)
		}
		files := map[string][]byte{"part-r-00000": []byte("new\n"), "part-r-00001": []byte("more\n")}
		recs := step(t, ow, files)
		if _, err := fs.Stat(ctx, out+"/old/nested"); !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("the old output is still there after SetupJob: %v", err)
		}
		// Another step cannot take the output while this one holds it,
		// overwrite or not.
		other, _ := fs.CommitterOverwrite(out, "s-2")
		if err := other.SetupJob(ctx); !errors.Is(err, mapreduce.ErrOutputExists) {
			t.Fatalf("another overwriting step took the output: %v", err)
		}
		// A new leader runs SetupJob again: nothing is deleted twice.
		if err := ow.CommitTask(ctx, recs[0]); err != nil {
			t.Fatal(err)
		}
		again, _ := fs.CommitterOverwrite(out, "s-1")
		if err := again.SetupJob(ctx); err != nil {
			t.Fatal(err)
		}
		for _, rc := range recs {
			if err := again.CommitTask(ctx, rc); err != nil {
				t.Fatal(err)
			}
		}
		if err := again.CommitJob(ctx, mapreduce.Manifest{Step: "s-1"}); err != nil {
			t.Fatal(err)
		}
		checkManifest(t, manifest(t, fs, out), files)
		if got := string(get(t, fs, bucket, "out/part-r-00000")); got != "new\n" {
			t.Fatalf("part-r-00000 holds %q", got)
		}

		// An overwrite that fails leaves nothing, not the old output.
		ow2, _ := fs.CommitterOverwrite(out, "s-3")
		recs = step(t, ow2, map[string][]byte{"part-r-00000": []byte("newer\n")})
		if err := ow2.CommitTask(ctx, recs[0]); err != nil {
			t.Fatal(err)
		}
		if err := ow2.AbortJob(ctx); err != nil {
			t.Fatal(err)
		}
		if entries, err := fs.List(ctx, out); !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("an aborted overwrite left %v (%v)", entries, err)
		}
		if got := string(get(t, fs, bucket, "outside")); got != "keep" {
			t.Fatal("an object outside the output was touched")
		}
		if ups := openUploads(t, fs, bucket, ""); len(ups) != 0 {
			t.Errorf("uploads left open: %v", ups)
		}
	})
}

// TestNoUploadLeft: aborted attempts, killed writers, losers and the
// claim leave no open multipart upload after AbortJob or CommitJob.
func TestNoUploadLeft(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, _ := newFS(t, tg, func(c *Config) { c.PartSize = MinPartSize })
		bucket := newBucket(t, fs)
		ctx := context.Background()
		for _, end := range []string{"commit", "abort"} {
			t.Run(end, func(t *testing.T) {
				out := "s3://" + bucket + "/" + end
				cm, _ := fs.Committer(out, "s-1")
				if err := cm.SetupJob(ctx); err != nil {
					t.Fatal(err)
				}
				if ups := openUploads(t, fs, bucket, end+"/"); len(ups) != 1 {
					t.Fatalf("after SetupJob: uploads %v, want the claim", ups)
				}
				// An attempt aborted with files open, closed, and half a part.
				to, _ := cm.SetupTask(ctx, "attempt_1")
				w1, _ := to.Create(ctx, "part-r-00000")
				w1.Write(s3test.Content(MinPartSize+10, 1))
				w2, _ := to.Create(ctx, "part-r-00001")
				w2.Write([]byte("x"))
				w2.Close()
				if err := to.Abort(ctx); err != nil {
					t.Fatal(err)
				}
				// A writer aborted on its own; a zombie that never closes.
				to2, _ := cm.SetupTask(ctx, "attempt_2")
				w3, _ := to2.Create(ctx, "part-r-00002")
				w3.Write([]byte("y"))
				w3.Abort()
				to3, _ := cm.SetupTask(ctx, "attempt_3")
				w4, _ := to3.Create(ctx, "part-r-00003")
				w4.Write([]byte("zombie"))
				// A winner and a loser.
				win := step(t, cm, map[string][]byte{"part-r-00004": []byte("win")}, "win")[0]
				step(t, cm, map[string][]byte{"part-r-00004": []byte("lose")}, "lose")
				if err := cm.CommitTask(ctx, win); err != nil {
					t.Fatal(err)
				}
				if ups := openUploads(t, fs, bucket, end+"/"); len(ups) < 3 {
					t.Fatalf("before the end: uploads %v, want the claim, the zombie's and the loser's", ups)
				}
				if end == "commit" {
					if err := cm.CommitJob(ctx, mapreduce.Manifest{Step: "s-1"}); err != nil {
						t.Fatal(err)
					}
					if got := string(get(t, fs, bucket, end+"/part-r-00004")); got != "win" {
						t.Fatalf("committed %q", got)
					}
				} else if err := cm.AbortJob(ctx); err != nil {
					t.Fatal(err)
				}
				if ups := openUploads(t, fs, bucket, end+"/"); len(ups) != 0 {
					t.Fatalf("after %s: uploads left open: %v", end, ups)
				}
				// A zombie closing now fails nothing visible.
				w4.Close()
				if _, err := fs.Stat(ctx, out+"/part-r-00003"); !errors.Is(err, mapreduce.ErrNotExist) {
					t.Fatalf("the zombie's file is visible: %v", err)
				}
			})
		}
	})
}

// TestCommitRecordChecks: records that do not describe this output are
// refused.
func TestCommitRecordChecks(t *testing.T) {
	fs, err := New(context.Background(), Config{Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := fs.newCommitter("s3://bucket/out", "s-1", false)
	if err != nil {
		t.Fatal(err)
	}
	good := commitRecord{Version: 1, Step: "s-1", Attempt: "a1", Files: []recordFile{{
		Name: "part-r-00000", Key: "out/part-r-00000", UploadID: "u", Size: 3,
		Parts: []recordPart{{Number: 1, ETag: `"e"`, Size: 3}},
	}}}
	enc := func(r commitRecord) json.RawMessage { b, _ := json.Marshal(r); return b }
	if _, err := cm.decode(mapreduce.TaskCommit{AttemptID: "a1", Record: enc(good)}); err != nil {
		t.Fatalf("good record refused: %v", err)
	}
	bad := map[string]func(r *commitRecord){
		"other attempt":  func(r *commitRecord) { r.Attempt = "a2" },
		"key elsewhere":  func(r *commitRecord) { r.Files[0].Key = "elsewhere/part-r-00000" },
		"escaping name":  func(r *commitRecord) { r.Files[0].Name = "../x"; r.Files[0].Key = "out/../x" },
		"parts mismatch": func(r *commitRecord) { r.Files[0].Size = 4 },
		"part order":     func(r *commitRecord) { r.Files[0].Parts[0].Number = 2 },
		"empty w/ data":  func(r *commitRecord) { r.Files[0].UploadID = "" },
		"version":        func(r *commitRecord) { r.Version = 7 },
	}
	for name, mod := range bad {
		r := good
		r.Files = []recordFile{good.Files[0]}
		r.Files[0].Parts = []recordPart{good.Files[0].Parts[0]}
		mod(&r)
		if _, err := cm.decode(mapreduce.TaskCommit{AttemptID: "a1", Record: enc(r)}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, name := range []string{"", "/abs", "a/../b", "a//b", "dir/", "./a", mapreduce.SuccessFile, "_temporary/x"} {
		if err := cleanName(name); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	for _, name := range []string{"part-r-00000", "_rejects/part-m-00001", "a/b/c"} {
		if err := cleanName(name); err != nil {
			t.Errorf("name %q refused: %v", name, err)
		}
	}
	if _, err := fs.Committer("s3://bucket/out", "bad/step"); err == nil {
		t.Error("a step id with a slash accepted")
	}
}

// TestAbortWithoutClaim: a claim lost (a lifecycle rule, a server that
// restarted) still lets AbortJob remove the step's objects, and only
// them; CommitJob without it still commits.
func TestAbortWithoutClaim(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, _ := newFS(t, tg)
		bucket := newBucket(t, fs)
		ctx := context.Background()
		for _, end := range []string{"abort", "commit"} {
			out := "s3://" + bucket + "/" + end
			cm, _ := fs.Committer(out, "s-1")
			files := map[string][]byte{"part-r-00000": []byte("a"), "part-r-00001": nil}
			for _, rc := range step(t, cm, files) {
				if err := cm.CommitTask(ctx, rc); err != nil {
					t.Fatal(err)
				}
			}
			put(t, fs, bucket, end+"/foreign", []byte("not the step's"))
			if err := fs.abortUploads(ctx, bucket, end+"/", nil); err != nil {
				t.Fatal(err)
			}
			if end == "commit" {
				files["foreign"] = []byte("not the step's")
				if err := cm.CommitJob(ctx, mapreduce.Manifest{Step: "s-1"}); err != nil {
					t.Fatal(err)
				}
				checkManifest(t, manifest(t, fs, out), files)
				continue
			}
			if err := cm.AbortJob(ctx); err != nil {
				t.Fatal(err)
			}
			entries, err := fs.List(ctx, out)
			if err != nil || len(entries) != 1 || entries[0].Path != out+"/foreign" {
				t.Fatalf("after AbortJob without a claim: %v, %v", entries, err)
			}
		}
	})
}

// TestFailedFileFailsTheCommit: a file whose upload failed cannot be
// left out of the attempt's record silently.
func TestFailedFileFailsTheCommit(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, _ := newFS(t, tg, func(c *Config) { c.PartSize = MinPartSize; c.RetryMaxAttempts = 1 })
		bucket := newBucket(t, fs)
		ctx := context.Background()
		cm, _ := fs.Committer("s3://"+bucket+"/out", "s-1")
		if err := cm.SetupJob(ctx); err != nil {
			t.Fatal(err)
		}
		to, _ := cm.SetupTask(ctx, "attempt_1")
		wctx, cancel := context.WithCancel(ctx)
		w, err := to.Create(wctx, "part-r-00000")
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		w.Write(s3test.Content(MinPartSize+1, 1))
		if err := w.Close(); err == nil {
			t.Fatal("Close of a file whose upload was cancelled succeeded")
		}
		w.Abort()
		if _, err := to.Commit(ctx); err == nil {
			t.Fatal("an attempt with a failed file committed")
		}
		to.Abort(ctx)
		if err := cm.AbortJob(ctx); err != nil {
			t.Fatal(err)
		}
		if ups := openUploads(t, fs, bucket, ""); len(ups) != 0 {
			t.Fatalf("uploads left: %v", ups)
		}
	})
}
