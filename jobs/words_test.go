package jobs

import (
	"bytes"
	"errors"
	"flag"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

var wordsSeed = flag.Uint64("words.seed", 0, "seed of TestForEachWordMatchesFieldsFunc (0: pick one from the clock)")

// oracleWords is the plainest correct tokenizer: maximal runs of
// unicode.IsLetter runes. strings.FieldsFunc decodes an invalid UTF-8 byte
// as utf8.RuneError (width 1), which is not a letter, so such a byte
// separates words, as forEachWord documents.
func oracleWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
}

func collectWords(t testing.TB, line []byte) []string {
	t.Helper()
	var got []string
	err := forEachWord(line, func(w []byte) error {
		if len(w) == 0 {
			t.Errorf("forEachWord(%q) yielded an empty word", line)
		}
		got = append(got, string(w))
		return nil
	})
	if err != nil {
		t.Fatalf("forEachWord(%q): unexpected error %v", line, err)
	}
	return got
}

// wordAtoms are the pieces random test strings are built from.
var wordAtoms = []string{
	// ASCII letters, digits, punctuation, whitespace.
	"a", "Z", "q", "word", "Hello", "x", "7", "42", "0", ".", ",", "'", "-", "_", "!", "\"", "@", "~",
	" ", "  ", "\t", "\r", "\n", "\x00", "\x7f",
	// Multi-byte letters: Latin, Greek, Cyrillic, CJK, titlecase, modifier, Latin-1 letters ª µ.
	"é", "ß", "ñ", "ā", "Ā", "İ", "ı", "Σ", "ς", "λ", "Ω", "Ж", "я", "漢", "字", "ひ", "ǅ", "ʰ", "ª", "µ",
	// Non-letters: curly apostrophe, em dash, emoji, combining acute (Mn),
	// NBSP, roman numeral (Nl), Arabic-Indic digit, ZWJ, BOM, U+FFFD encoded validly.
	"’", "—", "😀", "👍🏽", "\u0301", "\u00a0", "Ⅷ", "٣", "\u200d", "\ufeff", "\ufffd", "½", "©",
	// Invalid UTF-8: stray continuation/0xff bytes, a lone lead byte, a
	// truncated 4-byte sequence, an encoded surrogate, an overlong NUL.
	"\xff", "\xc3", "\x80", "\xbf", "\xf0\x9f", "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\x80", "\xe2\x80",
}

func randomWordString(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(40) {
		b.WriteString(wordAtoms[rng.IntN(len(wordAtoms))])
	}
	return b.String()
}

func TestForEachWordMatchesFieldsFunc(t *testing.T) {
	seed := *wordsSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun: go test ./jobs -run TestForEachWordMatchesFieldsFunc -args -words.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var invalid, multi int
	for i := range 20000 {
		s := randomWordString(rng)
		if !utf8.ValidString(s) {
			invalid++
		}
		got := collectWords(t, []byte(s))
		want := oracleWords(s)
		if len(want) > 1 {
			multi++
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d, case %d: forEachWord(%q) = %q, strings.FieldsFunc gives %q", seed, i, s, got, want)
		}
	}
	// The generator must actually exercise invalid input and multi-word lines.
	if invalid < 1000 || multi < 1000 {
		t.Fatalf("seed %d: weak generator: %d invalid strings, %d multi-word strings", seed, invalid, multi)
	}
}

// TestForEachWordExamples pins the oracle's (and the tokenizer's) reading of
// a few tricky strings, so both cannot drift together.
func TestForEachWordExamples(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"hello", []string{"hello"}},
		{"Hello, world!", []string{"Hello", "world"}},
		{"abc123def", []string{"abc", "def"}},
		{"don’t", []string{"don", "t"}},
		{"war—peace", []string{"war", "peace"}},
		{"Straße naïve ÉCOLE", []string{"Straße", "naïve", "ÉCOLE"}},
		{"e\u0301t\u00e9", []string{"e", "té"}}, // combining acute is not a letter
		{"ΣΑΣ Жук 漢字", []string{"ΣΑΣ", "Жук", "漢字"}},
		{"foo\xffbar", []string{"foo", "bar"}},
		{"caf\xc3", []string{"caf"}},
		{"\xc3a", []string{"a"}}, // lone lead byte before an ASCII letter
		{"é\xc3\xa9", []string{"éé"}},
		{"a\ufffdb", []string{"a", "b"}},
		{"x😀y", []string{"x", "y"}},
		{"ªµ", []string{"ªµ"}},
		{"ā", []string{"ā"}},
	} {
		if got := collectWords(t, []byte(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("forEachWord(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := oracleWords(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("strings.FieldsFunc(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestForEachWordStopsOnError(t *testing.T) {
	stop := errors.New("stop")
	for _, tc := range []struct {
		in       string
		failAt   int // 1-based word that returns stop
		wantSeen []string
	}{
		{"one two three", 2, []string{"one", "two"}},
		{"one two three", 3, []string{"one", "two", "three"}}, // last word, no trailing separator
		{"one two three.", 3, []string{"one", "two", "three"}},
		{"ünï", 1, []string{"ünï"}},
	} {
		var seen []string
		err := forEachWord([]byte(tc.in), func(w []byte) error {
			seen = append(seen, string(w))
			if len(seen) == tc.failAt {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Errorf("forEachWord(%q) failing at word %d: err = %v, want %v", tc.in, tc.failAt, err, stop)
		}
		if !slices.Equal(seen, tc.wantSeen) {
			t.Errorf("forEachWord(%q) failing at word %d: saw %q, want %q", tc.in, tc.failAt, seen, tc.wantSeen)
		}
	}
}

func FuzzForEachWord(f *testing.F) {
	for _, s := range []string{
		"",
		"Hello, world!",
		"don’t stop—now 😀",
		"e\u0301 ñ ß ā ΣΑΣ Жук 漢字",
		"foo\xffbar\xc3",
		"\xc3a\xed\xa0\x80b\xf0\x9f\x98c",
		"ǅungla ʰ Ⅷ ٣ ½",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		got := collectWords(t, line)
		if want := oracleWords(string(line)); !slices.Equal(got, want) {
			t.Fatalf("forEachWord(%q) = %q, strings.FieldsFunc gives %q", line, got, want)
		}
		if !bytes.Equal(line, orig) {
			t.Fatalf("forEachWord modified its input: %q became %q", orig, line)
		}
	})
}

func TestLowerInto(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"HeLLo", "hello"},
		{"ABCXYZ", "abcxyz"},
		{"@[`{", "@[`{"}, // bytes just outside A-Z and a-z
		{"ÀB", "àb"},
		{"İ", "i"}, // Go's simple case mapping: U+0130 lowers to ASCII i
		{"ΣΑΣ", "σασ"},
		{"ẞ", "ß"},
		{"ǅ", "ǆ"},
		{"ÉCOLE", "école"},
		{"Жук", "жук"},
		{"漢字", "漢字"},
	} {
		if want := string(bytes.ToLower([]byte(tc.in))); want != tc.want {
			t.Fatalf("test table: bytes.ToLower(%q) = %q, table says %q", tc.in, want, tc.want)
		}
		// A stale buffer longer than the result must not leak into it.
		buf := []byte("stale contents of a previous, longer word")
		word := []byte(tc.in)
		got := lowerInto(buf, word)
		if string(got) != tc.want {
			t.Errorf("lowerInto(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if string(word) != tc.in {
			t.Errorf("lowerInto(%q) modified its input to %q", tc.in, word)
		}
		if got := lowerInto(nil, []byte(tc.in)); string(got) != tc.want {
			t.Errorf("lowerInto(nil, %q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLowerIntoMatchesBytesToLower(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	for range 5000 {
		// Words as forEachWord yields them, from random strings.
		s := randomWordString(rng)
		err := forEachWord([]byte(s), func(w []byte) error {
			want := bytes.ToLower(w)
			buf = lowerInto(buf, w)
			if !bytes.Equal(buf, want) {
				t.Fatalf("lowerInto(%q) = %q, bytes.ToLower gives %q", w, buf, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
