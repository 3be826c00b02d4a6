package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/gomr/gomr/mapreduce"
)

// Errors of the store, wrapped (with the path and the server's own
// error) by what the operations return.
var (
	// ErrNoSuchBucket is wrapped by errors about a bucket that does not
	// exist. It does not wrap mapreduce.ErrNotExist: a missing bucket is
	// a configuration mistake, not an empty input.
	ErrNoSuchBucket = errors.New("no such bucket")
	// ErrAccessDenied is wrapped by errors of requests the server refused
	// for their credentials or permissions.
	ErrAccessDenied = errors.New("access denied")
	// ErrBadURI is wrapped by errors about paths that are not valid
	// s3://bucket/key URIs.
	ErrBadURI = errors.New("bad s3 URI")
)

// apiCode returns the S3 error code of an error ("NoSuchKey") and the
// HTTP status it came with (0 for errors that are not the server's).
func apiCode(err error) (string, int) {
	var code string
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func isNotFound(err error) bool {
	code, status := apiCode(err)
	switch code {
	case "NoSuchKey", "NotFound":
		return true
	}
	// A HEAD's 404 has no body, hence no code. A 404 with another code
	// is something else (versitygw answers an unknown access key so).
	return status == http.StatusNotFound && code == ""
}

func isNoSuchUpload(err error) bool {
	code, _ := apiCode(err)
	return code == "NoSuchUpload"
}

func isNoSuchBucket(err error) bool {
	code, _ := apiCode(err)
	return code == "NoSuchBucket"
}

func isAccessDenied(err error) bool {
	code, status := apiCode(err)
	switch code {
	case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "AllAccessDisabled",
		"XAdminUserNotFound": // versitygw, for an unknown access key
		return true
	}
	return status == http.StatusForbidden
}

// wrap describes a failed operation on a path: what was done, to what,
// and what kind of failure it was, keeping the SDK's error (which names
// the operation, status and request id, never a credential).
func (fs *FS) wrap(op, uri string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s: %w", op, uri, err)
	case isNoSuchBucket(err):
		return fmt.Errorf("%s %s: %w %q at %s: %w", op, uri, ErrNoSuchBucket, bucketOf(uri), fs.endpoint, err)
	case isAccessDenied(err):
		return fmt.Errorf("%s %s: %w by %s (check the access key, the secret key and the permissions on the bucket): %w", op, uri, ErrAccessDenied, fs.endpoint, err)
	case isNotFound(err):
		return fmt.Errorf("%s %s: %w", op, uri, mapreduce.ErrNotExist)
	}
	return fmt.Errorf("%s %s: %w", op, uri, err)
}

func bucketOf(uri string) string {
	b, _, _ := ParseURI(uri)
	return b
}
