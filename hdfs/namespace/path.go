package namespace

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of paths, as HDFS's (dfs.namenode.fs-limits.max-component-length
// and the NameNode's maximum path length).
const (
	// MaxComponentLength is the most bytes one path component may have.
	MaxComponentLength = 255
	// MaxPathLength is the most bytes a clean path may have.
	MaxPathLength = 8000
)

// Root is the clean path of the file system's root folder.
const Root = "/"

// Scheme is the URI scheme of gomr's HDFS.
const Scheme = "hdfs"

// ErrBadPath is wrapped by every error Clean returns.
var ErrBadPath = errors.New("bad HDFS path")

// badPath builds Clean's errors: the sentinel, the path as given (quoted,
// shortened when very long) and what is wrong with it.
func badPath(p, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrBadPath, shorten(p), fmt.Sprintf(format, args...))
}

// shortened paths keep this many bytes in error messages.
const shownPathBytes = 80

// shorten cuts p to about shownPathBytes bytes (at a rune boundary) for an
// error message, marking the cut with "...".
func shorten(p string) string {
	if len(p) <= shownPathBytes {
		return p
	}
	cut := shownPathBytes
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut] + "..."
}

// Clean turns a path given by a user or a job into a clean absolute HDFS
// path. It accepts "/a/b", "hdfs:///a/b", "hdfs:/a/b" and
// "hdfs://authority/a/b": the scheme is matched without regard to case and
// the authority is ignored, since gomr's HDFS is always the cluster's own.
// A single trailing slash is dropped ("/a/b/" is "/a/b"; "/" stays "/").
// Nothing is percent-decoded: every byte after the authority is part of the
// path.
//
// It refuses, with an error wrapping ErrBadPath that names the path and
// what is wrong: an empty or relative path, another scheme, an hdfs URI
// with no path after its authority, invalid UTF-8, NUL or any other control
// character, an empty component ("/a//b", or more than one trailing
// slash), a "." or ".." component, a component holding ':' (as HDFS
// does), a component longer than MaxComponentLength bytes and a clean path
// longer than MaxPathLength bytes.
func Clean(p string) (string, error) {
	if p == "" {
		return "", badPath(p, "empty path")
	}
	if !utf8.ValidString(p) {
		for i := 0; i < len(p); {
			r, size := utf8.DecodeRuneInString(p[i:])
			if r == utf8.RuneError && size <= 1 {
				return "", badPath(p, "invalid UTF-8 at byte %d", i)
			}
			i += size
		}
	}
	for i, r := range p {
		if unicode.IsControl(r) {
			return "", badPath(p, "control character %U at byte %d", r, i)
		}
	}
	rest, err := stripScheme(p)
	if err != nil {
		return "", err
	}
	if rest == Root {
		return Root, nil
	}
	if strings.HasSuffix(rest, "/") {
		rest = rest[:len(rest)-1]
	}
	if len(rest) > MaxPathLength {
		return "", badPath(p, "%d bytes long, more than %d", len(rest), MaxPathLength)
	}
	// rest starts with "/"; each component follows one slash.
	for i, c := range strings.Split(rest[1:], "/") {
		n := i + 1
		switch {
		case c == "":
			return "", badPath(p, "component %d is empty (a double slash)", n)
		case c == "." || c == "..":
			return "", badPath(p, "component %d is %q (. and .. are not allowed)", n, c)
		case len(c) > MaxComponentLength:
			return "", badPath(p, "component %d is %d bytes long, more than %d", n, len(c), MaxComponentLength)
		case strings.Contains(c, ":"):
			return "", badPath(p, "component %d %q contains ':'", n, shorten(c))
		}
	}
	return rest, nil
}

// stripScheme returns the path part of p: p itself when it starts with
// "/", what follows "hdfs:" or "hdfs://authority" for an hdfs URI. Any
// other spelling is an error.
func stripScheme(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return p, nil
	}
	scheme, after, ok := splitScheme(p)
	if !ok {
		return "", badPath(p, "relative path (an HDFS path starts with / or hdfs://)")
	}
	if !strings.EqualFold(scheme, Scheme) {
		return "", badPath(p, "scheme %q is not %s", scheme, Scheme)
	}
	if authority, ok := strings.CutPrefix(after, "//"); ok {
		slash := strings.IndexByte(authority, '/')
		if slash < 0 {
			return "", badPath(p, "no path after %s://%s", scheme, authority)
		}
		return authority[slash:], nil
	}
	if strings.HasPrefix(after, "/") {
		return after, nil
	}
	return "", badPath(p, "relative path after %s: (an HDFS path starts with / or hdfs://)", scheme)
}

// splitScheme splits "scheme:rest" when p starts with a URI scheme (RFC
// 3986: a letter, then letters, digits, '+', '-' or '.') and a colon.
func splitScheme(p string) (scheme, rest string, ok bool) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return p[:i], p[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// URI returns the hdfs:/// form of the clean path p ("hdfs:///a/b").
func URI(p string) string {
	return Scheme + "://" + p
}

// Parent returns the folder holding the clean path p: "/a" for "/a/b", "/"
// for "/a", and "/" for "/" itself (the root is its own parent, as with
// path.Dir).
func Parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return Root
	}
	return p[:i]
}

// Base returns the last component of the clean path p: "b" for "/a/b". The
// root has no name: Base("/") is "". Join(Parent(p), Base(p)) is p for
// every clean path.
func Base(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

// Join returns the path of the entry name in the clean folder dir: "/a/b"
// for ("/a", "b"), "/b" for ("/", "b"). An empty name gives dir itself.
// Join does not check name; a name from a user is checked by passing the
// result to Clean.
func Join(dir, name string) string {
	switch {
	case name == "":
		return dir
	case dir == Root:
		return Root + name
	default:
		return dir + "/" + name
	}
}

// IsUnder reports whether the clean path p is strictly inside the clean
// folder dir, at any depth: "/a/b" and "/a/b/c" are under "/a", but "/a"
// itself and "/ab" are not. Every path but "/" is under "/".
func IsUnder(p, dir string) bool {
	if dir == Root {
		return p != Root && strings.HasPrefix(p, Root)
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}

// Ancestors returns the folders above the clean path p, the root first and
// p's parent last, not p itself: ["/", "/a", "/a/b"] for "/a/b/c", ["/"]
// for "/a", and none for "/".
func Ancestors(p string) []string {
	if p == Root {
		return nil
	}
	out := []string{Root}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}
