package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/s3/s3test"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// TestS3ExportRoundTrip submits a word count with --export
// s3://BUCKET/PREFIX/ through the CLI and waits for it and its export
// step. What the export put on the server, read back with the aws CLI
// (ls and cp) and with the SDK, is exactly the step's part files and a
// _SUCCESS manifest listing each with its size and CRC32C; the parts
// equal the step's own output and the sequential reference byte for
// byte; no multipart upload is left open under the prefix; and the
// secret key is in no node's log. A second export to the same folder is
// refused, unless it overwrites: then the folder holds only the new
// output.
func TestS3ExportRoundTrip(t *testing.T) {
	s := needS3(t)
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core", "core", "task"), Env: s.nodeEnv(t, s.SecretKey)})
	in := ct.BigInput(t, 3, 200<<10, 3)
	bucket := s.newBucket(t)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := gomr(t, c.Env(), "step", "add", "--job", "wordcount", "--input", in.Dir, "--output", out,
		"--reducers", "3", "--split-size", "64KiB", "--export", "s3://"+bucket+"/counts/", "--wait")
	if code != 0 {
		t.Fatalf("step add --export --wait: exit %d\n%s\n%s", code, stdout, stderr)
	}
	id := strings.Fields(stdout)[0]
	ct.CheckOutput(t, out, in.Ref)

	// The step names its export step, which copied the output.
	var st, export jsonStep
	describeJSON(t, c, id, &st)
	if st.State != "COMPLETED" || st.Export != "s3://"+bucket+"/counts" || st.ExportStep == "" {
		t.Fatalf("step %s: state %s, export %q in step %q", id, st.State, st.Export, st.ExportStep)
	}
	describeJSON(t, c, st.ExportStep, &export)
	if export.State != "COMPLETED" || export.Job != jobs.DistCpJob || export.After != id || export.Output != st.Export ||
		!slices.Equal(export.Inputs, []string{out}) || export.Counters[jobs.FilesCopied] != 3 {
		t.Fatalf("export step %+v", export)
	}

	want := refFiles(t, in.Ref)
	names := slices.Sorted(slices.Values(append(partNames("r", 3), mapreduce.SuccessFile)))
	s.checkObjectSet(t, bucket, "counts/", names)
	sameFiles(t, "the export read with the SDK", s.readParts(t, bucket, "counts/", partNames("r", 3)), want)
	m := s.checkManifest(t, bucket, "counts/", want)
	if m.Step != st.ExportStep || m.Job != jobs.DistCpJob {
		t.Errorf("_SUCCESS names step %s job %s, want the export step %s (distcp)", m.Step, m.Job, st.ExportStep)
	}
	s.checkNoUploads(t, bucket, "")
	checkNoSecret(t, c, s.SecretKey, stdout, stderr)

	t.Run("aws CLI", func(t *testing.T) {
		bin := awsCLI(t)
		keys, files := awsReadBack(t, bin, s.Endpoint, s.AccessKey, s.SecretKey, bucket, "counts/")
		if !slices.Equal(keys, names) {
			t.Fatalf("aws s3 ls --recursive lists %v, want %v", keys, names)
		}
		delete(files, mapreduce.SuccessFile)
		sameFiles(t, "the export read with aws s3 cp", files, want)
		if ups := awsOpenUploads(t, bin, s.Endpoint, s.AccessKey, s.SecretKey, bucket, "counts/"); len(ups) > 0 {
			t.Fatalf("aws s3api list-multipart-uploads lists open uploads %v", ups)
		}
	})

	// An export folder that holds objects is refused, unless the step
	// overwrites: then the export holds the new output only.
	t.Run("overwrite", func(t *testing.T) {
		in2 := ct.BigInput(t, 1, 100<<10, 2)
		args := []string{"step", "add", "--job", "wordcount", "--input", in2.Dir, "--output", filepath.Join(t.TempDir(), "out"),
			"--reducers", "2", "--export", "s3://" + bucket + "/counts/", "--wait"}
		_, stderr, code := gomr(t, c.Env(), args...)
		if code == 0 || !strings.Contains(stderr, "s3://"+bucket+"/counts") || !strings.Contains(stderr, "already exists") {
			t.Fatalf("an export to a folder that holds objects: exit %d: %s", code, stderr)
		}
		if stdout, stderr, code := gomr(t, c.Env(), append(args, "--overwrite")...); code != 0 {
			t.Fatalf("step add --overwrite: exit %d\n%s\n%s", code, stdout, stderr)
		}
		want := refFiles(t, in2.Ref)
		s.checkObjectSet(t, bucket, "counts/", slices.Sorted(slices.Values(append(partNames("r", 2), mapreduce.SuccessFile))))
		sameFiles(t, "the overwritten export", s.readParts(t, bucket, "counts/", partNames("r", 2)), want)
		s.checkManifest(t, bucket, "counts/", want)
		s.checkNoUploads(t, bucket, "")
	})
}

// describeJSON runs `gomr step describe ID --format json` into v.
func describeJSON(t *testing.T, c *ct.ProcessCluster, id string, v any) {
	t.Helper()
	out, errOut, code := gomr(t, c.Env(), "step", "describe", id, "--format", "json")
	if code != 0 {
		t.Fatalf("step describe %s: exit %d: %s", id, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("step describe %s printed %q: %v", id, out, err)
	}
}

// TestS3MultipartOutput copies a 20 MiB file of bytes that do not repeat
// to s3:// with distcp: the object is byte-identical to the file, the
// server's ETag says it was completed from a multipart upload of three
// parts (8 MiB parts), _SUCCESS lists it with its size and CRC32C, and no
// upload is left open.
func TestS3MultipartOutput(t *testing.T) {
	s := needS3(t)
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core"), Env: s.nodeEnv(t, s.SecretKey)})
	bucket := s.newBucket(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	data := s3test.Content(20<<20+12345, 7)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	id := submit(t, c, &pb.StepSpec{Job: jobs.DistCpJob, Inputs: []string{src}, Output: "s3://" + bucket + "/copy"})
	st := mustComplete(t, c, id)
	if st.Counters[jobs.BytesCopied] != int64(len(data)) {
		t.Errorf("%s = %d, want %d", jobs.BytesCopied, st.Counters[jobs.BytesCopied], len(data))
	}
	s.checkObjectSet(t, bucket, "copy/", []string{"big.bin", mapreduce.SuccessFile})
	if got := s.get(t, bucket, "copy/big.bin"); !bytes.Equal(got, data) {
		t.Fatalf("s3://%s/copy/big.bin has %d bytes that differ from the %d copied", bucket, len(got), len(data))
	}
	h, err := s.client.HeadObject(ctx30(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if etag := strings.Trim(aws.ToString(h.ETag), `"`); !strings.HasSuffix(etag, "-3") {
		t.Fatalf("ETag %s of a 20 MiB object: not the ETag of a multipart upload of 3 parts", etag)
	}
	s.checkManifest(t, bucket, "copy/", map[string][]byte{"big.bin": data})
	s.checkNoUploads(t, bucket, "")
}

// identityReduced is the output of a streaming step with one reducer,
// mapper and reducer both cat, over files of lines without tabs: the
// lines sorted by byte order, each a key with an empty value, written
// key<TAB> (as Hadoop Streaming does: the reducer reads key<TAB>value
// lines, and writes back a key and an empty value).
func identityReduced(t *testing.T, files ...string) []byte {
	t.Helper()
	var lines []string
	for _, f := range files {
		lines = append(lines, strings.Split(strings.TrimSuffix(string(readFile(t, f)), "\n"), "\n")...)
	}
	slices.Sort(lines)
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l + "\t\n")
	}
	return b.Bytes()
}

// TestS3ReduceKilledMidUpload SIGKILLs the worker of a reduce attempt
// that has uploaded the first 8 MiB part of its part file to S3 and is
// still running (its reducer, an identity shell command, waits on its
// first attempt only). The task runs again on another worker and the
// step completes; the output prefix then holds exactly the part file and
// _SUCCESS, the part file is the sorted input, and no multipart upload is
// left open under the prefix: not the dead attempt's, not any other.
func TestS3ReduceKilledMidUpload(t *testing.T) {
	s := needS3(t)
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core", "core", "task"), Env: s.nodeEnv(t, s.SecretKey)})
	bucket := s.newBucket(t)
	dir, files := ct.GenerateText(t, 1, 10<<20, 33)
	// Attempt ids end in _N, N from 0. The first attempt's reducer writes
	// everything, then waits for as long as its worker lives.
	reducer := `sh -c 'cat; case "$mapreduce_task_attempt_id" in *_0) i=0; while [ $i -lt 600 ] && kill -0 $PPID 2>/dev/null; do sleep 0.1; i=$((i+1)); done;; esac'`
	id := submit(t, c, &pb.StepSpec{Job: "streaming", Inputs: []string{dir}, Output: "s3://" + bucket + "/sorted",
		Options: map[string]string{"mapper": "cat", "reducer": reducer}, Reducers: 1, SplitSize: 1 << 20, NoSpeculation: true})

	// Wait until the server holds a part of the part file's upload.
	key := "sorted/part-r-00000"
	var uploadID string
	waitS3(t, "a part of "+key+" uploaded", func() (bool, string) {
		ups, err := s.listUploads(ctx30(t), bucket, key)
		if err != nil {
			return false, err.Error()
		}
		for _, u := range ups {
			if aws.ToString(u.Key) != key {
				continue
			}
			parts, err := s.client.ListParts(ctx30(t), &s3.ListPartsInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
			if err != nil {
				return false, err.Error()
			}
			if len(parts.Parts) > 0 {
				uploadID = aws.ToString(u.UploadId)
				return true, ""
			}
		}
		if st := describe(t, c, id); st.State.Value().Terminal() {
			t.Fatalf("step ended %s before a part was uploaded: %s", st.State, st.Error)
		}
		return false, fmt.Sprintf("%d uploads, none with a part", len(ups))
	})
	st := describe(t, c, id)
	var victim ct.Node
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			if task.Kind.Value() == state.KindReduce && a.State.Value() == state.AttemptRunning {
				if !strings.HasSuffix(a.Id, "_0") {
					t.Fatalf("the running reduce attempt is %s, not a first attempt", a.Id)
				}
				victim = c.Node(a.Worker)
			}
		}
	}
	if victim == nil {
		t.Fatalf("no reduce attempt running while its upload is open: %+v", st.Tasks)
	}
	c.Kill(victim)
	t.Logf("killed %s, which ran the reduce attempt of upload %s", victim.Name(), uploadID)

	st = mustComplete(t, c, id)
	var reduce *pb.Task
	for _, task := range st.Tasks {
		if task.Kind.Value() == state.KindReduce {
			reduce = task
		}
	}
	last := reduce.Attempts[len(reduce.Attempts)-1]
	if len(reduce.Attempts) < 2 || last.Worker == victim.Name() || last.State.Value() != state.AttemptSucceeded {
		t.Fatalf("the reduce task did not run again elsewhere: %+v", reduce.Attempts)
	}
	s.checkObjectSet(t, bucket, "sorted/", []string{"part-r-00000", mapreduce.SuccessFile})
	want := identityReduced(t, files...)
	got := s.get(t, bucket, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes that are not the %d bytes of the sorted input", key, len(got), len(want))
	}
	s.checkManifest(t, bucket, "sorted/", map[string][]byte{"part-r-00000": want})
	s.checkNoUploads(t, bucket, "")
	if _, err := s.client.ListParts(ctx30(t), &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID)}); !isCode(err, "NoSuchUpload") {
		t.Errorf("the dead attempt's upload %s: %v, want NoSuchUpload", uploadID, err)
	}
}

// TestS3LeaderKilledDuringCommit SIGKILLs the leader of three primaries
// while it commits a word count's six part files to S3, paused at the
// commit-midway fault point with two of them visible and no _SUCCESS: the
// new leader finishes the commit. The output is there exactly once: the
// objects under the prefix are the six part files and _SUCCESS, the
// parts equal the sequential reference, _SUCCESS lists every part with
// its size and CRC32C, the counters count every record once, and no
// upload is left open.
//
// The leader pauses after committing half of the step's tasks, map tasks
// (which commit no file) included, in task order: with one map and six
// reduces, it pauses after the map and the first two reduces.
func TestS3LeaderKilledDuringCommit(t *testing.T) {
	s := needS3(t)
	const reducers = 6
	in := ct.BigInput(t, 1, 400<<10, reducers)
	c := startProcCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "core", "task"), Env: s.nodeEnv(t, s.SecretKey),
		PrimaryFaults: "commit-midway=sleep:4s"})
	bucket := s.newBucket(t)
	id := submit(t, c, &pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: "s3://" + bucket + "/counts", Reducers: reducers})
	visible := func() (parts int, success bool) {
		for name := range s.objects(t, bucket, "counts/") {
			parts += btoi(strings.HasPrefix(name, "part-r-"))
			success = success || name == mapreduce.SuccessFile
		}
		return parts, success
	}
	waitS3(t, "two part files visible", func() (bool, string) {
		parts, success := visible()
		if st := describe(t, c, id); st.State.Value().Terminal() {
			t.Fatalf("step ended %s before the leader was killed: %s", st.State, st.Error)
		}
		return parts >= 2, fmt.Sprintf("%d part files visible, _SUCCESS %t", parts, success)
	})
	leader := c.Leader()
	c.Kill(leader)
	if parts, success := visible(); parts == reducers || success {
		t.Fatalf("the leader %s was killed after its commit (%d part files, _SUCCESS %t), not during it", leader.Name(), parts, success)
	} else {
		t.Logf("killed the leader %s with %d of %d part files committed", leader.Name(), parts, reducers)
	}
	st := c.Wait(id)
	ct.MustComplete(t, st)
	ct.CheckCounted(t, st, in.Ref)

	want := refFiles(t, in.Ref)
	names := partNames("r", reducers)
	s.checkObjectSet(t, bucket, "counts/", append(slices.Clone(names), mapreduce.SuccessFile))
	sameFiles(t, "the committed output", s.readParts(t, bucket, "counts/", names), want)
	s.checkManifest(t, bucket, "counts/", want)
	s.checkNoUploads(t, bucket, "")
	list, err := c.Client().ListSteps(ctx30(t), &pb.ListStepsRequest{})
	if err != nil || len(list.Steps) != 1 {
		t.Fatalf("steps after the failover: %v %v", list, err)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestS3WrongCredentials runs a cluster whose nodes have the right access
// key with a wrong secret key. A step writing to s3://, exporting to
// s3:// or reading s3:// is refused at submission with an error that
// names the path and says the server denied access; the secret key is
// nowhere in what the CLI printed or in any node's log.
func TestS3WrongCredentials(t *testing.T) {
	s := needS3(t)
	wrong := "wrong" + randomName("secret")
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core"), Env: s.nodeEnv(t, wrong),
		PrimaryArgs: []string{"--s3-endpoint", s.Endpoint, "--s3-region", "us-east-1"}, WorkerArgs: []string{"--s3-endpoint", s.Endpoint}})
	bucket := s.newBucket(t)
	s.put(t, bucket, "in/words.txt", []byte("some words\n"))
	dir, _ := ct.GenerateText(t, 1, 10<<10, 5)
	var printed []string
	for _, tc := range []struct {
		name string
		args []string
		path string
	}{
		{"output", []string{"--input", dir, "--output", "s3://" + bucket + "/x"}, "s3://" + bucket + "/x"},
		{"export", []string{"--input", dir, "--output", filepath.Join(t.TempDir(), "out"), "--export", "s3://" + bucket + "/y/"}, "s3://" + bucket + "/y"},
		{"input", []string{"--input", "s3://" + bucket + "/in/", "--output", filepath.Join(t.TempDir(), "out")}, "s3://" + bucket + "/in"},
	} {
		stdout, stderr, code := gomr(t, c.Env(), append([]string{"step", "add", "--job", "wordcount"}, tc.args...)...)
		printed = append(printed, stdout, stderr)
		if code == 0 {
			t.Errorf("%s: a step with a wrong secret key was accepted: %s", tc.name, stdout)
			continue
		}
		if !strings.Contains(stderr, tc.path) || !strings.Contains(stderr, "access denied") {
			t.Errorf("%s: the error does not name %s and say access is denied: %s", tc.name, tc.path, stderr)
		}
	}
	checkNoSecret(t, c, wrong, printed...)
	checkNoSecret(t, c, s.SecretKey)
}

// checkNoSecret fails the test if secret is in any node's log (which the
// nodes write at debug level, their S3 configuration included) or in
// printed.
func checkNoSecret(t *testing.T, c *ct.ProcessCluster, secret string, printed ...string) {
	t.Helper()
	for _, n := range append(c.Primaries(), c.Workers()...) {
		b, err := os.ReadFile(filepath.Join(c.Dir(), n.Name()+".log"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(`msg="s3 file system"`)) {
			t.Errorf("the log of %s does not describe its S3 file system (debug level)", n.Name())
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the secret key is in the log of %s", n.Name())
		}
	}
	for i, text := range printed {
		if strings.Contains(text, secret) {
			t.Errorf("the secret key is in command output %d:\n%s", i, text)
		}
	}
}

// TestS3MissingBucket checks the errors about buckets that do not exist:
// a step writing to, exporting to or reading from one is refused at
// submission with an error naming the bucket and saying it does not
// exist; and a step whose export bucket is deleted while it runs
// (submitted with --export to a fresh bucket, whose map waits until the
// bucket is gone) completes with its output intact, while its export
// step ends FAILED with an error naming the bucket.
func TestS3MissingBucket(t *testing.T) {
	s := needS3(t)
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core", "task"), Env: s.nodeEnv(t, s.SecretKey)})
	dir, files := ct.GenerateText(t, 1, 64<<10, 9)
	missing := randomName("gomr-missing-")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"output", []string{"--input", dir, "--output", "s3://" + missing + "/x"}},
		{"export", []string{"--input", dir, "--output", filepath.Join(t.TempDir(), "out"), "--export", "s3://" + missing + "/y/"}},
		{"input", []string{"--input", "s3://" + missing + "/in/", "--output", filepath.Join(t.TempDir(), "out")}},
	} {
		stdout, stderr, code := gomr(t, c.Env(), append([]string{"step", "add", "--job", "wordcount"}, tc.args...)...)
		if code == 0 {
			t.Errorf("%s: a step on a missing bucket was accepted: %s", tc.name, stdout)
			continue
		}
		if !strings.Contains(stderr, `"`+missing+`"`) || !strings.Contains(stderr, "does not exist") {
			t.Errorf("%s: the error does not name bucket %s and say it does not exist: %s", tc.name, missing, stderr)
		}
	}

	t.Run("export bucket deleted while the step runs", func(t *testing.T) {
		bucket := s.newBucket(t)
		gate := filepath.Join(ct.OpenDir(t), "gate") // seen by the mapper, which runs unprivileged
		// The map-only identity step's mapper waits for the gate file.
		mapper := fmt.Sprintf(`sh -c 'while [ ! -e %s ]; do sleep 0.05; done; exec cat'`, gate)
		out := filepath.Join(t.TempDir(), "out")
		stdout, stderr, code := gomr(t, c.Env(), "step", "add", "--job", "streaming", "--mapper", mapper, "--reducers", "0",
			"--input", dir, "--output", out, "--export", "s3://"+bucket+"/export/")
		if code != 0 {
			t.Fatalf("step add: exit %d: %s", code, stderr)
		}
		id := strings.TrimSpace(stdout)
		s.removeBucket(t, bucket)
		if _, err := s.client.HeadBucket(ctx30(t), &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
			t.Fatalf("bucket %s is still there", bucket)
		}
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		st := mustComplete(t, c, id)
		if got, want := readFile(t, filepath.Join(out, "part-m-00000")), readFile(t, files[0]); !bytes.Equal(got, want) {
			t.Fatalf("the step's output is %d bytes, not its %d input bytes", len(got), len(want))
		}
		if _, err := os.Stat(filepath.Join(out, mapreduce.SuccessFile)); err != nil {
			t.Fatalf("the step's output is not committed: %v", err)
		}
		export := ct.WaitStep(t, c.Client(), st.ExportStep)
		if export.State.Value() != state.StepFailed {
			t.Fatalf("export step %s to a deleted bucket ended %s: %s", export.Id, export.State, export.Error)
		}
		t.Logf("export step %s: %s", export.Id, export.Error)
		if !strings.Contains(export.Error, `"`+bucket+`"`) || !strings.Contains(export.Error, "does not exist") {
			t.Errorf("export step error does not name bucket %s and say it does not exist: %s", bucket, export.Error)
		}
		// The step is still COMPLETED, its output intact; step wait says
		// why the export failed.
		_, stderr, code = gomr(t, c.Env(), "step", "wait", st.ExportStep)
		if code == 0 || !strings.Contains(stderr, "FAILED") || !strings.Contains(stderr, bucket) {
			t.Errorf("step wait %s: exit %d: %s", st.ExportStep, code, stderr)
		}
		if st := describe(t, c, id); st.State.Value() != state.StepCompleted {
			t.Errorf("the step is %s after its export failed", st.State)
		}
		if got := readFile(t, filepath.Join(out, "part-m-00000")); !bytes.Equal(got, readFile(t, files[0])) {
			t.Error("the step's output changed after its export failed")
		}
	})
}

// TestS3CancelledStep cancels a map-only step writing to s3:// while its
// map attempt has its part file's multipart upload open (its mapper
// waits on a file that never appears): the step ends CANCELLED and
// nothing is left under its prefix, no object and no open upload (the
// attempt's, or the step's claim on the prefix).
func TestS3CancelledStep(t *testing.T) {
	s := needS3(t)
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core"), Env: s.nodeEnv(t, s.SecretKey)})
	bucket := s.newBucket(t)
	dir, _ := ct.GenerateText(t, 1, 16<<10, 3)
	gate := filepath.Join(t.TempDir(), "never")
	id := submit(t, c, &pb.StepSpec{Job: "streaming", Inputs: []string{dir}, Output: "s3://" + bucket + "/out", Reducers: 0,
		Options: map[string]string{"mapper": fmt.Sprintf(`sh -c 'while [ ! -e %s ]; do sleep 0.05; done; exec cat'`, gate)}})
	waitS3(t, "the map attempt's upload", func() (bool, string) {
		ups := s.uploads(t, bucket, "out/")
		return slices.ContainsFunc(ups, func(u string) bool { return strings.HasPrefix(u, "out/part-m-00000 ") }), fmt.Sprint(ups)
	})
	if _, stderr, code := gomr(t, c.Env(), "step", "cancel", id); code != 0 {
		t.Fatalf("step cancel: exit %d: %s", code, stderr)
	}
	if st := ct.WaitStep(t, c.Client(), id); st.State.Value() != state.StepCancelled {
		t.Fatalf("the step ended %s: %s", st.State, st.Error)
	}
	waitS3(t, "nothing under the prefix", func() (bool, string) {
		objs, ups := s.objects(t, bucket, "out/"), s.uploads(t, bucket, "out/")
		return len(objs) == 0 && len(ups) == 0, fmt.Sprintf("objects %v, uploads %v", objs, ups)
	})
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestS3Input runs the same word count on files uploaded to
// s3://BUCKET/input/ with the SDK and on the same files on local disk,
// with a split size that cuts each file into eight byte ranges: both
// runs plan the same splits and give the same output, equal to the
// sequential reference, and the S3 run fetched ranges, not whole files
// for every split.
func TestS3Input(t *testing.T) {
	s := needS3(t)
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core", "core", "task"), Env: s.nodeEnv(t, s.SecretKey)})
	bucket := s.newBucket(t)
	const fileSize = 1 << 20
	dir, files := ct.GenerateText(t, 3, fileSize, 60)
	var total int64
	for _, f := range files {
		b := readFile(t, f)
		total += int64(len(b))
		s.put(t, bucket, "input/"+filepath.Base(f), b)
	}
	ref := ct.Reference(t, "wordcount", dir, 2)
	spec := func(input, output string) *pb.StepSpec {
		return &pb.StepSpec{Job: "wordcount", Inputs: []string{input}, Output: output, Reducers: 2, SplitSize: fileSize / 8}
	}
	fromS3, fromLocal := filepath.Join(t.TempDir(), "s3"), filepath.Join(t.TempDir(), "local")
	s3Step := mustComplete(t, c, submit(t, c, spec("s3://"+bucket+"/input/", fromS3)))
	localStep := mustComplete(t, c, submit(t, c, spec(dir, fromLocal)))
	ct.CheckOutput(t, fromS3, ref)
	ct.CheckOutput(t, fromLocal, ref)
	if s3Step.MapsTotal != localStep.MapsTotal || s3Step.MapsTotal < 3*8 || s3Step.InputBytes != total {
		t.Fatalf("S3 input: %d maps over %d bytes; local input: %d maps; want %d maps or more over %d bytes",
			s3Step.MapsTotal, s3Step.InputBytes, localStep.MapsTotal, 3*8, total)
	}
	for _, k := range []string{mapreduce.MapInputRecords, mapreduce.MapInputBytes, "REDUCE_OUTPUT_RECORDS"} {
		if s3Step.Counters[k] != localStep.Counters[k] {
			t.Errorf("counter %s: %d reading S3, %d reading local files", k, s3Step.Counters[k], localStep.Counters[k])
		}
	}
	read := s3Step.Counters["S3_BYTES_READ"]
	if read < total || read >= int64(s3Step.MapsTotal)*fileSize*3/4 {
		t.Errorf("S3_BYTES_READ %d for %d bytes in %d splits: not ranged reads of each split", read, total, s3Step.MapsTotal)
	}
	t.Logf("%d splits; S3_BYTES_READ %d for %d input bytes", s3Step.MapsTotal, read, total)
}

// TestS3EmbeddedEndpoint runs `gomr local` as a process, which prints
// its embedded S3 endpoint's URL and key pair, exports a word count to
// s3://gomr/x/ with `gomr step add --export --wait`, and reads the export
// back through the endpoint with the aws CLI (the SDK where the CLI is
// not installed): exactly the part files and _SUCCESS, equal to the
// step's output and to the word count oracle, and no open upload.
func TestS3EmbeddedEndpoint(t *testing.T) {
	p := ct.MustStartProcess(t, gomrBin, "gomr-local", append(awsIsolation(t), "AWS_ENDPOINT_URL_S3=", "AWS_ENDPOINT_URL=", "GOMR_S3_ENDPOINT="),
		"local", "--addr=", "--primaries", "1", "--core", "1", "--task", "1", "--slots", "2", "--min-split-size", "1KiB")
	lo := waitLocalOutput(t, p)
	if lo.endpoint == "" || lo.credentials == "" {
		t.Fatalf("gomr local printed no S3 endpoint or credentials file:\n%s", p.LogTail(40))
	}
	if strings.Contains(p.LogTail(40), "AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("gomr local printed an S3 secret key:\n%s", p.LogTail(40))
	}
	endpoint := lo.endpoint
	accessKey, secretKey := readCredentials(t, lo.credentials, "gomr-local")
	env := lo.env
	_, files := ct.GenerateText(t, 2, 100<<10, 70)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := gomr(t, env, append([]string{"step", "add", "--job", "wordcount", "--output", out, "--reducers", "2",
		"--split-size", "32KiB", "--export", "s3://gomr/x/", "--wait", "--input"}, files...)...)
	if code != 0 {
		t.Fatalf("step add --export --wait: exit %d\n%s\n%s\nlog of gomr local:\n%s", code, stdout, stderr, p.LogTail(40))
	}
	oracle := ct.WordCounts(t, files...)
	if got := ct.PartLines(t, out); !slices.Equal(got, oracle) {
		t.Fatalf("the step's output differs from the oracle: %d lines vs %d", len(got), len(oracle))
	}
	want := refFiles(t, out)
	names := slices.Sorted(slices.Values(append(partNames("r", 2), mapreduce.SuccessFile)))
	var keys, uploads []string
	var got map[string][]byte
	if bin, why := findAWSCLI(); bin != "" {
		keys, got = awsReadBack(t, bin, endpoint, accessKey, secretKey, "gomr", "x/")
		uploads = awsOpenUploads(t, bin, endpoint, accessKey, secretKey, "gomr", "x/")
	} else {
		t.Logf("reading the export with the SDK: %s", why)
		srv := &s3Server{client: newS3Client(endpoint, accessKey, secretKey)}
		objs := srv.objects(t, "gomr", "x/")
		keys = slices.Sorted(mapKeys(objs))
		got = srv.readParts(t, "gomr", "x/", keys)
		uploads = srv.uploads(t, "gomr", "x/")
	}
	if !slices.Equal(keys, names) {
		t.Fatalf("aws s3 ls --recursive s3://gomr/x/ lists %v, want %v", keys, names)
	}
	delete(got, mapreduce.SuccessFile)
	sameFiles(t, "the export read with aws s3 cp", got, want)
	if len(uploads) > 0 {
		t.Fatalf("open uploads under s3://gomr/x/: %v", uploads)
	}
	p.Stop(t)
}

// Flags of TestS3ExportThroughput.
var (
	measureS3   = flag.Bool("s3.measure", false, "TestS3ExportThroughput: measure the export of a ~1 GB output to the S3 server of GOMR_TEST_S3_ENDPOINT")
	measureS3MB = flag.Int("s3.measure.mb", 1024, "TestS3ExportThroughput: MiB of output to export (16 files)")
)

// TestS3ExportThroughput (with -s3.measure) measures how fast an export
// step copies a ~1 GB output (16 files) to the independent S3 server,
// against plain multipart uploads of the same files with the SDK from
// this process in the same run (8 MiB parts, two in flight per file, as
// many files at once as the cluster has task slots), and checks that both
// copies are complete: every object has its file's size and the export's
// _SUCCESS lists each file's CRC32C.
func TestS3ExportThroughput(t *testing.T) {
	if !*measureS3 {
		t.Skip("a measurement: run with -s3.measure (and without -race)")
	}
	s := needS3(t)
	const files, slots = 16, 2
	workers := ct.Roles("core", "core", "task")
	size := int64(*measureS3MB) << 20 / files
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	sums := map[string]uint32{}
	var total int64
	for i := range files {
		name := fmt.Sprintf("file-%02d", i)
		b := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(i)}).Read(b)
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		sums[name] = crc32.Checksum(b, castagnoli)
		total += size
	}
	c := startProcCluster(t, ct.Options{Workers: workers, Slots: slots, Env: s.nodeEnv(t, s.SecretKey)})
	bucket := s.newBucket(t)

	// The step copies the files to a local output; its export step copies
	// that output to S3.
	out := filepath.Join(t.TempDir(), "out")
	id := submit(t, c, &pb.StepSpec{Job: jobs.DistCpJob, Inputs: []string{src}, Output: out, Export: "s3://" + bucket + "/export"})
	st := mustComplete(t, c, id)
	export := mustComplete(t, c, st.ExportStep)
	took := time.Duration(export.EndedUnixNano - export.StartedUnixNano)
	objs := s.objects(t, bucket, "export/")
	var m mapreduce.Manifest
	if err := json.Unmarshal(s.get(t, bucket, "export/"+mapreduce.SuccessFile), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != files {
		t.Fatalf("_SUCCESS lists %d files, want %d", len(m.Files), files)
	}
	for _, f := range m.Files {
		if objs[f.Name] != size || f.Size != size || f.CRC32C != sums[f.Name] {
			t.Fatalf("export of %s: object of %d bytes, listed %d bytes CRC32C %08x; the file has %d bytes, CRC32C %08x", f.Name, objs[f.Name], f.Size, f.CRC32C, size, sums[f.Name])
		}
	}

	// The same files, uploaded by this process.
	names := slices.Sorted(mapKeys(sums))
	start := time.Now()
	sem := make(chan struct{}, slots*len(workers))
	errs := make(chan error, files)
	for _, name := range names {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errs <- s.multipartUpload(t.Context(), bucket, "sdk/"+name, filepath.Join(src, name), 8<<20, 2)
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	sdk := time.Since(start)
	for name, n := range s.objects(t, bucket, "sdk/") {
		if n != size {
			t.Fatalf("sdk/%s has %d bytes, want %d", name, n, size)
		}
	}
	mbps := func(d time.Duration) float64 { return float64(total) / 1e6 / d.Seconds() }
	t.Logf("%d MB in %d files to %s: export step %s (%.0f MB/s); SDK multipart uploads, %d files at once, %s (%.0f MB/s); export/SDK %.2f",
		total/1e6, files, s.Endpoint, took.Round(time.Millisecond), mbps(took), slots*len(workers), sdk.Round(time.Millisecond), mbps(sdk), mbps(took)/mbps(sdk))
}

// multipartUpload uploads a file as a multipart upload of partSize parts,
// inFlight at a time.
func (s *s3Server) multipartUpload(ctx context.Context, bucket, key, path string, partSize int64, inFlight int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("create upload %s: %w", key, err)
	}
	n := int((fi.Size() + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, n)
	sem := make(chan struct{}, inFlight)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			off := int64(i) * partSize
			buf := make([]byte, min(partSize, fi.Size()-off))
			if _, err := f.ReadAt(buf, off); err != nil {
				errs <- err
				return
			}
			out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf)))})
			if err == nil {
				parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag}
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			return fmt.Errorf("upload a part of %s: %w", key, err)
		}
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return fmt.Errorf("complete %s: %w", key, err)
	}
	return nil
}
