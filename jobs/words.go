package jobs

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// asciiLetter marks the ASCII bytes unicode.IsLetter accepts.
var asciiLetter = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = unicode.IsLetter(rune(c))
	}
	return t
}()

// forEachWord calls fn for every word of line: every maximal run of Unicode
// letters (unicode.IsLetter). Bytes that are not valid UTF-8 separate words.
// The word slice aliases line.
func forEachWord(line []byte, fn func(word []byte) error) error {
	start := -1
	for i := 0; i < len(line); {
		c := line[i]
		letter, size := false, 1
		if c < utf8.RuneSelf {
			letter = asciiLetter[c]
		} else {
			var r rune
			r, size = utf8.DecodeRune(line[i:])
			letter = r != utf8.RuneError && unicode.IsLetter(r)
		}
		if letter {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			if err := fn(line[start:i]); err != nil {
				return err
			}
			start = -1
		}
		i += size
	}
	if start >= 0 {
		return fn(line[start:])
	}
	return nil
}

// lowerInto folds word to lower case, reusing buf.
func lowerInto(buf, word []byte) []byte {
	for _, c := range word {
		if c >= utf8.RuneSelf {
			return append(buf[:0], bytes.ToLower(word)...)
		}
	}
	buf = append(buf[:0], word...)
	for i, c := range buf {
		if 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	return buf
}
