package jobs

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// accessEntry is one parsed line of an Apache or Nginx access log in common
// or combined format.
type accessEntry struct {
	host   []byte
	time   time.Time
	method []byte
	path   []byte
	status int
	bytes  int64
}

// accessTimeLayout is the layout of the bracketed time field.
const accessTimeLayout = "02/Jan/2006:15:04:05 -0700"

var dash = []byte("-")

// parseAccessLine parses
//
//	host ident authuser [time] "request" status bytes
//	host ident authuser [time] "request" status bytes "referer" "user-agent"
//
// Quoted fields may hold backslash escapes. A request that is not
// "METHOD PATH[ PROTOCOL]" (e.g. "-", logged for a connection that sent
// none) is kept with method and path "-". The path loses its query string.
// A size of "-" counts as 0.
func parseAccessLine(line []byte) (accessEntry, error) {
	var e accessEntry
	rest := line
	var ok bool
	if e.host, rest, ok = cutField(rest); !ok || len(e.host) == 0 {
		return e, errors.New("no host field")
	}
	if _, rest, ok = cutField(rest); !ok {
		return e, errors.New("no ident field")
	}
	if _, rest, ok = cutField(rest); !ok {
		return e, errors.New("no authuser field")
	}
	if len(rest) == 0 || rest[0] != '[' {
		return e, errors.New("no [time] field")
	}
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return e, errors.New("unterminated [time] field")
	}
	t, err := time.Parse(accessTimeLayout, string(rest[1:end]))
	if err != nil {
		return e, fmt.Errorf("bad time %q", rest[1:end])
	}
	e.time = t
	rest = rest[end+1:]
	if rest, ok = cutSpace(rest); !ok {
		return e, errors.New("no request field")
	}
	var request []byte
	if request, rest, err = cutQuoted(rest); err != nil {
		return e, fmt.Errorf("request: %w", err)
	}
	e.method, e.path = splitRequest(request)
	if rest, ok = cutSpace(rest); !ok {
		return e, errors.New("no status field")
	}
	var status, size []byte
	status, rest, _ = cutField(rest)
	if len(status) != 3 || status[0] < '1' || status[0] > '5' || !allDigits(status) {
		return e, fmt.Errorf("bad status %q", status)
	}
	e.status = int(status[0]-'0')*100 + int(status[1]-'0')*10 + int(status[2]-'0')
	size, rest = rest, nil
	if i := bytes.IndexAny(size, " \t"); i >= 0 {
		size, rest = size[:i], size[i:]
	}
	if !bytes.Equal(size, dash) {
		if len(size) == 0 || !allDigits(size) {
			return e, fmt.Errorf("bad size %q", size)
		}
		if e.bytes, err = strconv.ParseInt(string(size), 10, 64); err != nil {
			return e, fmt.Errorf("bad size %q", size)
		}
	}
	if len(bytes.TrimSpace(rest)) == 0 {
		return e, nil // common log format
	}
	if rest, ok = cutSpace(rest); !ok {
		return e, errors.New("no referer field")
	}
	if _, rest, err = cutQuoted(rest); err != nil {
		return e, fmt.Errorf("referer: %w", err)
	}
	if rest, ok = cutSpace(rest); !ok {
		return e, errors.New("no user-agent field")
	}
	if _, rest, err = cutQuoted(rest); err != nil {
		return e, fmt.Errorf("user-agent: %w", err)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return e, fmt.Errorf("unexpected text after user-agent: %q", truncate(rest, 40))
	}
	return e, nil
}

// cutField returns the bytes up to the next space and the rest after it.
func cutField(b []byte) (field, rest []byte, found bool) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil, false
	}
	return b[:i], b[i+1:], true
}

func cutSpace(b []byte) ([]byte, bool) {
	if len(b) == 0 || b[0] != ' ' {
		return b, false
	}
	return b[1:], true
}

// cutQuoted reads a double-quoted field with backslash escapes, returning
// its raw contents and the rest after the closing quote.
func cutQuoted(b []byte) (field, rest []byte, err error) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, errors.New("missing opening quote")
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[1:i], b[i+1:], nil
		}
	}
	return nil, nil, errors.New("missing closing quote")
}

// splitRequest returns the method and path (without its query string) of
// a request of 2 or 3 fields separated by white space (as bytes.Fields
// splits), or "-" and "-". It allocates nothing unless the request holds
// a byte outside ASCII.
func splitRequest(req []byte) (method, path []byte) {
	var fields [3][]byte
	n := 0
	for i := 0; i < len(req); {
		if c := req[i]; c >= utf8.RuneSelf {
			return splitUnicodeRequest(req) // white space may be a multi-byte rune
		} else if asciiSpace[c] {
			i++
			continue
		}
		j := i
		for j < len(req) && req[j] < utf8.RuneSelf && !asciiSpace[req[j]] {
			j++
		}
		if j < len(req) && req[j] >= utf8.RuneSelf {
			return splitUnicodeRequest(req)
		}
		if n == len(fields) {
			return dash, dash // more fields than a request has
		}
		fields[n] = req[i:j]
		n++
		i = j
	}
	if n < 2 {
		return dash, dash
	}
	return fields[0], cutQuery(fields[1])
}

// asciiSpace marks the ASCII bytes that unicode.IsSpace reports as white
// space.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// splitUnicodeRequest is splitRequest for a request that holds bytes
// outside ASCII.
func splitUnicodeRequest(req []byte) (method, path []byte) {
	fields := bytes.Fields(req)
	if len(fields) < 2 || len(fields) > 3 {
		return dash, dash
	}
	return fields[0], cutQuery(fields[1])
}

// cutQuery returns a path without its query string.
func cutQuery(path []byte) []byte {
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
