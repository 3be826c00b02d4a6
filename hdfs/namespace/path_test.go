package namespace

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCleanAccepts(t *testing.T) {
	long := strings.Repeat("x", MaxComponentLength)
	// Components of 255 bytes and slashes: 31 of them make 7936 bytes; one
	// more of 63 makes exactly MaxPathLength.
	var b strings.Builder
	for range 31 {
		b.WriteString("/" + long)
	}
	b.WriteString("/" + strings.Repeat("y", MaxPathLength-b.Len()-1))
	maxPath := b.String()
	if len(maxPath) != MaxPathLength {
		t.Fatalf("test path is %d bytes", len(maxPath))
	}

	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/a", "/a"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b"},
		{"hdfs:///", "/"},
		{"hdfs:///a/b", "/a/b"},
		{"hdfs:///a/b/", "/a/b"},
		{"hdfs://namenode/a/b", "/a/b"},
		{"hdfs://namenode:8020/a/b", "/a/b"},
		{"hdfs://user@[::1]:8020/a", "/a"},
		{"hdfs://anything/", "/"},
		{"HDFS:///a", "/a"},
		{"hdfs:/a/b", "/a/b"},
		{"/.a/..b/.../a.b", "/.a/..b/.../a.b"},
		{"/with space/ü/日本語/a-b_c+d=e,f;g@h?i#j%20k", "/with space/ü/日本語/a-b_c+d=e,f;g@h?i#j%20k"},
		{"/" + long, "/" + long},
		{maxPath, maxPath},
		{maxPath + "/", maxPath},
		{"hdfs://nn" + maxPath, maxPath},
	} {
		got, err := Clean(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", shorten(tc.in), shorten(got), err, shorten(tc.want))
		}
	}
}

func TestCleanRefuses(t *testing.T) {
	long := strings.Repeat("x", MaxComponentLength+1)
	tooLong := strings.Repeat("/"+strings.Repeat("x", 99), 80) + "/y" // 8002 bytes
	for _, tc := range []struct{ in, want string }{
		{"", `bad HDFS path "": empty path`},
		{"a", `bad HDFS path "a": relative path (an HDFS path starts with / or hdfs://)`},
		{"a/b", `bad HDFS path "a/b": relative path (an HDFS path starts with / or hdfs://)`},
		{"./a", `bad HDFS path "./a": relative path (an HDFS path starts with / or hdfs://)`},
		{"1a:/b", `bad HDFS path "1a:/b": relative path (an HDFS path starts with / or hdfs://)`},
		{"hdfs:a/b", `bad HDFS path "hdfs:a/b": relative path after hdfs: (an HDFS path starts with / or hdfs://)`},
		{"hdfs:", `bad HDFS path "hdfs:": relative path after hdfs: (an HDFS path starts with / or hdfs://)`},
		{"s3://bucket/key", `bad HDFS path "s3://bucket/key": scheme "s3" is not hdfs`},
		{"file:///tmp/x", `bad HDFS path "file:///tmp/x": scheme "file" is not hdfs`},
		{"a:b", `bad HDFS path "a:b": scheme "a" is not hdfs`},
		{"hdfs://namenode", `bad HDFS path "hdfs://namenode": no path after hdfs://namenode`},
		{"hdfs://", `bad HDFS path "hdfs://": no path after hdfs://`},
		{"/a//b", `bad HDFS path "/a//b": component 2 is empty (a double slash)`},
		{"//a", `bad HDFS path "//a": component 1 is empty (a double slash)`},
		{"//", `bad HDFS path "//": component 1 is empty (a double slash)`},
		{"/a//", `bad HDFS path "/a//": component 2 is empty (a double slash)`},
		{"hdfs:////a", `bad HDFS path "hdfs:////a": component 1 is empty (a double slash)`},
		{"/.", `bad HDFS path "/.": component 1 is "." (. and .. are not allowed)`},
		{"/a/./b", `bad HDFS path "/a/./b": component 2 is "." (. and .. are not allowed)`},
		{"/a/../b", `bad HDFS path "/a/../b": component 2 is ".." (. and .. are not allowed)`},
		{"/a/..", `bad HDFS path "/a/..": component 2 is ".." (. and .. are not allowed)`},
		{"/a/../", `bad HDFS path "/a/../": component 2 is ".." (. and .. are not allowed)`},
		{"hdfs:///a/../b", `bad HDFS path "hdfs:///a/../b": component 2 is ".." (. and .. are not allowed)`},
		{"/a\xffb", `bad HDFS path "/a\xffb": invalid UTF-8 at byte 2`},
		{"/a/\xc3", `bad HDFS path "/a/\xc3": invalid UTF-8 at byte 3`},
		{"/a\x00b", `bad HDFS path "/a\x00b": control character U+0000 at byte 2`},
		{"/a\nb", `bad HDFS path "/a\nb": control character U+000A at byte 2`},
		{"/a\tb", `bad HDFS path "/a\tb": control character U+0009 at byte 2`},
		{"/a\x7f", `bad HDFS path "/a\x7f": control character U+007F at byte 2`},
		{"/ü\u0085", `bad HDFS path "/ü\u0085": control character U+0085 at byte 3`},
		{"hdfs://n\x01n/a", `bad HDFS path "hdfs://n\x01n/a": control character U+0001 at byte 8`},
		{"/a:b", `bad HDFS path "/a:b": component 1 "a:b" contains ':'`},
		{"/a/b:", `bad HDFS path "/a/b:": component 2 "b:" contains ':'`},
		{"hdfs:///a/c:d", `bad HDFS path "hdfs:///a/c:d": component 2 "c:d" contains ':'`},
		{"/a/" + long, `bad HDFS path "/a/` + long[:77] + `...": component 2 is 256 bytes long, more than 255`},
		{tooLong, `bad HDFS path "` + tooLong[:80] + `...": 8002 bytes long, more than 8000`},
	} {
		got, err := Clean(tc.in)
		if err == nil {
			t.Errorf("Clean(%q) = %q, nil; want error %s", shorten(tc.in), got, tc.want)
			continue
		}
		if got != "" {
			t.Errorf("Clean(%q) = %q with an error", shorten(tc.in), got)
		}
		if !errors.Is(err, ErrBadPath) {
			t.Errorf("Clean(%q) error %v does not wrap ErrBadPath", shorten(tc.in), err)
		}
		if err.Error() != tc.want {
			t.Errorf("Clean(%q) error\n got %s\nwant %s", shorten(tc.in), err, tc.want)
		}
	}
}

func TestCleanIsIdempotent(t *testing.T) {
	for _, in := range []string{"/", "/a/b/", "hdfs://nn/a/b", "hdfs:///x", "/ü/日本"} {
		once, err := Clean(in)
		if err != nil {
			t.Fatalf("Clean(%q): %v", in, err)
		}
		twice, err := Clean(once)
		if err != nil || twice != once {
			t.Errorf("Clean(Clean(%q)) = %q, %v; want %q", in, twice, err, once)
		}
		if back, err := Clean(URI(once)); err != nil || back != once {
			t.Errorf("Clean(URI(%q)) = %q, %v", once, back, err)
		}
	}
}

func TestShortenKeepsRunes(t *testing.T) {
	p := "/" + strings.Repeat("ü", 100) // a cut at byte 80 splits a rune
	s := shorten(p)
	if !strings.HasSuffix(s, "...") || len(s) > shownPathBytes+3 {
		t.Fatalf("shorten = %q", s)
	}
	if body := strings.TrimSuffix(s, "..."); !strings.HasPrefix(p, body) || strings.ContainsRune(body, '\uFFFD') || len(body) != 79 {
		t.Errorf("shorten cut %q", body)
	}
}

func TestPathFunctions(t *testing.T) {
	for _, tc := range []struct {
		p, uri, parent, base string
		ancestors            []string
	}{
		{"/", "hdfs:///", "/", "", nil},
		{"/a", "hdfs:///a", "/", "a", []string{"/"}},
		{"/a/b", "hdfs:///a/b", "/a", "b", []string{"/", "/a"}},
		{"/a/b/c", "hdfs:///a/b/c", "/a/b", "c", []string{"/", "/a", "/a/b"}},
		{"/ü/日本語", "hdfs:///ü/日本語", "/ü", "日本語", []string{"/", "/ü"}},
	} {
		if got := URI(tc.p); got != tc.uri {
			t.Errorf("URI(%q) = %q; want %q", tc.p, got, tc.uri)
		}
		if got := Parent(tc.p); got != tc.parent {
			t.Errorf("Parent(%q) = %q; want %q", tc.p, got, tc.parent)
		}
		if got := Base(tc.p); got != tc.base {
			t.Errorf("Base(%q) = %q; want %q", tc.p, got, tc.base)
		}
		if got := Join(Parent(tc.p), Base(tc.p)); got != tc.p {
			t.Errorf("Join(Parent(%q), Base(%q)) = %q", tc.p, tc.p, got)
		}
		if got := Ancestors(tc.p); !slices.Equal(got, tc.ancestors) {
			t.Errorf("Ancestors(%q) = %q; want %q", tc.p, got, tc.ancestors)
		}
		for _, a := range Ancestors(tc.p) {
			if !IsUnder(tc.p, a) {
				t.Errorf("IsUnder(%q, ancestor %q) = false", tc.p, a)
			}
		}
	}
}

func TestJoin(t *testing.T) {
	for _, tc := range []struct{ dir, name, want string }{
		{"/", "a", "/a"},
		{"/a", "b", "/a/b"},
		{"/a/b", "c.txt", "/a/b/c.txt"},
		{"/a", "", "/a"},
		{"/", "", "/"},
	} {
		if got := Join(tc.dir, tc.name); got != tc.want {
			t.Errorf("Join(%q, %q) = %q; want %q", tc.dir, tc.name, got, tc.want)
		}
	}
}

func TestIsUnder(t *testing.T) {
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/a", "/", true},
		{"/a/b/c", "/", true},
		{"/", "/", false},
		{"/a/b", "/a", true},
		{"/a/b/c", "/a", true},
		{"/a/b/c", "/a/b", true},
		{"/a", "/a", false},
		{"/ab", "/a", false},
		{"/ab/c", "/a", false},
		{"/a", "/a/b", false},
		{"/", "/a", false},
		{"/b/a", "/a", false},
	} {
		if got := IsUnder(tc.p, tc.dir); got != tc.want {
			t.Errorf("IsUnder(%q, %q) = %v; want %v", tc.p, tc.dir, got, tc.want)
		}
	}
}
