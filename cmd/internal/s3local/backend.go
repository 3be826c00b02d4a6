package s3local

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
)

// backend is gofakes3's filesystem backend (one file per object), which
// leaves the folders of deleted objects behind: they would list as
// folders (common prefixes) with nothing in them, which S3 never does.
// backend removes the folders that deletes empty, under a lock that also
// covers the writes, so that a write never finds its folder removed
// between making it and creating the file.
type backend struct {
	*s3afero.MultiBucketBackend
	root string // Dir/buckets

	mu sync.Mutex
}

var _ gofakes3.Backend = (*backend)(nil)

// PutObject implements gofakes3.Backend.
func (b *backend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.MultiBucketBackend.PutObject(bucket, key, meta, input, size, conditions)
}

// CopyObject implements gofakes3.Backend.
func (b *backend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.MultiBucketBackend.CopyObject(srcBucket, srcKey, dstBucket, dstKey, meta)
}

// DeleteObject implements gofakes3.Backend.
func (b *backend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	res, err := b.MultiBucketBackend.DeleteObject(bucket, key)
	b.prune(bucket, key)
	return res, err
}

// DeleteMulti implements gofakes3.Backend.
func (b *backend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	res, err := b.MultiBucketBackend.DeleteMulti(bucket, keys...)
	for _, k := range keys {
		b.prune(bucket, k)
	}
	return res, err
}

// prune removes the empty folders above a deleted key, up to the bucket.
func (b *backend) prune(bucket, key string) {
	top := filepath.Join(b.root, bucket)
	dir := filepath.Dir(filepath.Join(top, filepath.FromSlash(key)))
	for dir != top && strings.HasPrefix(dir, top+string(filepath.Separator)) {
		if os.Remove(dir) != nil { // not empty (or gone): stop
			return
		}
		dir = filepath.Dir(dir)
	}
}
