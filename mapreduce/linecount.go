package mapreduce

import (
	"bytes"
	"io"
	"sync"
)

// lineSpans remembers, for the files this process's tasks read, how many
// newlines lie between offsets where splits' first lines start: a split
// read to its end records its own span (its first line's offset, the
// next split's, and the lines between), and a count of the newlines
// before a split records its span too. A task that needs the line number
// of its split's first line (for a reject or an error) then reads only
// the bytes no span covers, instead of every split before its own.
//
// A file is known by its path, size and modification time as planned
// (Split.FileSize, Split.ModTime), which the reader checks when it opens
// the file and when it reaches the split's end; a split planned without
// them records nothing.
type lineSpans struct {
	mu    sync.Mutex
	files map[spanFile]map[int64][]lineSpan // a file's spans, by start
	order []spanFile                        // files in the order they came, to forget the oldest
}

// maxSpanFiles is how many files' spans a process keeps.
const maxSpanFiles = 4096

// spanFile identifies a version of a file.
type spanFile struct {
	path      string
	size, mod int64
}

// lineSpan is a span of a file: it ends at end and holds that many
// newlines.
type lineSpan struct{ end, newlines int64 }

// knownLines holds the spans of the files read by this process.
var knownLines = &lineSpans{files: map[spanFile]map[int64][]lineSpan{}}

// spanFileOf identifies the file of a split, if the split was planned from
// a listing.
func spanFileOf(s Split) (spanFile, bool) {
	return spanFile{path: s.File, size: s.FileSize, mod: s.ModTime}, s.FileSize > 0 && s.ModTime != 0
}

// add records that [start, end) of a file holds newlines newlines.
func (ls *lineSpans) add(f spanFile, start, end, newlines int64) {
	if end <= start {
		return
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	spans := ls.files[f]
	if spans == nil {
		if len(ls.order) >= maxSpanFiles {
			delete(ls.files, ls.order[0])
			ls.order = ls.order[1:]
		}
		spans = map[int64][]lineSpan{}
		ls.files[f] = spans
		ls.order = append(ls.order, f)
	}
	for _, s := range spans[start] {
		if s.end == end {
			return
		}
	}
	spans[start] = append(spans[start], lineSpan{end: end, newlines: newlines})
}

// known follows a file's spans from its start towards limit, taking at
// each step the longest span that does not pass limit, and returns how
// far they reach and the newlines before that.
func (ls *lineSpans) known(f spanFile, limit int64) (off, newlines int64) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	spans := ls.files[f]
	for off < limit {
		next := lineSpan{end: off}
		for _, s := range spans[off] {
			if s.end <= limit && s.end > next.end {
				next = s
			}
		}
		if next.end == off {
			break
		}
		off, newlines = next.end, newlines+next.newlines
	}
	return off, newlines
}

// newlinesBefore returns the newlines in the first limit bytes of a
// file, read from r where no span of f (when ok) covers them.
func (ls *lineSpans) newlinesBefore(f spanFile, ok bool, r io.ReaderAt, limit int64) (int64, error) {
	var off, n int64
	if ok {
		off, n = ls.known(f, limit)
	}
	if off == limit {
		return n, nil
	}
	m, end, err := countNewlines(r, off, limit)
	if err != nil {
		return 0, err
	}
	if ok && end == limit {
		ls.add(f, off, limit, m)
	}
	return n + m, nil
}

// countNewlines counts the newlines in [from, limit) of r, or up to its
// end if it ends before limit (which it returns).
func countNewlines(r io.ReaderAt, from, limit int64) (n, end int64, err error) {
	buf := make([]byte, min(256<<10, limit-from))
	for end = from; end < limit; {
		got, err := r.ReadAt(buf[:min(int64(len(buf)), limit-end)], end)
		n += int64(bytes.Count(buf[:got], []byte{'\n'}))
		end += int64(got)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return n, end, nil
}
