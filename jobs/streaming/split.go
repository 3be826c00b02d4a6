package streaming

import (
	"errors"
	"fmt"
	"strings"
)

// SplitCommand splits a command line into words with the quoting rules of
// a POSIX shell, without running one and without any expansion:
//
//   - spaces, tabs and newlines separate words;
//   - 'single quotes' keep everything up to the next single quote as is;
//   - "double quotes" keep everything up to the next unescaped double
//     quote; inside them a backslash escapes only \ " $ ` and newline,
//     and stays a backslash before any other character;
//   - outside quotes a backslash makes the next character plain, and a
//     backslash-newline joins lines;
//   - quotes next to other characters join them into one word ('a'b"c" is
//     abc), and quotes with nothing between them make an empty word.
//
// Every other character is plain: $VAR, globs, pipes, redirections, ";",
// "&" and "#" reach the program as they are written. A command that needs a
// shell names one: bash -c '...'.
func SplitCommand(line string) ([]string, error) {
	var words []string
	var w []byte
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch c {
		case ' ', '\t', '\n':
			if inWord {
				words = append(words, string(w))
				w, inWord = w[:0], false
			}
		case '\\':
			if i+1 == len(line) {
				return nil, errors.New("command line ends with a backslash")
			}
			i++
			inWord = true
			if line[i] != '\n' {
				w = append(w, line[i])
			} else if len(w) == 0 {
				inWord = false // a line continuation between words
			}
		case '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("command line has an unterminated single quote at byte %d", i)
			}
			w = append(w, line[i+1:i+1+j]...)
			i += j + 1
			inWord = true
		case '"':
			start := i
			inWord = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\\\"$`\n", line[i+1]) >= 0 {
					i++
					if line[i] == '\n' {
						continue
					}
				}
				w = append(w, line[i])
			}
			if i == len(line) {
				return nil, fmt.Errorf("command line has an unterminated double quote at byte %d", start)
			}
		default:
			w = append(w, c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, string(w))
	}
	if len(words) == 0 {
		return nil, errors.New("empty command line")
	}
	return words, nil
}
