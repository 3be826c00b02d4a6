package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/gomr/gomr/mapreduce"
)

// Counters of files and task outputs (mapreduce.CounterSource).
const (
	// BytesReadCounter counts the bytes fetched from the store.
	BytesReadCounter = "S3_BYTES_READ"
	// BytesWrittenCounter counts the bytes uploaded to the store.
	BytesWrittenCounter = "S3_BYTES_WRITTEN"
)

// errIsFile is returned for folder operations on a path that is a file.
var errIsFile = errors.New("is a file, not a folder")

// FS is a store reached through the S3 API, as a mapreduce.FileSystem of
// s3://bucket/key paths. It is safe for concurrent use.
type FS struct {
	client    *s3.Client
	cfg       Config
	log       *slog.Logger
	endpoint  string // for messages, without credentials
	custom    bool   // an S3-compatible server, not AWS
	checksums bool
}

// cleanupContext is for requests that undo: they run on, for a while,
// after ctx is cancelled.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}

var _ mapreduce.FileSystem = (*FS)(nil)

// String names the endpoint, never the credentials.
func (fs *FS) String() string { return "s3 file system at " + fs.endpoint }

// Endpoint describes where the requests go (a URL, or "AWS S3 (region)").
func (fs *FS) Endpoint() string { return fs.endpoint }

// CreateBucket creates a bucket; one that exists already and is the
// caller's is fine.
func (fs *FS) CreateBucket(ctx context.Context, bucket string) error {
	uri := "s3://" + bucket
	if _, _, err := ParseURI(uri); err != nil {
		return err
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if r := fs.client.Options().Region; !fs.custom && r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r)}
	}
	_, err := fs.client.CreateBucket(ctx, in)
	if code, _ := apiCode(err); code == "BucketAlreadyOwnedByYou" {
		return nil
	}
	return fs.wrap("create bucket", uri, err)
}

func fileInfo(bucket, key string, size int64, mod *time.Time) mapreduce.FileInfo {
	fi := mapreduce.FileInfo{Path: pathOf(bucket, key), Size: size, Regular: true}
	if mod != nil && !mod.IsZero() {
		fi.ModTime = mod.UnixNano()
	}
	return fi
}

func dirInfo(bucket, key string) mapreduce.FileInfo {
	return mapreduce.FileInfo{Path: pathOf(bucket, key), IsDir: true, Regular: true}
}

// Stat implements mapreduce.FileSystem: an object is a file; a key with
// objects under it (key/...) is a folder; a bucket's root is a folder.
func (fs *FS) Stat(ctx context.Context, p string) (mapreduce.FileInfo, error) {
	bucket, key, err := parse(p)
	if err != nil {
		return mapreduce.FileInfo{}, err
	}
	if key == "" {
		if err := fs.headBucket(ctx, bucket); err != nil {
			return mapreduce.FileInfo{}, err
		}
		return dirInfo(bucket, ""), nil
	}
	h, err := fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return fileInfo(bucket, key, aws.ToInt64(h.ContentLength), h.LastModified), nil
	}
	if !isNotFound(err) {
		return mapreduce.FileInfo{}, fs.wrap("stat", p, err)
	}
	dir, err := fs.isDir(ctx, bucket, key)
	if err != nil {
		return mapreduce.FileInfo{}, fs.wrap("stat", p, err)
	}
	if !dir {
		return mapreduce.FileInfo{}, fmt.Errorf("stat %s: %w", p, mapreduce.ErrNotExist)
	}
	return dirInfo(bucket, key), nil
}

func (fs *FS) headBucket(ctx context.Context, bucket string) error {
	_, err := fs.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err != nil && isNotFound(err) {
		return fmt.Errorf("bucket %s: %w %q at %s", "s3://"+bucket, ErrNoSuchBucket, bucket, fs.endpoint)
	}
	return fs.wrap("head bucket", "s3://"+bucket, err)
}

// isDir reports whether any object has a key under key/.
func (fs *FS) isDir(ctx context.Context, bucket, key string) (bool, error) {
	out, err := fs.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(dirPrefix(key)), MaxKeys: aws.Int32(1)})
	if err != nil {
		return false, err
	}
	return len(out.Contents) > 0 || len(out.CommonPrefixes) > 0, nil
}

// List implements mapreduce.FileSystem: the objects right under the
// folder are files, the common prefixes (at the next "/") folders.
func (fs *FS) List(ctx context.Context, dir string) ([]mapreduce.FileInfo, error) {
	bucket, key, err := parse(dir)
	if err != nil {
		return nil, err
	}
	prefix := dirPrefix(key)
	var out []mapreduce.FileInfo
	pages := s3.NewListObjectsV2Paginator(fs.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fs.wrap("list", dir, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if k == prefix {
				continue // a folder marker
			}
			out = append(out, fileInfo(bucket, k, aws.ToInt64(o.Size), o.LastModified))
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, dirInfo(bucket, strings.TrimSuffix(aws.ToString(cp.Prefix), "/")))
		}
	}
	if len(out) == 0 && key != "" {
		_, err := fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			return nil, fmt.Errorf("list %s: %w", dir, errIsFile)
		}
		if !isNotFound(err) {
			return nil, fs.wrap("list", dir, err)
		}
		return nil, fmt.Errorf("list %s: %w", dir, mapreduce.ErrNotExist)
	}
	slices.SortFunc(out, func(a, b mapreduce.FileInfo) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// Open implements mapreduce.FileSystem. The file reads with ranged GETs,
// ReadAhead bytes at a time, pinned to the object's ETag so that an
// object replaced while it is read is an error, not a mix. Its reads use
// ctx: once ctx is cancelled, they fail.
func (fs *FS) Open(ctx context.Context, p string) (mapreduce.File, error) {
	bucket, key, err := parse(p)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("open %s: is a bucket, not a file", p)
	}
	h, err := fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if !isNotFound(err) {
			return nil, fs.wrap("open", p, err)
		}
		if dir, lerr := fs.isDir(ctx, bucket, key); lerr != nil {
			return nil, fs.wrap("open", p, lerr)
		} else if dir {
			return nil, fmt.Errorf("open %s: is a folder, not a file", p)
		}
		if berr := fs.headBucket(ctx, bucket); berr != nil {
			return nil, fmt.Errorf("open %s: %w", p, berr)
		}
		return nil, fmt.Errorf("open %s: %w", p, mapreduce.ErrNotExist)
	}
	return &file{
		fs: fs, ctx: ctx, bucket: bucket, key: key,
		size: aws.ToInt64(h.ContentLength), etag: aws.ToString(h.ETag), mod: h.LastModified, next: -1,
	}, nil
}

// Create implements mapreduce.FileSystem: the file is buffered and sent
// with one PutObject on Close, or, past PartSize, as a multipart upload
// completed on Close (Abort aborts it). An existing object is refused
// with mapreduce.ErrExist; S3 has no folders to make.
func (fs *FS) Create(ctx context.Context, p string) (mapreduce.FileWriter, error) {
	bucket, key, err := parse(p)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("create %s: a file needs a key, not just a bucket", p)
	}
	_, err = fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return nil, fmt.Errorf("create %s: %w", p, mapreduce.ErrExist)
	}
	if !isNotFound(err) {
		return nil, fs.wrap("create", p, err)
	}
	return fs.newWriter(ctx, bucket, key, nil, modePut), nil
}

// Rename implements mapreduce.FileSystem with server-side copies, then
// deletes: CopyObject (UploadPartCopy parts beyond 5 GiB) of the file, or
// of every object of a folder, then DeleteObjects of the sources. It is
// not atomic: a failure part way leaves both copies of some files, never
// a partial file.
func (fs *FS) Rename(ctx context.Context, src, dst string) error {
	sb, sk, err := parse(src)
	if err != nil {
		return err
	}
	db, dk, err := parse(dst)
	if err != nil {
		return err
	}
	if sk == "" || dk == "" {
		return fmt.Errorf("rename %s to %s: cannot rename a bucket's root", src, dst)
	}
	if _, err := fs.Stat(ctx, dst); err == nil {
		return fmt.Errorf("rename %s to %s: %w", src, dst, mapreduce.ErrExist)
	} else if !errors.Is(err, mapreduce.ErrNotExist) {
		return fmt.Errorf("rename %s to %s: %w", src, dst, err)
	}
	info, err := fs.Stat(ctx, src)
	if err != nil {
		return fmt.Errorf("rename %s to %s: %w", src, dst, err)
	}
	if !info.IsDir {
		if err := fs.copyObject(ctx, sb, sk, db, dk, info.Size); err != nil {
			return fmt.Errorf("rename %s to %s: %w", src, dst, err)
		}
		return fs.deleteKeys(ctx, sb, []string{sk})
	}
	if sb == db && strings.HasPrefix(dk+"/", sk+"/") {
		return fmt.Errorf("rename %s to %s: cannot move a folder into itself", src, dst)
	}
	var keys []string
	err = fs.eachObject(ctx, sb, sk+"/", func(o types.Object) error {
		k := aws.ToString(o.Key)
		if err := fs.copyObject(ctx, sb, k, db, dk+"/"+strings.TrimPrefix(k, sk+"/"), aws.ToInt64(o.Size)); err != nil {
			return err
		}
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return fmt.Errorf("rename %s to %s: %w", src, dst, err)
	}
	if err := fs.deleteKeys(ctx, sb, keys); err != nil {
		return fmt.Errorf("rename %s to %s: %w", src, dst, err)
	}
	return nil
}

// copyLimit is the largest object CopyObject copies; larger ones are
// copied in parts (a variable for tests).
var copyLimit int64 = 5 << 30

// copyObject copies one object on the server side.
func (fs *FS) copyObject(ctx context.Context, sb, sk, db, dk string, size int64) error {
	source := sb + "/" + escapeKey(sk)
	if size <= copyLimit {
		_, err := fs.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(db), Key: aws.String(dk), CopySource: aws.String(source)})
		return fs.wrap("copy "+URI(sb, sk)+" to", URI(db, dk), err)
	}
	partSize := max(copyLimit/8, (size+9999)/10000, MinPartSize)
	cu, err := fs.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(db), Key: aws.String(dk)})
	if err != nil {
		return fs.wrap("copy "+URI(sb, sk)+" to", URI(db, dk), err)
	}
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+partSize {
		end := min(off+partSize, size) - 1
		out, err := fs.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: aws.String(db), Key: aws.String(dk), UploadId: cu.UploadId, PartNumber: aws.Int32(n),
			CopySource: aws.String(source), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			fs.abortUpload(ctx, db, dk, aws.ToString(cu.UploadId))
			return fs.wrap("copy "+URI(sb, sk)+" to", URI(db, dk), err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.CopyPartResult.ETag})
	}
	_, err = fs.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(db), Key: aws.String(dk), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		fs.abortUpload(ctx, db, dk, aws.ToString(cu.UploadId))
	}
	return fs.wrap("copy "+URI(sb, sk)+" to", URI(db, dk), err)
}

// escapeKey URL-encodes a key for x-amz-copy-source, keeping its slashes.
func escapeKey(k string) string {
	parts := strings.Split(k, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Delete implements mapreduce.FileSystem. Recursive, it removes the
// object at the path and every object under it (DeleteObjects, 1000 at a
// time), and aborts the multipart uploads open under it, as deleting a
// folder on HDFS takes its _temporary along. Without recursive, a folder
// with objects in it is refused. The root of a bucket is never deleted.
func (fs *FS) Delete(ctx context.Context, p string, recursive bool) error {
	bucket, key, err := parse(p)
	if err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("delete %s: refusing to delete a whole bucket", p)
	}
	if !recursive {
		_, err := fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			_, err = fs.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			return fs.wrap("delete", p, err)
		}
		if !isNotFound(err) {
			return fs.wrap("delete", p, err)
		}
		dir, err := fs.isDir(ctx, bucket, key)
		if err != nil {
			return fs.wrap("delete", p, err)
		}
		if dir {
			return fmt.Errorf("delete %s: folder is not empty (delete it recursively)", p)
		}
		return nil
	}
	if err := fs.abortUploads(ctx, bucket, key+"/", nil); err != nil {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	var keys []string
	if _, err := fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
		keys = append(keys, key)
	} else if !isNotFound(err) {
		return fs.wrap("delete", p, err)
	}
	err = fs.eachObject(ctx, bucket, key+"/", func(o types.Object) error {
		keys = append(keys, aws.ToString(o.Key))
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %s: %w", p, err)
	}
	return fs.deleteKeys(ctx, bucket, keys)
}

// eachObject calls fn for every object under a key prefix, in key order.
func (fs *FS) eachObject(ctx context.Context, bucket, prefix string, fn func(types.Object) error) error {
	pages := s3.NewListObjectsV2Paginator(fs.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fs.wrap("list", URI(bucket, prefix), err)
		}
		for _, o := range page.Contents {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteKeys deletes objects, 1000 per request; missing ones are fine.
func (fs *FS) deleteKeys(ctx context.Context, bucket string, keys []string) error {
	for batch := range slices.Chunk(keys, 1000) {
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := fs.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fs.wrap("delete objects in", "s3://"+bucket, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) == "NoSuchKey" {
				continue
			}
			return fmt.Errorf("delete %s: %s: %s", URI(bucket, aws.ToString(e.Key)), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

// upload is an open multipart upload, as ListMultipartUploads lists it.
type openUpload struct{ key, id string }

// eachUpload calls fn for every multipart upload open under a prefix.
func (fs *FS) eachUpload(ctx context.Context, bucket, prefix string, fn func(openUpload) error) error {
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		out, err := fs.client.ListMultipartUploads(ctx, in)
		if err != nil {
			if isNoSuchUpload(err) {
				return nil // gofakes3, for a bucket that never had one
			}
			return fs.wrap("list multipart uploads under", URI(bucket, prefix), err)
		}
		for _, u := range out.Uploads {
			if err := fn(openUpload{key: aws.ToString(u.Key), id: aws.ToString(u.UploadId)}); err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		if aws.ToString(out.NextKeyMarker) == aws.ToString(in.KeyMarker) && aws.ToString(out.NextUploadIdMarker) == aws.ToString(in.UploadIdMarker) {
			return fmt.Errorf("list multipart uploads under %s: the server repeats the page at %q", URI(bucket, prefix), aws.ToString(out.NextKeyMarker))
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// listUploads returns the multipart uploads open under a prefix.
func (fs *FS) listUploads(ctx context.Context, bucket, prefix string) ([]openUpload, error) {
	var out []openUpload
	err := fs.eachUpload(ctx, bucket, prefix, func(u openUpload) error {
		out = append(out, u)
		return nil
	})
	return out, err
}

// abortUploads aborts the uploads open under a prefix, but those keep
// says to keep.
func (fs *FS) abortUploads(ctx context.Context, bucket, prefix string, keep func(openUpload) bool) error {
	ups, err := fs.listUploads(ctx, bucket, prefix)
	if err != nil {
		return err
	}
	for _, u := range ups {
		if keep != nil && keep(u) {
			continue
		}
		if err := fs.abortUpload(ctx, bucket, u.key, u.id); err != nil {
			return err
		}
	}
	return nil
}

// abortUpload aborts one multipart upload; one that is gone is fine. It
// runs even when ctx is cancelled (a killed task still cleans up).
func (fs *FS) abortUpload(ctx context.Context, bucket, key, id string) error {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	_, err := fs.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id)})
	if err != nil && !isNoSuchUpload(err) {
		return fs.wrap("abort the upload of", URI(bucket, key), err)
	}
	return nil
}

// Committer implements mapreduce.FileSystem: the committer of a step
// writing to the folder output, which must hold no object (see
// Committer).
func (fs *FS) Committer(output, stepID string) (mapreduce.Committer, error) {
	return fs.newCommitter(output, stepID, false)
}

// CommitterOverwrite is Committer for a step that replaces what output
// holds (a step submitted with --overwrite): CheckOutput accepts an
// output with objects, and SetupJob deletes them before the step writes.
func (fs *FS) CommitterOverwrite(output, stepID string) (mapreduce.Committer, error) {
	return fs.newCommitter(output, stepID, true)
}
