package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVagrantfileIsValid checks the repository's Vagrantfile, which builds
// a six-VM gomr cluster: that it defines every expected node with its IP
// (read as plain text, so dropping a VM fails the test even without Ruby),
// that `ruby -c` accepts its syntax, and that `vagrant validate
// --ignore-provider` accepts it as a Vagrant configuration. The Ruby and
// Vagrant checks are skipped when the tool is not installed; CI installs
// both. Vagrant runs with its own empty home and data folder and without
// version checks, so it touches neither the network, the user's home nor
// the work tree.
func TestVagrantfileIsValid(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "Vagrantfile")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read Vagrantfile: %v", err)
	}

	t.Run("nodes", func(t *testing.T) {
		nodes := []struct{ name, ip string }{
			{"primary-1", "192.168.56.11"},
			{"primary-2", "192.168.56.12"},
			{"primary-3", "192.168.56.13"},
			{"core-1", "192.168.56.21"},
			{"core-2", "192.168.56.22"},
			{"task-1", "192.168.56.31"},
		}
		// Each node is defined on a line of its own that names it and its
		// IP; comments do not count.
		var defs []string
		for _, line := range strings.Split(string(text), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				defs = append(defs, line)
			}
		}
		for _, n := range nodes {
			found := false
			for _, line := range defs {
				if strings.Contains(line, `"`+n.name+`"`) && strings.Contains(line, `"`+n.ip+`"`) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("Vagrantfile defines no node %q at %s (want a line naming both, e.g. %s)",
					n.name, n.ip, `{ name: "`+n.name+`", role: ..., ip: "`+n.ip+`" }`)
			}
		}
	})

	t.Run("ruby", func(t *testing.T) {
		requireTool(t, "ruby")
		out := runTool(t, root, nil, "ruby", "-c", path)
		if !strings.Contains(out, "Syntax OK") {
			t.Fatalf("ruby -c %s: no \"Syntax OK\" in its output:\n%s", path, out)
		}
	})

	t.Run("vagrant", func(t *testing.T) {
		requireTool(t, "vagrant")
		tmp := t.TempDir()
		env := []string{
			"VAGRANT_CHECKPOINT_DISABLE=1",
			"VAGRANT_HOME=" + filepath.Join(tmp, "home"),
			// Keeps vagrant from creating .vagrant/ in the work tree.
			"VAGRANT_DOTFILE_PATH=" + filepath.Join(tmp, "dotfile"),
		}
		runTool(t, root, env, "vagrant", "validate", "--ignore-provider")
	})
}

// requireTool skips the test when name is not on PATH.
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed, so the Vagrantfile is not checked with it; CI installs it "+
			"(apt-get install -y --no-install-recommends vagrant ruby)", name)
	}
}

// runTool runs name with args in dir, with env added to the test's
// environment, fails the test with the full combined output unless it exits
// 0, and returns that output.
func runTool(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	line := strings.Join(append([]string{name}, args...), " ")
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s (in %s): %v\n%s", line, dir, err, out.String())
	}
	t.Logf("%s:\n%s", line, out.String())
	return out.String()
}
