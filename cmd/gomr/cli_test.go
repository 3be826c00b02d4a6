package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1", 1}, {"512B", 512}, {"512 b", 512},
		{"64KiB", 64 << 10}, {"64kib", 64 << 10}, {"64Ki", 64 << 10}, {"64ki", 64 << 10},
		{"64MiB", 64 << 20}, {"64mi", 64 << 20}, {"1GiB", 1 << 30}, {"2TiB", 2 << 40}, {"1PiB", 1 << 50},
		{"64kB", 64_000}, {"64KB", 64_000}, {"64k", 64_000}, {"64K", 64_000},
		{"64MB", 64_000_000}, {"64mb", 64_000_000}, {"64M", 64_000_000}, {"64m", 64_000_000},
		{"1.5GB", 1_500_000_000}, {"1.5GiB", 3 << 29}, {"3TB", 3_000_000_000_000}, {"2tb", 2_000_000_000_000}, {"1PB", 1_000_000_000_000_000},
		{" 10 MiB ", 10 << 20}, {"1,000", 1000},
		{"8EiB", -1}, {"9223372036854775807", 9223372036854775807}, {"9223372036854775808", -1},
		{"99999999999999999999", -1}, {"20EB", -1},
		{"", -1}, {"lots", -1}, {"-5", -1}, {"-5MiB", -1}, {"5 MiBs", -1}, {"5XB", -1}, {"MiB", -1}, {"1e6", -1}, {"0x10", -1},
	} {
		got, err := parseSize(tc.in, 0)
		switch {
		case tc.want < 0 && err == nil:
			t.Errorf("parseSize(%q) = %d, want an error", tc.in, got)
		case tc.want >= 0 && err != nil:
			t.Errorf("parseSize(%q): %v, want %d", tc.in, err, tc.want)
		case tc.want >= 0 && got != tc.want:
			t.Errorf("parseSize(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	// A bad spelling's error lists the units accepted.
	if _, err := parseSize("lots", 0); err == nil || !strings.Contains(err.Error(), "KiB, MiB, GiB, TiB") || !strings.Contains(err.Error(), "kB, MB, GB, TB") {
		t.Errorf("error %v does not list the units", err)
	}
	if _, err := parseSize("99999999999999999999", 0); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("overflow: %v", err)
	}
	// 0 is refused where it is not allowed, never taken for a default.
	if _, err := parseSize("0", 1); err == nil || !strings.Contains(err.Error(), "at least 1 byte") {
		t.Errorf("0 where at least 1 byte is needed: %v", err)
	}
	if _, err := parseSize("0MiB", 1); err == nil {
		t.Error("0MiB accepted where at least 1 byte is needed")
	}
	if _, err := parseSize("512KiB", 1<<20); err == nil || !strings.Contains(err.Error(), "minimum of 1.0 MiB") {
		t.Errorf("below a minimum: %v", err)
	}
}

// TestHelpReadsRight renders every command's help and checks that no
// placeholder was made from back-quoted words, booleans show as plain
// flags, and no default is given twice.
func TestHelpReadsRight(t *testing.T) {
	var visit func(c *cobra.Command)
	n := 0
	visit = func(c *cobra.Command) {
		var b bytes.Buffer
		c.SetOut(&b)
		c.SetErr(&b)
		if err := c.Help(); err != nil {
			t.Fatalf("%s --help: %v", c.CommandPath(), err)
		}
		help := b.String()
		n++
		for _, bad := range []string{"`", "[=true|false]", "(defaults to", "(default: ", "--cluster gomr", "--job gomr"} {
			if strings.Contains(help, bad) {
				t.Errorf("%s --help contains %q:\n%s", c.CommandPath(), bad, help)
			}
		}
		for _, line := range strings.Split(help, "\n") {
			if strings.Count(line, "default") > 1 {
				t.Errorf("%s --help: a default given twice: %q", c.CommandPath(), line)
			}
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	for _, job := range []string{"", "wordcount", "logagg"} {
		visit(newRootCmd(job))
	}
	if n < 20 {
		t.Fatalf("only %d commands visited", n)
	}
}

func TestJobsListsNoDefaultForBooleans(t *testing.T) {
	root := newRootCmd("")
	var b bytes.Buffer
	root.SetOut(&b)
	root.SetArgs([]string{"jobs"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `(default "false")`) || !strings.Contains(b.String(), `--group-by VALUE`) {
		t.Fatalf("gomr jobs:\n%s", b.String())
	}
}

// TestRelativePathsAreMadeAbsolute parses a step as the client does:
// its input, output and the options that name folders (teravalidate's
// --generated) come out absolute against the current folder; URIs stay.
func TestRelativePathsAreMadeAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	spec, _, _, err := specFromArgs([]string{"--job", "teravalidate", "--input", "sorted", "--generated", "gen/", "--output", "report"})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{spec.Inputs[0], spec.Options["generated"], spec.Output}
	want := []string{filepath.Join(wd, "sorted"), filepath.Join(wd, "gen"), filepath.Join(wd, "report")}
	if !slices.Equal(got, want) {
		t.Fatalf("input, --generated and output %q, want %q", got, want)
	}
	spec, _, _, err = specFromArgs([]string{"--job", "teravalidate", "--input", "hdfs:///sorted", "--generated", "hdfs:///gen", "--output", "s3://b/report"})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{spec.Inputs[0], spec.Options["generated"], spec.Output}; !slices.Equal(got, []string{"hdfs:///sorted", "hdfs:///gen", "s3://b/report"}) {
		t.Fatalf("URIs became %q", got)
	}
}
