package s3

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Scheme is the scheme of the paths this package serves.
const Scheme = "s3"

// maxKeyLen is the longest key S3 stores, in bytes.
const maxKeyLen = 1024

// ParseURI splits s3://bucket/key/prefix into its bucket and key. The key
// may be empty (the bucket's root) and keeps any trailing slash. The
// bucket must be a valid S3 bucket name: 3 to 63 characters of lowercase
// letters, digits, dots and hyphens, starting and ending with a letter or
// digit, without "..", and not an IP address.
func ParseURI(p string) (bucket, key string, err error) {
	i := strings.Index(p, "://")
	if i < 0 || !strings.EqualFold(p[:i], Scheme) {
		return "", "", fmt.Errorf("%w %q: not an s3:// path", ErrBadURI, p)
	}
	rest := p[i+3:]
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%w %q: no bucket name (want s3://bucket/key)", ErrBadURI, p)
	}
	if why := badBucketName(bucket); why != "" {
		return "", "", fmt.Errorf("%w %q: bucket name %q %s", ErrBadURI, p, bucket, why)
	}
	if len(key) > maxKeyLen {
		return "", "", fmt.Errorf("%w %q: key is %d bytes, longer than S3's %d", ErrBadURI, p, len(key), maxKeyLen)
	}
	if !utf8.ValidString(key) {
		return "", "", fmt.Errorf("%w %q: key is not valid UTF-8", ErrBadURI, p)
	}
	return bucket, key, nil
}

// badBucketName says what is wrong with a bucket name, or "".
func badBucketName(b string) string {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Sprintf("is %d characters long; bucket names have 3 to 63", len(b))
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			if r >= 'A' && r <= 'Z' {
				return "has uppercase letters; bucket names are lowercase"
			}
			return fmt.Sprintf("has %q; bucket names have only lowercase letters, digits, dots and hyphens", r)
		}
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	if !alnum(b[0]) || !alnum(b[len(b)-1]) {
		return "must start and end with a letter or a digit"
	}
	if strings.Contains(b, "..") {
		return `has ".." (two dots in a row)`
	}
	if a, err := netip.ParseAddr(b); err == nil && a.Is4() {
		return "is an IP address"
	}
	return ""
}

// URI returns the s3:// path of a key in a bucket.
func URI(bucket, key string) string { return "s3://" + bucket + "/" + key }

// parse splits a path into bucket and key, dropping trailing slashes from
// the key (a folder and its name with a slash are the same path).
func parse(p string) (bucket, key string, err error) {
	bucket, key, err = ParseURI(p)
	return bucket, strings.TrimRight(key, "/"), err
}

// dirPrefix returns the key prefix of the objects in a folder: the key
// and a slash, or "" for a bucket's root.
func dirPrefix(key string) string {
	if key == "" {
		return ""
	}
	return key + "/"
}

// pathOf returns the path of a key, without a trailing slash.
func pathOf(bucket, key string) string {
	if key == "" {
		return "s3://" + bucket
	}
	return URI(bucket, strings.TrimRight(key, "/"))
}
