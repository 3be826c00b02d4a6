package jobs

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode"
)

// BenchmarkTokenize measures splitting text into words. The baseline is
// strings.FieldsFunc with unicode.IsLetter, the plainest correct way.
func BenchmarkTokenize(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteSampleText(&buf, 4<<20, 7); err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(buf.Bytes(), []byte{'\n'})
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	var n int
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for _, l := range lines {
			forEachWord(l, func([]byte) error { n++; return nil })
		}
	}
	own := time.Since(start)
	b.StopTimer()
	start = time.Now()
	for range b.N {
		for _, l := range lines {
			n += len(strings.FieldsFunc(string(l), func(r rune) bool { return !unicode.IsLetter(r) }))
		}
	}
	b.ReportMetric(float64(time.Since(start))/float64(own), "x_vs_baseline")
}
