package web

import (
	"embed"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	pb "github.com/gomr/gomr/primary/primarypb"
)

//go:embed templates/*.html
var templateFiles embed.FS

// templates are the pages, parsed once.
var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"pct":    pct,
	"pctNum": pctNum,
	"bar":    newBar,
	"bytes":  func(n int64) string { return humanize.IBytes(uint64(max(0, n))) },
	"ts":     timestamp,
	"lower":  strings.ToLower,
	"join":   strings.Join,
	"split":  splitText,
}).ParseFS(templateFiles, "templates/*.html"))

// bar is a progress bar: a fraction done, and done of total tasks.
type bar struct {
	P           float64
	Done, Total int32
}

func newBar(p float64, done, total int32) bar { return bar{P: p, Done: done, Total: total} }

// pctNum is a fraction as a whole percentage, rounded down: a phase shows
// 100 only when it is done.
func pctNum(f float64) int {
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return int(math.Floor(min(f, 1) * 100))
}

func pct(f float64) string { return fmt.Sprintf("%d%%", pctNum(f)) }

// timestamp shows a time in UTC, to the second ("-" for none).
func timestamp(unixNano int64) string {
	if unixNano == 0 {
		return "-"
	}
	return time.Unix(0, unixNano).UTC().Format(time.DateTime)
}

// Dur is how long something that started at start ran: until end, or
// until now while it runs ("-" if it has not started).
func (l layout) Dur(start, end int64) string {
	if start == 0 {
		return "-"
	}
	if end == 0 {
		end = l.now.UnixNano()
	}
	return duration(time.Duration(max(0, end-start)))
}

// duration rounds a duration for people: milliseconds under a second,
// tenths of a second under a minute, seconds above.
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// splitText describes a map task's split: file, offset and length (and
// how many more whole files it copies).
func splitText(t *pb.Task) string {
	sp := t.GetSplit()
	if sp == nil {
		return "-"
	}
	s := fmt.Sprintf("%s [%d+%d]", sp.File, sp.Offset, sp.Length)
	if n := len(sp.More); n > 0 {
		s += fmt.Sprintf(" and %d more files", n)
	}
	return s
}
