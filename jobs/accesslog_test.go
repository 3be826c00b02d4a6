package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

// kibanaLine is a real line of the Elastic "apache_logs" example data set.
const kibanaLine = `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"`

// cutUserAgentLine is line 8899 of the same data set: its user agent lost
// its closing quote.
const cutUserAgentLine = `46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html`

func TestParseAccessLine(t *testing.T) {
	const ua = `"Mozilla/5.0 (X11; Linux x86_64)"`
	for _, tc := range []struct {
		name   string
		line   string
		host   string
		utc    string // the time in UTC, RFC 3339
		method string
		path   string
		status int
		bytes  int64
	}{
		{
			name: "common format",
			line: `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
			host: "127.0.0.1", utc: "2000-10-10T20:55:36Z", method: "GET", path: "/apache_pb.gif", status: 200, bytes: 2326,
		},
		{
			name: "combined format, real line",
			line: kibanaLine,
			host: "83.149.9.216", utc: "2015-05-17T10:05:03Z", method: "GET",
			path: "/presentations/logstash-monitorama-2013/images/kibana-search.png", status: 200, bytes: 203023,
		},
		{
			name: "combined format, bot user agent with quote-free parentheses",
			line: `66.249.73.135 - - [17/May/2015:10:05:40 +0000] "GET /blog/tags/ipv6 HTTP/1.1" 200 12251 "-" "Mozilla/5.0 (iPhone; CPU iPhone OS 6_0 like Mac OS X) (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"`,
			host: "66.249.73.135", utc: "2015-05-17T10:05:40Z", method: "GET", path: "/blog/tags/ipv6", status: 200, bytes: 12251,
		},
		{
			name: "size dash counts 0",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /css/site.css HTTP/1.1" 304 - "-" ` + ua,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "GET", path: "/css/site.css", status: 304, bytes: 0,
		},
		{
			name: "size dash in common format",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "HEAD / HTTP/1.1" 304 -`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "HEAD", path: "/", status: 304, bytes: 0,
		},
		{
			name: "query string stripped",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /search?q=a%20b&page=2?x HTTP/1.1" 200 512 "-" ` + ua,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "GET", path: "/search", status: 200, bytes: 512,
		},
		{
			name: "query string only",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "POST /?login HTTP/1.1" 302 0`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "POST", path: "/", status: 302, bytes: 0,
		},
		{
			name: "request without protocol",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /old" 200 10`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "GET", path: "/old", status: 200, bytes: 10,
		},
		{
			// The fields are kept raw: the escape stays in the path.
			name: "escaped quote in request",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /a\"b\"c HTTP/1.1" 404 99 "-" ` + ua,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "GET", path: `/a\"b\"c`, status: 404, bytes: 99,
		},
		{
			name: "escaped quotes in user agent and escaped backslash ending the referer",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /x HTTP/1.1" 200 7 "http://e.com/\\" "Agent \"quoted\" \"x\""`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "GET", path: "/x", status: 200, bytes: 7,
		},
		{
			name: "request dash",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "-" 408 0 "-" "-"`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "-", path: "-", status: 408, bytes: 0,
		},
		{
			name: "request empty",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "" 400 0 "-" "-"`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "-", path: "-", status: 400, bytes: 0,
		},
		{
			name: "request of binary junk",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "\x16\x03\x01\x00\xA5\x01" 400 166 "-" "-"`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "-", path: "-", status: 400, bytes: 166,
		},
		{
			name: "request of four words",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1 extra" 400 0`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "-", path: "-", status: 400, bytes: 0,
		},
		{
			name: "offset +0200 crosses midnight back to UTC",
			line: `10.0.0.2 - - [18/May/2015:01:30:15 +0200] "GET /late HTTP/1.1" 200 1 "-" ` + ua,
			host: "10.0.0.2", utc: "2015-05-17T23:30:15Z", method: "GET", path: "/late", status: 200, bytes: 1,
		},
		{
			name: "offset -0500 crosses the new year forward",
			line: `10.0.0.3 - - [31/Dec/2015:22:10:59 -0500] "GET /ny HTTP/1.1" 200 2`,
			host: "10.0.0.3", utc: "2016-01-01T03:10:59Z", method: "GET", path: "/ny", status: 200, bytes: 2,
		},
		{
			name: "IPv6 host",
			line: `2001:db8::ff00:42:8329 - - [17/May/2015:10:05:03 +0000] "GET /v6 HTTP/1.1" 200 3 "-" ` + ua,
			host: "2001:db8::ff00:42:8329", utc: "2015-05-17T10:05:03Z", method: "GET", path: "/v6", status: 200, bytes: 3,
		},
		{
			name: "IPv6 loopback host",
			line: `::1 - - [17/May/2015:10:05:03 +0000] "OPTIONS * HTTP/1.1" 200 0`,
			host: "::1", utc: "2015-05-17T10:05:03Z", method: "OPTIONS", path: "*", status: 200, bytes: 0,
		},
		{
			name: "trailing whitespace after user agent",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /t HTTP/1.1" 500 4 "-" ` + ua + " \t ",
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "GET", path: "/t", status: 500, bytes: 4,
		},
		{
			name: "status 100, largest size",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /big HTTP/1.1" 100 9223372036854775807`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "GET", path: "/big", status: 100, bytes: 9223372036854775807,
		},
		{
			name: "status 599",
			line: `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /x HTTP/1.1" 599 12`,
			host: "10.0.0.1", utc: "2015-05-17T10:05:03Z", method: "GET", path: "/x", status: 599, bytes: 12,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := parseAccessLine([]byte(tc.line))
			if err != nil {
				t.Fatalf("parseAccessLine(%q): %v", tc.line, err)
			}
			if string(e.host) != tc.host {
				t.Errorf("host = %q, want %q", e.host, tc.host)
			}
			if got := e.time.UTC().Format(time.RFC3339); got != tc.utc {
				t.Errorf("time = %s, want %s", got, tc.utc)
			}
			if string(e.method) != tc.method {
				t.Errorf("method = %q, want %q", e.method, tc.method)
			}
			if string(e.path) != tc.path {
				t.Errorf("path = %q, want %q", e.path, tc.path)
			}
			if e.status != tc.status {
				t.Errorf("status = %d, want %d", e.status, tc.status)
			}
			if e.bytes != tc.bytes {
				t.Errorf("bytes = %d, want %d", e.bytes, tc.bytes)
			}
			// The logagg keys of the entry: times in UTC.
			minute := tc.utc[:len("2006-01-02T15:04")]
			for field, want := range map[string]string{
				"status": strconv.Itoa(tc.status),
				"method": tc.method,
				"path":   tc.path,
				"host":   tc.host,
				"minute": minute,
				"hour":   minute[:len("2006-01-02T15")],
				"day":    minute[:len("2006-01-02")],
			} {
				if got := appendField([]byte("k|"), field, &e); string(got) != "k|"+want {
					t.Errorf("appendField(%s) = %q, want %q", field, got, "k|"+want)
				}
			}
		})
	}
}

// TestAppendFieldUTCAcrossMidnight pins the UTC keys of a +0200 time just
// after local midnight, which falls on the previous UTC day.
func TestAppendFieldUTCAcrossMidnight(t *testing.T) {
	e, err := parseAccessLine([]byte(`10.0.0.2 - - [01/Mar/2016:00:59:59 +0200] "GET / HTTP/1.1" 200 1`))
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"minute": "2016-02-29T22:59", // leap day
		"hour":   "2016-02-29T22",
		"day":    "2016-02-29",
	} {
		if got := string(appendField(nil, field, &e)); got != want {
			t.Errorf("appendField(%s) = %q, want %q", field, got, want)
		}
	}
}

func TestParseAccessLineMalformed(t *testing.T) {
	const pre = `10.0.0.1 - - [17/May/2015:10:05:03 +0000] `
	const req = `"GET /x HTTP/1.1"`
	for _, tc := range []struct {
		name string
		line string
		want string // fragment of the error text
	}{
		{"user agent cut short (real line 8899)", cutUserAgentLine, "user-agent: missing closing quote"},
		{"status 2000", pre + req + ` 2000 12 "-" "-"`, `bad status "2000"`},
		{"status abc", pre + req + ` abc 12 "-" "-"`, `bad status "abc"`},
		{"status 600", pre + req + ` 600 12 "-" "-"`, `bad status "600"`},
		{"status 099", pre + req + ` 099 12`, `bad status "099"`},
		{"status 20", pre + req + ` 20 12`, `bad status "20"`},
		{"status 2x0", pre + req + ` 2x0 12`, `bad status "2x0"`},
		{"one byte after size", pre + req + ` 200 12 x`, "referer: missing opening quote"},
		{"lone quote after size", pre + req + ` 200 12 "`, "referer: missing closing quote"},
		{"status missing", pre + req + ` `, `bad status ""`},
		{"size letters", pre + req + ` 200 12k "-" "-"`, `bad size "12k"`},
		{"size negative", pre + req + ` 200 -5 "-" "-"`, `bad size "-5"`},
		{"size overflows int64", pre + req + ` 200 9223372036854775808`, `bad size "9223372036854775808"`},
		{"size missing", pre + req + ` 200`, `bad size ""`},
		{"size empty", pre + req + ` 200 `, `bad size ""`},
		{"hour 25", `10.0.0.1 - - [17/May/2015:25:05:03 +0000] ` + req + ` 200 1`, `bad time "17/May/2015:25:05:03 +0000"`},
		{"bad month", `10.0.0.1 - - [17/Mai/2015:10:05:03 +0000] ` + req + ` 200 1`, `bad time "17/Mai/2015:10:05:03 +0000"`},
		{"no zone", `10.0.0.1 - - [17/May/2015:10:05:03] ` + req + ` 200 1`, `bad time "17/May/2015:10:05:03"`},
		{"ISO time", `10.0.0.1 - - [2015-05-17T10:05:03Z] ` + req + ` 200 1`, `bad time "2015-05-17T10:05:03Z"`},
		{"unterminated time", `10.0.0.1 - - [17/May/2015:10:05:03 +0000 ` + req + ` 200 1`, "unterminated [time] field"},
		{"empty line", ``, "no host field"},
		{"host only", `10.0.0.1`, "no host field"},
		{"leading space", ` 10.0.0.1 - - [17/May/2015:10:05:03 +0000] ` + req + ` 200 1`, "no host field"},
		{"host and ident only", `10.0.0.1 -`, "no ident field"},
		{"host, ident and authuser only", `10.0.0.1 - -`, "no authuser field"},
		{"time not bracketed", `10.0.0.1 - - 17/May/2015:10:05:03 +0000 ` + req + ` 200 1`, "no [time] field"},
		{"nothing after time", `10.0.0.1 - - [17/May/2015:10:05:03 +0000]`, "no request field"},
		{"request not quoted", pre + `GET /x HTTP/1.1 200 1`, "request: missing opening quote"},
		{"request not closed", pre + `"GET /x HTTP/1.1 200 1`, "request: missing closing quote"},
		{"request closing quote escaped", pre + `"GET /x HTTP/1.1\" 200 1`, "request: missing closing quote"},
		{"nothing after request", pre + req, "no status field"},
		{"referer not quoted", pre + req + ` 200 1 http://e.com/ "-"`, "referer: missing opening quote"},
		{"referer not closed", pre + req + ` 200 1 "http://e.com/`, "referer: missing closing quote"},
		{"user agent missing", pre + req + ` 200 1 "-"`, "no user-agent field"},
		{"user agent not quoted", pre + req + ` 200 1 "-" curl/8.5.0`, "user-agent: missing opening quote"},
		{"user agent ends in a backslash", pre + req + ` 200 1 "-" "curl\"`, "user-agent: missing closing quote"},
		{"trailing garbage", pre + req + ` 200 1 "-" "curl/8.5.0" extra`, `unexpected text after user-agent: " extra"`},
		{"trailing quoted field", pre + req + ` 200 1 "-" "curl/8.5.0" "x-forwarded-for"`, `unexpected text after user-agent: " \"x-forwarded-for\""`},
		{
			"long trailing garbage is cut to 40 bytes",
			pre + req + ` 200 1 "-" "curl/8.5.0" 0123456789012345678901234567890123456789TAIL`,
			`unexpected text after user-agent: " 012345678901234567890123456789012345678"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAccessLine([]byte(tc.line))
			if err == nil {
				t.Fatalf("parseAccessLine(%q) succeeded, want an error containing %q", tc.line, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseAccessLine(%q) error %q, want it to contain %q", tc.line, err, tc.want)
			}
		})
	}
}

// logLine is an access-log line the test builds, so that the expected
// logagg output is computed from these fields, not by the parser.
type logLine struct {
	host, ts, method, path, query string
	status                        int
	size                          int64 // -1 writes "-"
	utcHour                       string
}

func (l logLine) String() string {
	size := "-"
	if l.size >= 0 {
		size = strconv.FormatInt(l.size, 10)
	}
	return fmt.Sprintf(`%s - - [%s] "%s %s%s HTTP/1.1" %d %s "-" "Mozilla/5.0 (X11; Linux x86_64) \"test\""`,
		l.host, l.ts, l.method, l.path, l.query, l.status, size)
}

func TestLogAggSequential(t *testing.T) {
	good := []logLine{
		{"10.0.0.1", "17/May/2015:10:05:03 +0000", "GET", "/", "", 200, 1000, "2015-05-17T10"},
		{"10.0.0.2", "17/May/2015:10:59:59 +0000", "GET", "/a", "?x=1", 200, 250, "2015-05-17T10"},
		{"10.0.0.1", "17/May/2015:11:00:00 +0000", "POST", "/api", "", 201, 17, "2015-05-17T11"},
		{"2001:db8::1", "17/May/2015:13:15:00 +0200", "GET", "/", "", 304, -1, "2015-05-17T11"},
		{"10.0.0.3", "18/May/2015:01:30:15 +0200", "GET", "/late", "", 200, 5, "2015-05-17T23"},
		{"10.0.0.3", "17/May/2015:23:59:00 +0000", "HEAD", "/", "", 200, 0, "2015-05-17T23"},
		{"10.0.0.4", "18/May/2015:00:00:00 +0000", "GET", "/missing", "", 404, 321, "2015-05-18T00"},
		{"10.0.0.4", "17/May/2015:19:00:01 -0500", "GET", "/missing", "?q", 404, 321, "2015-05-18T00"},
		{"10.0.0.5", "17/May/2015:10:05:03 +0000", "POST", "/api", "", 500, 42, "2015-05-17T10"},
		{"10.0.0.5", "17/May/2015:10:06:03 +0000", "GET", "/", "", 200, 3000, "2015-05-17T10"},
	}
	malformed := []struct{ line, reason string }{
		{cutUserAgentLine, "user-agent: missing closing quote"},
		{`10.0.0.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 2000 5 "-" "-"`, `bad status "2000"`},
		{``, "no host field"},
		{`10.0.0.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 abc`, `bad size "abc"`},
		{`10.0.0.9 - - [32/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1`, `bad time "32/May/2015:10:05:03 +0000"`},
		{`10.0.0.9 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-" junk`, `unexpected text after user-agent: " junk"`},
		{`garbage`, "no host field"},
	}
	// The file's lines, 1-based: malformed lines at fixed places among the good ones.
	badAt := map[int]int{3: 0, 5: 1, 6: 2, 11: 3, 12: 4, 15: 5, 17: 6} // line number -> malformed index
	var lines []string
	for n, gi := 1, 0; n <= len(good)+len(malformed); n++ {
		if mi, ok := badAt[n]; ok {
			lines = append(lines, malformed[mi].line)
			continue
		}
		lines = append(lines, good[gi].String())
		gi++
	}
	text := strings.Join(lines, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	// Line 3 (malformed) starts exactly at the second split; other split
	// boundaries fall inside lines.
	lineStart := map[int64]bool{}
	off := int64(0)
	for _, l := range lines {
		lineStart[off] = true
		off += int64(len(l)) + 1
	}
	splitSize := int64(len(strings.Join(lines[:2], "\n")) + 1)
	splits, err := mapreduce.PlanSplits(files, splitSize)
	if err != nil {
		t.Fatal(err)
	}
	midLine := 0
	for _, s := range splits {
		if !lineStart[s.Offset] {
			midLine++
		}
	}
	if len(splits) < 5 || splits[1].Offset != splitSize || midLine == 0 {
		t.Fatalf("test setup: %d splits, %d starting inside a line: %+v", len(splits), midLine, splits)
	}

	// Expected rejects: each lands in the file of the split owning the
	// line's first byte, with its line number in the whole file.
	wantRejects := map[string]string{}
	off = 0
	for i, l := range lines {
		if mi, ok := badAt[i+1]; ok {
			owner := slices.IndexFunc(splits, func(s mapreduce.Split) bool { return s.Offset <= off && off < s.Offset+s.Length })
			if owner < 0 {
				t.Fatalf("test setup: no split owns offset %d", off)
			}
			name := mapreduce.PartName('m', owner)
			wantRejects[name] += fmt.Sprintf("%s\t%d\t%s\t%s\n", path, i+1, malformed[mi].reason, l)
		}
		off += int64(len(l)) + 1
	}
	if len(wantRejects) < 3 {
		t.Fatalf("test setup: rejects in %d splits, want several", len(wantRejects))
	}
	t.Logf("%d splits of %d bytes; rejects expected in %q", len(splits), splitSize, sortedKeys(wantRejects))

	for _, tc := range []struct {
		groupBy string
		key     func(l logLine) string
		literal []string // the expected output spelled out, when given
	}{
		{"status,method", func(l logLine) string { return fmt.Sprintf("%d|%s", l.status, l.method) }, []string{
			"200|GET\t4\t4255",
			"200|HEAD\t1\t0",
			"201|POST\t1\t17",
			"304|GET\t1\t0",
			"404|GET\t2\t642",
			"500|POST\t1\t42",
		}},
		{"hour", func(l logLine) string { return l.utcHour }, []string{
			"2015-05-17T10\t4\t4292",
			"2015-05-17T11\t2\t17",
			"2015-05-17T23\t2\t5",
			"2015-05-18T00\t2\t642",
		}},
		{" path , host ", func(l logLine) string { return l.path + "|" + l.host }, nil},
	} {
		t.Run(strings.ReplaceAll(tc.groupBy, " ", ""), func(t *testing.T) {
			def, err := Lookup("logagg")
			if err != nil {
				t.Fatal(err)
			}
			job, err := def.Build(map[string]string{"group-by": tc.groupBy})
			if err != nil {
				t.Fatal(err)
			}
			type sums struct{ requests, bytes int64 }
			agg := map[string]sums{}
			for _, l := range good {
				s := agg[tc.key(l)]
				s.requests++
				s.bytes += max(l.size, 0)
				agg[tc.key(l)] = s
			}
			var want []string
			for k, s := range agg {
				want = append(want, fmt.Sprintf("%s\t%d\t%d", k, s.requests, s.bytes))
			}
			slices.Sort(want)
			if tc.literal != nil && !slices.Equal(want, tc.literal) {
				t.Fatalf("test setup: computed %q, spelled out %q", want, tc.literal)
			}

			out, got, c := runSequential(t, job, splits, 2)
			if !slices.Equal(got, want) {
				t.Errorf("output lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for name, want := range map[string]int64{
				MalformedRecords:              int64(len(malformed)),
				mapreduce.RejectedRecords:     int64(len(malformed)),
				mapreduce.MapInputRecords:     int64(len(lines)),
				mapreduce.MapOutputRecords:    int64(len(good)),
				mapreduce.ReduceOutputRecords: int64(len(want)),
				mapreduce.ReduceInputGroups:   int64(len(want)),
				mapreduce.MapInputBytes:       int64(len(text)),
			} {
				if got := c.Get(name); got != want {
					t.Errorf("counter %s = %d, want %d", name, got, want)
				}
			}

			entries, err := os.ReadDir(filepath.Join(out, mapreduce.RejectsDir))
			if err != nil {
				t.Fatal(err)
			}
			gotRejects := map[string]string{}
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(out, mapreduce.RejectsDir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				gotRejects[e.Name()] = string(b)
			}
			for _, name := range sortedKeys(wantRejects) {
				if gotRejects[name] != wantRejects[name] {
					t.Errorf("%s/%s:\n%q\nwant:\n%q", mapreduce.RejectsDir, name, gotRejects[name], wantRejects[name])
				}
			}
			for _, name := range sortedKeys(gotRejects) {
				if _, ok := wantRejects[name]; !ok {
					t.Errorf("unexpected rejects file %s/%s: %q", mapreduce.RejectsDir, name, gotRejects[name])
				}
			}
		})
	}
}

// TestParseAccessLineTrailingWhitespace: the parser ignores any whitespace
// after the user agent of a combined-format line, so the same whitespace
// after the size of a common-format line should be ignored too.
func TestParseAccessLineTrailingWhitespace(t *testing.T) {
	const common = `10.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET /x HTTP/1.1" 200 12`
	const combined = common + ` "-" "curl/8.5.0"`
	for _, ws := range []string{" ", "  ", "\t", " \t "} {
		for _, line := range []string{combined + ws, common + ws} {
			e, err := parseAccessLine([]byte(line))
			if err != nil {
				t.Errorf("parseAccessLine(%q): %v", line, err)
				continue
			}
			if e.status != 200 || e.bytes != 12 || string(e.path) != "/x" {
				t.Errorf("parseAccessLine(%q) = status %d, bytes %d, path %q", line, e.status, e.bytes, e.path)
			}
		}
	}
}
