package jobs

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzParseAccessLine checks parseAccessLine on arbitrary lines: it never
// panics; a line it parses has a host that starts the line and holds no
// space, a method and path that are "-" or taken from the line (the path
// without a query string), a status of 100 to 599 and a size of at least
// 0; and a canonical combined-format line written from the parsed fields
// parses back to the same fields.
func FuzzParseAccessLine(f *testing.F) {
	for _, line := range []string{
		kibanaLine,
		cutUserAgentLine,
		`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /search?q=a%20b&page=2?x HTTP/1.1" 200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "HEAD / HTTP/1.1" 304 -`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /a\"b\"c HTTP/1.1" 404 99 "-" "x"`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /x HTTP/1.1" 200 7 "http://e.com/\\" "Agent \"quoted\" \"x\""`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "-" 408 0 "-" "-"`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "\x16\x03\x01\x00\xA5\x01" 400 166 "-" "-"`,
		`10.0.0.2 - - [18/May/2015:01:30:15 +0200] "GET /late HTTP/1.1" 200 1 "-" "ua"` + " \t ",
		`::1 - - [17/May/2015:10:05:03 +0000] "OPTIONS * HTTP/1.1" 200 0`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /big HTTP/1.1" 100 9223372036854775807`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /big HTTP/1.1" 100 9223372036854775808`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /x HTTP/1.1" 600 1`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000 "GET /x HTTP/1.1" 200 1`,
		`10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET ?q=1 HTTP/1.1" 200 1`,
		"0   [01/MAY/0000:0:00:00 +0000] \"0 ?\" 100 0",
		``,
		` - - [x]`,
	} {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := parseAccessLine(line)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("parseAccessLine(%q): empty error", line)
			}
			return
		}
		if len(e.host) == 0 || !bytes.HasPrefix(line, e.host) || bytes.IndexByte(e.host, ' ') >= 0 {
			t.Fatalf("parseAccessLine(%q): host %q does not start the line or holds a space", line, e.host)
		}
		dashed := bytes.Equal(e.method, dash) && bytes.Equal(e.path, dash)
		if !dashed {
			if len(e.method) == 0 || !bytes.Contains(line, e.method) {
				t.Fatalf("parseAccessLine(%q): method %q is not in the line", line, e.method)
			}
			if !bytes.Contains(line, e.path) || bytes.IndexByte(e.path, '?') >= 0 {
				t.Fatalf("parseAccessLine(%q): path %q is not in the line or keeps its query", line, e.path)
			}
		}
		if e.status < 100 || e.status > 599 {
			t.Fatalf("parseAccessLine(%q): status %d", line, e.status)
		}
		if e.bytes < 0 {
			t.Fatalf("parseAccessLine(%q): size %d", line, e.bytes)
		}
		request := "-"
		if !dashed {
			// A target that is only a query ("GET ?q") has an empty
			// path; "?" writes it back, as "" would vanish between
			// the spaces.
			target := e.path
			if len(target) == 0 {
				target = []byte("?")
			}
			request = fmt.Sprintf("%s %s HTTP/1.1", e.method, target)
		}
		canon := fmt.Sprintf(`%s - - [%s] "%s" %d %d "-" "fuzz"`, e.host, e.time.Format(accessTimeLayout), request, e.status, e.bytes)
		again, err := parseAccessLine([]byte(canon))
		if err != nil {
			t.Fatalf("parseAccessLine(%q) parsed, but its canonical form %q does not: %v", line, canon, err)
		}
		if !bytes.Equal(again.host, e.host) || !again.time.Equal(e.time) || !bytes.Equal(again.method, e.method) ||
			!bytes.Equal(again.path, e.path) || again.status != e.status || again.bytes != e.bytes {
			t.Fatalf("parseAccessLine(%q) = %+v, but its canonical form %q parses to %+v", line, e, canon, again)
		}
	})
}

// FuzzSplitRequest checks splitRequest against its definition: the
// request split by bytes.Fields, two or three fields giving the method
// and the path without its query string, any other count "-" and "-".
func FuzzSplitRequest(f *testing.F) {
	for _, req := range []string{
		"GET / HTTP/1.1", "GET /a?b=c HTTP/1.0", "OPTIONS *", "-", "", "  GET\t/x  ", "GET /x HTTP/1.1 extra",
		"GET /caf\u00e9 HTTP/1.1", "GET\u00a0/x HTTP/1.1", "GET /x\u2003HTTP/1.1 y", "GET /\xff\xfe HTTP/1.1", "\x16\x03\x01\x00\xa5\x01",
		"GET\v/x\fHTTP/1.1\r", "GET /x\u0085", "A B C D\u3000",
	} {
		f.Add([]byte(req))
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		wantMethod, wantPath := dash, dash
		if fields := bytes.Fields(req); len(fields) == 2 || len(fields) == 3 {
			path, _, _ := bytes.Cut(fields[1], []byte("?"))
			wantMethod, wantPath = fields[0], path
		}
		method, path := splitRequest(req)
		if !bytes.Equal(method, wantMethod) || !bytes.Equal(path, wantPath) {
			t.Fatalf("splitRequest(%q) = %q, %q; want %q, %q", req, method, path, wantMethod, wantPath)
		}
	})
}
