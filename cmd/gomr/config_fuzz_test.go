package main

import (
	"fmt"
	"strconv"
	"testing"
)

// FuzzParseSize checks parseSize on arbitrary strings: it never panics,
// never returns a negative size or one below the minimum asked for, and
// a size it parses, written again in bytes (and in the largest binary
// unit that divides it), parses back to the same value.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{
		"0", "1", "512B", "512 b", "64KiB", "64kib", "64Ki", "64MiB", "1GiB", "2TiB", "1PiB",
		"64kB", "64k", "64MB", "1.5GB", "1.5GiB", "3TB", "1PB", " 10 MiB ", "1,000",
		"8EiB", "9223372036854775807", "9223372036854775808", "99999999999999999999", "20EB",
		"", "lots", "-5", "-5MiB", "5 MiBs", "5XB", "MiB", "1e6", "0x10", "0.0000001KiB", "1.",
	} {
		f.Add(s)
	}
	units := []string{"PiB", "TiB", "GiB", "MiB", "KiB"}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s, 0)
		if err != nil {
			if n != 0 {
				t.Fatalf("parseSize(%q) = %d with error %v", s, n, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		if m, err := parseSize(s, 1); (err == nil) != (n >= 1) || (err == nil && m != n) {
			t.Fatalf("parseSize(%q, 1) = %d, %v; with no minimum %d", s, m, err, n)
		}
		forms := []string{strconv.FormatInt(n, 10), strconv.FormatInt(n, 10) + "B"}
		for i, u := range units {
			if unit := int64(1) << (10 * (len(units) - i)); n > 0 && n%unit == 0 {
				forms = append(forms, fmt.Sprintf("%d%s", n/unit, u))
				break
			}
		}
		for _, form := range forms {
			again, err := parseSize(form, 0)
			if err != nil || again != n {
				t.Fatalf("parseSize(%q) = %d, but parseSize(%q) = %d, %v", s, n, form, again, err)
			}
		}
	})
}
