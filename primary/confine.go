package primary

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/jobs/streaming"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/s3"
	"github.com/gomr/gomr/primary/mtls"
	"github.com/gomr/gomr/primary/state"
)

// Data roots confine what steps read and write. Workers read inputs and
// write outputs with their own privileges (often root's), so the leader
// refuses, at submission, a step naming a path outside the roots the
// primary is configured with (Config.DataRoots): its inputs (globs
// included), its output, its export target and a streaming step's
// shipped files. The files an input lists are checked again when it is
// planned, so that a symlink inside an input folder cannot lead outside.
// With no roots configured every path is allowed, as before roots
// existed; the primary then warns once at start.

// stagingRoot is the HDFS folder clients stage a step's local files in
// (gomr step add --file, client-side preparation); steps may always read
// it, whatever the roots.
const stagingRoot = "/tmp/gomr/staging"

// deniedLocal are folders no step reads or writes unless a data root is
// one of them or inside one: a root such as the working folder "/" does
// not open them.
var deniedLocal = []string{"/etc", "/root", "/proc", "/sys"}

// localRoot is a local data root: as cleaned, and with its symlinks
// resolved (the same when it has none or does not exist).
type localRoot struct {
	clean, resolved string
}

// s3Root is an s3:// data root: a bucket ("" for every bucket) and a key
// prefix in it ("" for the whole bucket).
type s3Root struct {
	bucket, prefix string
}

// dataRoots are the parsed data roots of a primary.
type dataRoots struct {
	// all is set when no root is configured: every path is allowed.
	all   bool
	local []localRoot
	hdfs  []string // clean HDFS paths
	s3    []s3Root
	// given lists the roots as configured, and source says where they
	// come from, for error messages.
	given, source string
}

// parseDataRoots parses data roots: local absolute folders (bare or
// file://), hdfs:///path prefixes and s3://bucket[/prefix] prefixes
// ("s3://" alone: every bucket). An entry may hold several, comma
// separated.
func parseDataRoots(entries []string) (*dataRoots, error) {
	r := &dataRoots{}
	var given []string
	for _, e := range entries {
		for _, p := range strings.Split(e, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if err := r.add(p); err != nil {
				return nil, fmt.Errorf("data-roots: %w", err)
			}
			given = append(given, p)
		}
	}
	r.all = len(given) == 0
	r.given = strings.Join(given, ", ")
	r.source = "primary --data-roots"
	return r, nil
}

func (r *dataRoots) add(p string) error {
	if hasDotDot(p) {
		return fmt.Errorf("root %q has a '..' component", p)
	}
	switch scheme := mapreduce.Scheme(p); scheme {
	case "file":
		lp, err := mapreduce.LocalPath(p)
		if err != nil {
			return fmt.Errorf("root %q: a local root must be an absolute folder: %w", p, err)
		}
		r.local = append(r.local, localRoot{clean: lp, resolved: resolveLocal(lp)})
	case namespace.Scheme:
		hp, err := namespace.Clean(p)
		if err != nil {
			return fmt.Errorf("root %q: %w", p, err)
		}
		r.hdfs = append(r.hdfs, hp)
	case s3.Scheme:
		if strings.EqualFold(p, "s3://") {
			r.s3 = append(r.s3, s3Root{})
			return nil
		}
		bucket, key, err := s3.ParseURI(p)
		if err != nil {
			return fmt.Errorf("root %q: %w", p, err)
		}
		r.s3 = append(r.s3, s3Root{bucket: bucket, prefix: strings.TrimSuffix(key, "/")})
	default:
		return fmt.Errorf("root %q: scheme %s:// is not a file system steps use (a local folder, hdfs:///path or s3://bucket[/prefix])", p, scheme)
	}
	return nil
}

// newDataRoots returns a primary's data roots, warning when none are
// configured. Config.Validate has parsed them already.
func newDataRoots(entries []string, log *slog.Logger) *dataRoots {
	r, err := parseDataRoots(entries)
	if err != nil {
		panic(fmt.Sprintf("data roots passed Config.Validate but do not parse: %v", err))
	}
	if r.all {
		log.Warn("no data roots configured (--data-roots): steps may read and write any path the workers can, root-only files included; name the folders, hdfs:/// and s3:// prefixes steps may use")
	}
	return r
}

// errConfined builds the refusal of a path outside the roots.
func (r *dataRoots) errConfined(what, p, why string) error {
	return fmt.Errorf("%w: %s %s %s; steps may read and write only under the data roots (%s): %s", errInvalid, what, p, why, r.source, r.given)
}

// check refuses a path a step names (what says which: input, output...)
// that is not under a root; reading also allows the staging folder.
func (r *dataRoots) check(what, p string, read bool) error {
	if r == nil || r.all {
		return nil
	}
	if hasDotDot(p) {
		return r.errConfined(what, p, "has a '..' component")
	}
	switch mapreduce.Scheme(p) {
	case "file":
		lp, err := mapreduce.LocalPath(p)
		if err != nil {
			return r.errConfined(what, p, "is not an absolute path")
		}
		return r.checkLocal(what, p, literalPrefix(lp))
	case namespace.Scheme:
		hp, err := namespace.Clean(p)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		hp = literalPrefix(hp)
		if read && (hp == stagingRoot || namespace.IsUnder(hp, stagingRoot)) {
			return nil
		}
		for _, root := range r.hdfs {
			if hp == root || namespace.IsUnder(hp, root) {
				return nil
			}
		}
		return r.errConfined(what, p, "is outside them")
	case s3.Scheme:
		bucket, key, err := s3.ParseURI(p)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		key = strings.TrimSuffix(literalPrefix(key), "/")
		for _, root := range r.s3 {
			if root.bucket == "" || root.bucket == bucket && (root.prefix == "" || key == root.prefix || strings.HasPrefix(key, root.prefix+"/")) {
				return nil
			}
		}
		return r.errConfined(what, p, "is outside them")
	default:
		return r.errConfined(what, p, "is on no file system the roots name")
	}
}

// checkLocal checks a clean absolute local path: as written, and with its
// symlinks resolved, it must be under a root, and not in a denied folder
// no root opens.
func (r *dataRoots) checkLocal(what, p, lp string) error {
	if !r.localAllowed(lp, false) {
		if d := deniedFolder(lp); d != "" && r.localAllowed(lp, true) {
			return r.errConfined(what, p, fmt.Sprintf("is in %s, which steps use only when a data root names it", d))
		}
		return r.errConfined(what, p, "is outside them")
	}
	resolved := resolveLocal(lp)
	if resolved != lp && !r.localAllowed(resolved, false) {
		return r.errConfined(what, p, fmt.Sprintf("resolves through symlinks to %s, outside them", resolved))
	}
	return nil
}

// localAllowed reports whether the local path lp is at or under a root
// (as cleaned or as resolved), and, unless ignoreDenied, not in a denied
// folder that root is not itself in.
func (r *dataRoots) localAllowed(lp string, ignoreDenied bool) bool {
	d := deniedFolder(lp)
	for _, root := range r.local {
		for _, rp := range []string{root.clean, root.resolved} {
			if within(lp, rp) && (ignoreDenied || d == "" || within(rp, d)) {
				return true
			}
		}
	}
	return false
}

// deniedFolder returns the denied folder lp is in, or "".
func deniedFolder(lp string) string {
	for _, d := range deniedLocal {
		if within(lp, d) {
			return d
		}
	}
	return ""
}

// within reports whether the clean local path p is dir or inside it.
func within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// resolveLocal resolves the symlinks of the clean absolute path lp: those
// of its longest prefix that exists, with the rest appended.
func resolveLocal(lp string) string {
	rest := ""
	for cur := lp; ; {
		if resolved, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(resolved, rest)
		} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
			// e.g. a symlink loop: nothing sensible is left to read.
			return filepath.Join(cur, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return lp
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// hasDotDot reports whether the path part of p has a ".." component.
func hasDotDot(p string) bool {
	if i := strings.Index(p, "://"); i > 0 {
		p = p[i+3:]
	}
	for _, c := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if c == ".." {
			return true
		}
	}
	return false
}

// literalPrefix returns the folders of a slash-separated path before its
// first component holding a glob character: what a glob can match is
// inside it.
func literalPrefix(p string) string {
	i := strings.IndexAny(p, "*?[")
	if i < 0 {
		return p
	}
	j := strings.LastIndexByte(p[:i], '/')
	if j <= 0 {
		if strings.HasPrefix(p, "/") {
			return "/"
		}
		return ""
	}
	return p[:j]
}

// confine refuses a submitted step that names a path outside the data
// roots, or whose output overlaps the input or output of a step that has
// not ended. validateSpec calls it with the paths as submitted.
func (s *Server) confine(spec state.StepSpec) error {
	if err := s.roots.checkSpec(spec); err != nil {
		return err
	}
	return s.checkOverlap(spec)
}

// checkSpec refuses a step that names a path outside the roots: an
// input, the output, the export target, a shipped file.
func (r *dataRoots) checkSpec(spec state.StepSpec) error {
	for _, in := range spec.Inputs {
		if err := r.check("input", in, true); err != nil {
			return err
		}
	}
	if err := r.check("output", spec.Output, false); err != nil {
		return err
	}
	if spec.Export != "" {
		if err := r.check("export", spec.Export, false); err != nil {
			return err
		}
	}
	if spec.Job == "streaming" && spec.Options["files"] != "" {
		files, err := streaming.ParseFiles(spec.Options["files"])
		if err != nil {
			return fmt.Errorf("%w: files: %w", errInvalid, err)
		}
		for _, f := range files {
			if err := r.check("shipped file "+f.Name, f.Path, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// tokenRoots returns the data roots of the token a call was made with,
// nil when it has none (or the call came with none: a primary forwarding
// a client's call has checked them already).
func tokenRoots(ctx context.Context) (*dataRoots, error) {
	c, ok := mtls.CallerFrom(ctx)
	if !ok || c.Token == nil || len(c.Token.DataRoots) == 0 {
		return nil, nil
	}
	r, err := parseDataRoots(c.Token.DataRoots)
	if err != nil {
		return nil, fmt.Errorf("the data roots of %s: %w", c.Token, err)
	}
	r.source = "those of " + c.Token.String()
	return r, nil
}

// checkOverlap refuses a step whose output (or export target) is,
// contains or is inside an input or the output of a step that has not
// ended: two steps writing one folder, or one writing what another
// reads, corrupt each other.
func (s *Server) checkOverlap(spec state.StepSpec) error {
	mine := []struct{ what, path string }{{"output", spec.Output}}
	if spec.Export != "" {
		mine = append(mine, struct{ what, path string }{"export", spec.Export})
	}
	for _, other := range s.fsm.view().StepsIn(state.StepPending, state.StepRunning, state.StepCancelPending) {
		theirs := []struct{ what, path string }{{"output", other.Spec.Output}}
		for _, in := range other.Spec.Inputs {
			theirs = append(theirs, struct{ what, path string }{"input", in})
		}
		for _, m := range mine {
			for _, t := range theirs {
				if pathsOverlap(m.path, t.path) {
					return fmt.Errorf("%w: %s %s overlaps the %s %s of step %s (%s), which has not ended: wait for it to end, or choose another folder",
						errInvalid, m.what, m.path, t.what, t.path, other.ID, other.State)
				}
			}
		}
	}
	return nil
}

// pathsOverlap reports whether two paths are the same, or one is inside
// the other (a glob stands for its literal prefix).
func pathsOverlap(a, b string) bool {
	ka, oka := pathKey(a)
	kb, okb := pathKey(b)
	if !oka || !okb {
		return false
	}
	return ka == kb || strings.HasPrefix(ka, strings.TrimSuffix(kb, "/")+"/") || strings.HasPrefix(kb, strings.TrimSuffix(ka, "/")+"/")
}

// pathKey returns a comparable form of a path: its scheme and clean path
// (a glob's literal prefix).
func pathKey(p string) (string, bool) {
	switch scheme := mapreduce.Scheme(p); scheme {
	case "file":
		lp, err := mapreduce.LocalPath(p)
		if err != nil {
			return "", false
		}
		return "file://" + literalPrefix(lp), true
	case namespace.Scheme:
		hp, err := namespace.Clean(p)
		if err != nil {
			return "", false
		}
		return "hdfs://" + literalPrefix(hp), true
	case s3.Scheme:
		bucket, key, err := s3.ParseURI(p)
		if err != nil {
			return "", false
		}
		return "s3://" + bucket + "/" + strings.TrimSuffix(literalPrefix(key), "/"), true
	default:
		return strings.TrimSuffix(p, "/"), true
	}
}

// confineListed checks the files an input listed: a local file reached
// through a symlink (a link inside an input folder, a glob's match) must
// resolve under the roots too.
func (s *Server) confineListed(files []mapreduce.InputFile) error {
	r := s.roots
	if r == nil || r.all {
		return nil
	}
	for _, f := range files {
		if mapreduce.Scheme(f.Path) != "file" {
			continue
		}
		lp, err := mapreduce.LocalPath(f.Path)
		if err != nil {
			return r.errConfined("input file", f.Path, "is not an absolute path")
		}
		if err := r.checkLocal("input file", f.Path, lp); err != nil {
			return err
		}
	}
	return nil
}
