package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/gomr/gomr/mapreduce"
)

// The output prefix of a step on S3, from setup to commit. Nothing under
// OUT/ is visible (listed, readable) before the leader commits a task,
// and nothing but the chosen attempts' complete files ever is:
//
//	OUT/_temporary/_step-STEP   an open multipart upload, never completed:
//	                            the step's claim on the prefix (SetupJob)
//	OUT/part-r-00000 ...        a multipart upload per file an attempt
//	                            writes, open until the leader completes
//	                            it (CommitTask) or aborts it
//	OUT/_SUCCESS                the manifest, put last (CommitJob)
//
// Every object and upload of the step carries the user metadata
// gomr-step (and gomr-attempt), which is how a commit retried after a
// failover recognises its own objects.
const (
	claimDir      = "_temporary"
	claimPrefix   = "_step-"
	metaStep      = "gomr-step"
	metaAttempt   = "gomr-attempt"
	recordVersion = 1
)

// Committer is the output committer of a step writing to an S3 prefix,
// exactly once, without renames: attempts upload their files as
// multipart uploads that stay open (invisible), and the leader completes
// the uploads of each task's chosen attempt. Every leader-side method is
// idempotent, so that the next leader finishes what a dead one started.
//
// Overwrite (CommitterOverwrite): CheckOutput accepts an output that
// holds objects and SetupJob deletes them (and aborts the uploads open
// under the prefix) before claiming it. The old output is gone from the
// moment the step starts, as with Hadoop's overwrite: an overwriting
// step that fails or is cancelled leaves the prefix empty, never the
// old output mixed with part of the new one.
//
// The _SUCCESS manifest lists every object under the prefix, sizes from
// the listing; each file's CRC32C comes from, in order: the commit
// records the committer completed (CommitTask, which a leader runs for
// every chosen attempt before CommitJob, after a failover too); the
// object's full-object CRC32C checksum, which S3 computed and verified
// at completion, when the upload was made with checksums (Config.Checksums:
// AWS and versitygw keep them); and last, reading the object back.
//
// Limits: the claim is an open multipart upload, so a bucket lifecycle
// rule that aborts incomplete uploads (AbortIncompleteMultipartUpload)
// must give a step longer than it runs; the same holds for the uploads
// of attempts that wait to be committed. A zombie attempt that starts an
// upload after CommitJob leaves an invisible upload only such a rule (or
// a recursive Delete of the prefix) removes.
type Committer struct {
	fs        *FS
	out       string // the output path, cleaned
	bucket    string
	prefix    string // key prefix of the output's objects ("" for a bucket root)
	step      string
	overwrite bool

	mu        sync.Mutex
	committed map[string]recordFile // what CommitTask completed, by name
}

var _ mapreduce.Committer = (*Committer)(nil)

// commitRecord is a task attempt's commit record: its files' uploads.
type commitRecord struct {
	Version int          `json:"v"`
	Step    string       `json:"step"`
	Attempt string       `json:"attempt"`
	Files   []recordFile `json:"files"`
}

// recordFile is one file of an attempt: a multipart upload left open,
// or (UploadID "") an empty file the leader puts at commit.
type recordFile struct {
	Name     string       `json:"name"`
	Key      string       `json:"key"`
	UploadID string       `json:"upload_id,omitempty"`
	Parts    []recordPart `json:"parts,omitempty"`
	Size     int64        `json:"size"`
	CRC32C   uint32       `json:"crc32c"`
	// Checksums is set when the upload was created with a full-object
	// CRC32C checksum: its completion then carries per-part checksums.
	Checksums bool `json:"checksums,omitempty"`
}

type recordPart struct {
	Number int32  `json:"n"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

func validID(kind, id string) error {
	if id == "" || strings.ContainsAny(id, "/\\:*?\"<>|") || strings.HasPrefix(id, ".") || strings.HasPrefix(id, "_") || len(id) > 200 {
		return fmt.Errorf("%s id %q cannot name an S3 key", kind, id)
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return fmt.Errorf("%s id %q cannot go in S3 metadata", kind, id)
		}
	}
	return nil
}

func (fs *FS) newCommitter(output, stepID string, overwrite bool) (*Committer, error) {
	bucket, key, err := parse(output)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	// A committer without a step only checks the output (CheckOutput).
	if err := validID("step", stepID); err != nil && stepID != "" {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	if overwrite && key == "" {
		return nil, fmt.Errorf("output %s: refusing to overwrite a whole bucket (write under a prefix)", output)
	}
	return &Committer{
		fs: fs, out: pathOf(bucket, key), bucket: bucket, prefix: dirPrefix(key), step: stepID,
		overwrite: overwrite, committed: map[string]recordFile{},
	}, nil
}

func (c *Committer) claimKey(step string) string {
	return c.prefix + claimDir + "/" + claimPrefix + step
}

// claims returns the steps whose claims are open on the prefix.
func (c *Committer) claims(ctx context.Context) ([]openUpload, error) {
	ups, err := c.fs.listUploads(ctx, c.bucket, c.prefix+claimDir+"/"+claimPrefix)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", c.out, err)
	}
	return ups, nil
}

func (c *Committer) stepOfClaim(u openUpload) string {
	return strings.TrimPrefix(u.key, c.prefix+claimDir+"/"+claimPrefix)
}

// claimState says whether this step's claim is open, and which other
// step's is.
func (c *Committer) claimState(ctx context.Context) (mine bool, mineID, other string, err error) {
	ups, err := c.claims(ctx)
	if err != nil {
		return false, "", "", err
	}
	for _, u := range ups {
		if s := c.stepOfClaim(u); s == c.step {
			mine, mineID = true, u.id
		} else if other == "" {
			other = s
		}
	}
	return mine, mineID, other, nil
}

// hasObjects reports whether any object is under the prefix.
func (c *Committer) hasObjects(ctx context.Context) (bool, error) {
	out, err := c.fs.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket), Prefix: aws.String(c.prefix), MaxKeys: aws.Int32(1)})
	if err != nil {
		return false, c.fs.wrap("output", c.out, err)
	}
	return len(out.Contents) > 0, nil
}

// isFile reports whether the output path itself names an object.
func (c *Committer) isFile(ctx context.Context) (bool, error) {
	if c.prefix == "" {
		return false, nil
	}
	_, err := c.fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(strings.TrimSuffix(c.prefix, "/"))})
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, c.fs.wrap("output", c.out, err)
}

// CheckOutput implements mapreduce.Committer: the bucket must be
// reachable, the output path must not be an object, no other step may be
// writing there, and (unless overwriting) no object may be under it.
func (c *Committer) CheckOutput(ctx context.Context) error {
	if file, err := c.isFile(ctx); err != nil {
		return err
	} else if file {
		return fmt.Errorf("output %s: %w", c.out, mapreduce.ErrOutputIsFile)
	}
	if any, err := c.hasObjects(ctx); err != nil {
		return err
	} else if any && !c.overwrite {
		return fmt.Errorf("output %s holds objects: %w", c.out, mapreduce.ErrOutputExists)
	}
	_, _, other, err := c.claimState(ctx)
	if err != nil {
		return err
	}
	if other != "" {
		return fmt.Errorf("output %s is being written by step %s: %w", c.out, other, mapreduce.ErrOutputExists)
	}
	return nil
}

// SetupJob implements mapreduce.Committer: it claims the prefix with an
// open (invisible) multipart upload; nothing is visible under it. Run
// again for the same step, it finds its claim and succeeds.
func (c *Committer) SetupJob(ctx context.Context) error {
	if c.step == "" {
		return fmt.Errorf("output %s: a committer without a step only checks the output", c.out)
	}
	mine, _, other, err := c.claimState(ctx)
	if err != nil {
		return err
	}
	if mine {
		return nil
	}
	if other != "" {
		return fmt.Errorf("output %s is being written by step %s: %w", c.out, other, mapreduce.ErrOutputExists)
	}
	if file, err := c.isFile(ctx); err != nil {
		return err
	} else if file {
		return fmt.Errorf("output %s: %w", c.out, mapreduce.ErrOutputIsFile)
	}
	if c.overwrite {
		// Delete before claiming: a SetupJob cut short deletes again;
		// once claimed, nothing of the step's is ever deleted here.
		if err := c.removeAll(ctx, nil); err != nil {
			return fmt.Errorf("overwrite output %s: %w", c.out, err)
		}
		c.fs.log.Info("s3 output overwritten", "output", c.out, "step", c.step)
	} else if any, err := c.hasObjects(ctx); err != nil {
		return err
	} else if any {
		return fmt.Errorf("output %s holds objects: %w", c.out, mapreduce.ErrOutputExists)
	}
	_, err = c.fs.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(c.bucket), Key: aws.String(c.claimKey(c.step)), Metadata: map[string]string{metaStep: c.step},
	})
	if err != nil {
		return c.fs.wrap("claim output", c.out, err)
	}
	return nil
}

// removeAll aborts the uploads open under the prefix (but those keep
// keeps) and deletes every object under it.
func (c *Committer) removeAll(ctx context.Context, keep func(openUpload) bool) error {
	if err := c.fs.abortUploads(ctx, c.bucket, c.prefix, keep); err != nil {
		return err
	}
	var keys []string
	err := c.fs.eachObject(ctx, c.bucket, c.prefix, func(o types.Object) error {
		keys = append(keys, aws.ToString(o.Key))
		return nil
	})
	if err != nil {
		return err
	}
	return c.fs.deleteKeys(ctx, c.bucket, keys)
}

// cleanName checks a file name relative to the output folder.
func cleanName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("output file name %q is not a file inside the output folder", name)
	}
	for _, e := range strings.Split(name, "/") {
		if e == "" || e == "." || e == ".." {
			return fmt.Errorf("output file name %q is not a file inside the output folder", name)
		}
	}
	if name == mapreduce.SuccessFile || name == claimDir || strings.HasPrefix(name, claimDir+"/") {
		return fmt.Errorf("output file name %q is reserved", name)
	}
	if len(name) > maxKeyLen/2 {
		return fmt.Errorf("output file name %q is too long", name)
	}
	return nil
}

// SetupTask implements mapreduce.Committer.
func (c *Committer) SetupTask(_ context.Context, attemptID string) (mapreduce.TaskOutput, error) {
	if err := validID("attempt", attemptID); err != nil {
		return nil, err
	}
	return &TaskOutput{c: c, attempt: attemptID, files: map[string]*writer{}}, nil
}

// TaskOutput is where one attempt writes: a multipart upload per file,
// left open by Close for the leader to complete. It implements
// mapreduce.CounterSource (S3_BYTES_WRITTEN).
type TaskOutput struct {
	c       *Committer
	attempt string

	mu     sync.Mutex
	files  map[string]*writer
	gone   []*writer // replaced by a later Create of the same name
	sealed bool
}

var (
	_ mapreduce.TaskOutput    = (*TaskOutput)(nil)
	_ mapreduce.CounterSource = (*TaskOutput)(nil)
)

// Create implements mapreduce.TaskOutput: it starts the multipart upload
// of OUTPUT/name. Creating a name again replaces the first file.
func (t *TaskOutput) Create(ctx context.Context, name string) (mapreduce.FileWriter, error) {
	if err := cleanName(name); err != nil {
		return nil, err
	}
	t.mu.Lock()
	sealed := t.sealed
	t.mu.Unlock()
	if sealed {
		return nil, fmt.Errorf("create %s: attempt %s is committed or aborted", name, t.attempt)
	}
	w := t.c.fs.newWriter(ctx, t.c.bucket, t.c.prefix+name, map[string]string{metaStep: t.c.step, metaAttempt: t.attempt}, modeTask)
	if err := w.start(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sealed {
		w.Abort()
		return nil, fmt.Errorf("create %s: attempt %s is committed or aborted", name, t.attempt)
	}
	if old := t.files[name]; old != nil {
		t.gone = append(t.gone, old)
	}
	t.files[name] = w
	return w, nil
}

// Commit implements mapreduce.TaskOutput: the record names each file's
// key, upload id, parts with their ETags, size and CRC32C. Every file
// must be closed (or aborted, and then it is left out).
func (t *TaskOutput) Commit(ctx context.Context) (json.RawMessage, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.gone {
		w.mu.Lock()
		w.discard()
		w.mu.Unlock()
	}
	t.gone = nil
	rec := commitRecord{Version: recordVersion, Step: t.c.step, Attempt: t.attempt, Files: []recordFile{}}
	for _, name := range slices.Sorted(mapKeys(t.files)) {
		f, err := t.files[name].record(name)
		if errors.Is(err, errAborted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("commit attempt %s: %w", t.attempt, err)
		}
		rec.Files = append(rec.Files, f)
	}
	t.sealed = true
	return json.Marshal(rec)
}

// Abort implements mapreduce.TaskOutput: every upload of the attempt is
// aborted, closed files' too.
func (t *TaskOutput) Abort(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sealed = true
	for _, w := range append(t.gone, slices.Collect(mapValues(t.files))...) {
		w.mu.Lock()
		err := w.discardErr()
		w.mu.Unlock()
		if err != nil {
			return fmt.Errorf("abort attempt %s: %w", t.attempt, err)
		}
	}
	return nil
}

// Counters implements mapreduce.CounterSource.
func (t *TaskOutput) Counters() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, w := range append(t.gone, slices.Collect(mapValues(t.files))...) {
		n += w.uploaded.Load()
	}
	return map[string]int64{BytesWrittenCounter: n}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func mapValues[K comparable, V any](m map[K]V) func(func(V) bool) {
	return func(yield func(V) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// decode checks a commit record against the committer: every file must
// be under the output prefix, with its parts in order and adding up.
func (c *Committer) decode(tc mapreduce.TaskCommit) (commitRecord, error) {
	var r commitRecord
	bad := func(format string, a ...any) (commitRecord, error) {
		return r, fmt.Errorf("commit record of attempt %s for output %s: %s", tc.AttemptID, c.out, fmt.Sprintf(format, a...))
	}
	dec := json.NewDecoder(bytes.NewReader(tc.Record))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return bad("%v", err)
	}
	if r.Version != recordVersion {
		return bad("version %d, want %d", r.Version, recordVersion)
	}
	if r.Attempt != tc.AttemptID {
		return bad("written by attempt %q", r.Attempt)
	}
	for _, f := range r.Files {
		if err := cleanName(f.Name); err != nil {
			return bad("%v", err)
		}
		if f.Key != c.prefix+f.Name {
			return bad("file %s has key %q, not under %s", f.Name, f.Key, c.out)
		}
		if f.UploadID == "" {
			if f.Size != 0 || len(f.Parts) != 0 {
				return bad("file %s has data but no upload", f.Name)
			}
			continue
		}
		var sum int64
		for i, p := range f.Parts {
			if p.Number != int32(i+1) || p.ETag == "" || p.Size <= 0 {
				return bad("file %s: part %d is %+v", f.Name, i+1, p)
			}
			sum += p.Size
		}
		if len(f.Parts) == 0 || sum != f.Size {
			return bad("file %s: %d parts of %d bytes for a file of %d", f.Name, len(f.Parts), sum, f.Size)
		}
	}
	return r, nil
}

// CommitTask implements mapreduce.Committer: it completes each upload of
// the chosen attempt (an empty file is put). An upload completed already,
// by a leader that died part way, is fine when the object is there with
// the attempt's size and metadata.
func (c *Committer) CommitTask(ctx context.Context, tc mapreduce.TaskCommit) error {
	r, err := c.decode(tc)
	if err != nil {
		return err
	}
	for _, f := range r.Files {
		uri := URI(c.bucket, f.Key)
		if f.UploadID == "" {
			in := &s3.PutObjectInput{
				Bucket: aws.String(c.bucket), Key: aws.String(f.Key), Body: bytes.NewReader(nil), ContentLength: aws.Int64(0),
				Metadata: map[string]string{metaStep: c.step, metaAttempt: r.Attempt},
			}
			if c.fs.checksums {
				in.ChecksumCRC32C = aws.String(checksumValue(0))
			}
			if _, err := c.fs.client.PutObject(ctx, in); err != nil {
				return c.fs.wrap("commit", uri, err)
			}
		} else if _, err := c.fs.client.CompleteMultipartUpload(ctx, completeInput(c.bucket, f)); err != nil {
			if !isNoSuchUpload(err) {
				return c.fs.wrap("commit", uri, err)
			}
			if err := c.completedAlready(ctx, r.Attempt, f); err != nil {
				return err
			}
		}
		c.mu.Lock()
		c.committed[f.Name] = f
		c.mu.Unlock()
	}
	return nil
}

// completedAlready checks that the object of a file whose upload is gone
// is the attempt's output.
func (c *Committer) completedAlready(ctx context.Context, attempt string, f recordFile) error {
	uri := URI(c.bucket, f.Key)
	h, err := c.fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(f.Key)})
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("commit %s: the upload of attempt %s is gone (aborted, or lost by the server) and the object is missing: the attempt's output is lost", uri, attempt)
		}
		return c.fs.wrap("commit", uri, err)
	}
	if got := aws.ToInt64(h.ContentLength); got != f.Size {
		return fmt.Errorf("commit %s: the upload of attempt %s is gone and the object there has %d bytes, not the attempt's %d", uri, attempt, got, f.Size)
	}
	if a, ok := h.Metadata[metaAttempt]; ok && a != attempt {
		return fmt.Errorf("commit %s: the upload of attempt %s is gone and the object there is attempt %s's", uri, attempt, a)
	}
	return nil
}

// AbortTask implements mapreduce.Committer: it aborts an attempt's
// uploads; those gone already are fine. Objects are never deleted here:
// a completed upload belongs to a chosen attempt (AbortJob removes it
// with the rest of a failed step).
func (c *Committer) AbortTask(ctx context.Context, tc mapreduce.TaskCommit) error {
	r, err := c.decode(tc)
	if err != nil {
		return err
	}
	for _, f := range r.Files {
		if f.UploadID == "" {
			continue
		}
		if err := c.fs.abortUpload(ctx, c.bucket, f.Key, f.UploadID); err != nil {
			return fmt.Errorf("abort attempt %s: %w", tc.AttemptID, err)
		}
	}
	return nil
}

// CommitJob implements mapreduce.Committer: it aborts the uploads still
// open under the prefix (of attempts that died or lost), writes the
// _SUCCESS manifest of every object under the prefix, then drops the
// step's claim.
func (c *Committer) CommitJob(ctx context.Context, m mapreduce.Manifest) error {
	claim := c.claimKey(c.step)
	keepClaims := func(u openUpload) bool { return strings.HasPrefix(u.key, c.prefix+claimDir+"/"+claimPrefix) }
	if err := c.fs.abortUploads(ctx, c.bucket, c.prefix, keepClaims); err != nil {
		return fmt.Errorf("commit output %s: %w", c.out, err)
	}
	success := c.prefix + mapreduce.SuccessFile
	m.Files = nil
	err := c.fs.eachObject(ctx, c.bucket, c.prefix, func(o types.Object) error {
		key := aws.ToString(o.Key)
		if key == success || strings.HasSuffix(key, "/") {
			return nil
		}
		mf, err := c.describe(ctx, key, aws.ToInt64(o.Size))
		if err != nil {
			return err
		}
		m.Files = append(m.Files, mf)
		return nil
	})
	if err != nil {
		return fmt.Errorf("manifest of %s: %w", c.out, err)
	}
	b, err := mapreduce.MarshalManifest(m)
	if err != nil {
		return fmt.Errorf("manifest of %s: %w", c.out, err)
	}
	in := &s3.PutObjectInput{
		Bucket: aws.String(c.bucket), Key: aws.String(success), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		ContentType: aws.String("application/json"), Metadata: map[string]string{metaStep: c.step},
	}
	if c.fs.checksums {
		in.ChecksumCRC32C = aws.String(checksumValue(crc32.Checksum(b, castagnoli)))
	}
	if _, err := c.fs.client.PutObject(ctx, in); err != nil {
		return c.fs.wrap("commit", URI(c.bucket, success), err)
	}
	if err := c.dropClaim(ctx, claim); err != nil {
		return err
	}
	c.fs.log.Info("s3 output committed", "output", c.out, "step", c.step, "files", len(m.Files))
	return nil
}

func (c *Committer) dropClaim(ctx context.Context, claim string) error {
	return c.fs.eachUpload(ctx, c.bucket, claim, func(u openUpload) error {
		if u.key != claim {
			return nil
		}
		return c.fs.abortUpload(ctx, c.bucket, u.key, u.id)
	})
}

// describe returns the manifest entry of a committed object.
func (c *Committer) describe(ctx context.Context, key string, size int64) (mapreduce.ManifestFile, error) {
	name := strings.TrimPrefix(key, c.prefix)
	mf := mapreduce.ManifestFile{Name: name, Size: size}
	c.mu.Lock()
	f, ok := c.committed[name]
	c.mu.Unlock()
	if ok {
		if f.Size != size {
			return mf, fmt.Errorf("%s has %d bytes, but the committed attempt wrote %d", URI(c.bucket, key), size, f.Size)
		}
		mf.CRC32C = f.CRC32C
		return mf, nil
	}
	h, err := c.fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return mf, c.fs.wrap("describe", URI(c.bucket, key), err)
	}
	if sum, ok := parseChecksum(aws.ToString(h.ChecksumCRC32C)); ok && (h.ChecksumType == "" || h.ChecksumType == types.ChecksumTypeFullObject) {
		mf.CRC32C = sum
		return mf, nil
	}
	c.fs.log.Debug("s3 manifest: reading the object back for its CRC32C", "path", URI(c.bucket, key))
	out, err := c.fs.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key), IfMatch: h.ETag})
	if err != nil {
		return mf, c.fs.wrap("read", URI(c.bucket, key), err)
	}
	defer out.Body.Close()
	hash := crc32.New(castagnoli)
	n, err := io.Copy(hash, out.Body)
	if err != nil {
		return mf, fmt.Errorf("read %s: %w", URI(c.bucket, key), err)
	}
	if n != size {
		return mf, fmt.Errorf("read %s: %d bytes, listed with %d", URI(c.bucket, key), n, size)
	}
	mf.CRC32C = hash.Sum32()
	return mf, nil
}

// AbortJob implements mapreduce.Committer: it removes what the step
// wrote under the prefix (the prefix held nothing before the step, or,
// overwriting, was emptied by SetupJob), aborting the uploads open there
// and deleting the objects, then drops the claim, last, so that an abort
// cut short is done again. An output another step is writing, or one
// committed (by this step or another), is left alone. Without its claim
// (never made, or lost), the step removes only the objects whose
// gomr-step metadata is its own.
func (c *Committer) AbortJob(ctx context.Context) error {
	mine, _, other, err := c.claimState(ctx)
	if err != nil {
		return err
	}
	if !mine && other != "" {
		return nil // another step's output
	}
	success := c.prefix + mapreduce.SuccessFile
	h, err := c.fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(success)})
	switch {
	case err == nil:
		if h.Metadata[metaStep] == c.step && mine {
			return c.dropClaim(ctx, c.claimKey(c.step)) // committed: only the claim was left
		}
		return nil // committed, by us or another step
	case !isNotFound(err):
		return c.fs.wrap("abort output", c.out, err)
	}
	if mine {
		claim := c.claimKey(c.step)
		if err := c.removeAll(ctx, func(u openUpload) bool { return u.key == claim }); err != nil {
			return fmt.Errorf("abort output %s: %w", c.out, err)
		}
		if err := c.dropClaim(ctx, claim); err != nil {
			return fmt.Errorf("abort output %s: %w", c.out, err)
		}
		c.fs.log.Info("s3 output aborted", "output", c.out, "step", c.step)
		return nil
	}
	var keys []string
	err = c.fs.eachObject(ctx, c.bucket, c.prefix, func(o types.Object) error {
		key := aws.ToString(o.Key)
		h, err := c.fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)})
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return c.fs.wrap("abort output", c.out, err)
		}
		if h.Metadata[metaStep] == c.step {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		c.fs.log.Warn("s3 output aborted without its claim: removing the step's objects", "output", c.out, "step", c.step, "objects", len(keys))
	}
	return c.fs.deleteKeys(ctx, c.bucket, keys)
}
