package jobs

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
)

// DistCpJob is the name of the copy job; export steps (--export) run it.
const DistCpJob = "distcp"

// Counters of distcp.
const (
	// FilesCopied counts the input files copied.
	FilesCopied = "DISTCP_FILES_COPIED"
	// BytesCopied counts the input bytes read (before any recompression).
	BytesCopied = "DISTCP_BYTES_COPIED"
)

func distCp() *Definition {
	return &Definition{
		Name: DistCpJob,
		Summary: "copy files between local folders, HDFS and S3 in either direction, as EMR's s3-dist-cp " +
			"(map-only; one map per file, or per group with --group-by)",
		MapOnly:      true,
		WholeFiles:   true,
		InputOption:  "src",
		OutputOption: "dest",
		Options: []Option{
			{Name: "src", Usage: "folder, file or glob to copy (the same as --input)"},
			{Name: "dest", Usage: "folder to copy into (the same as --output)"},
			{Name: "src-pattern", Usage: "copy only the files whose full path matches this regular expression"},
			{Name: "group-by", Usage: "regular expression with capture groups: files whose paths match with the same groups are concatenated into one file named by the groups"},
			{Name: "target-size", Usage: "with --group-by, the size in MiB of the files to make: a larger group is cut into files of about this size (NAME-00000, NAME-00001, ...); 0 keeps each group whole", Default: "0"},
			{Name: "output-codec", Usage: "compression of the copies: keep (as the source), none, gzip or zstd", Default: "keep"},
			{Name: "delete-on-success", Usage: "delete the source files once the copy has completed", Bool: true, Default: "false"},
		},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			c, err := parseDistCp(opts)
			if err != nil {
				return nil, err
			}
			return &mapreduce.Job{Mapper: &distCpMapper{codec: c.codec}}, nil
		},
		plan: func(files []mapreduce.InputFile, opts map[string]string) ([]mapreduce.Split, error) {
			c, err := parseDistCp(opts)
			if err != nil {
				return nil, err
			}
			return c.plan(files)
		},
		deletesInput: func(opts map[string]string) bool { return boolOpt(opts, "delete-on-success") },
	}
}

// distCpConfig is distcp's parsed options.
type distCpConfig struct {
	pattern    *regexp.Regexp
	groupBy    *regexp.Regexp
	targetSize int64
	// codec is the output codec; nil keeps each file's bytes as they are.
	codec format.Codec
}

func parseDistCp(opts map[string]string) (*distCpConfig, error) {
	c := &distCpConfig{}
	var err error
	if p := opts["src-pattern"]; p != "" {
		if c.pattern, err = regexp.Compile(p); err != nil {
			return nil, fmt.Errorf("%w: --src-pattern: %v", ErrBadOption, err)
		}
	}
	if g := opts["group-by"]; g != "" {
		if c.groupBy, err = regexp.Compile(g); err != nil {
			return nil, fmt.Errorf("%w: --group-by: %v", ErrBadOption, err)
		}
		if c.groupBy.NumSubexp() == 0 {
			return nil, fmt.Errorf("%w: --group-by %q has no capture group (write the part that names a group in parentheses)", ErrBadOption, g)
		}
	}
	if t := opts["target-size"]; t != "" {
		mib, err := strconv.ParseInt(t, 10, 64)
		if err != nil || mib < 0 || mib > 1<<30 {
			return nil, fmt.Errorf("%w: --target-size takes a number of MiB, got %q", ErrBadOption, t)
		}
		c.targetSize = mib << 20
	}
	switch codec := opts["output-codec"]; strings.ToLower(codec) {
	case "keep", "":
	default:
		if c.codec, err = format.CompressorFor(codec); err != nil {
			return nil, fmt.Errorf("%w: --output-codec: %v (or keep)", ErrBadOption, err)
		}
	}
	return c, nil
}

// plan makes one split per file, or with --group-by one per group (cut
// at --target-size). Each split's Doc is the name of the file it makes.
func (c *distCpConfig) plan(files []mapreduce.InputFile) ([]mapreduce.Split, error) {
	var kept []mapreduce.InputFile
	for _, f := range files {
		if c.pattern == nil || c.pattern.MatchString(f.Path) {
			kept = append(kept, f)
		}
	}
	if c.groupBy == nil {
		splits := make([]mapreduce.Split, 0, len(kept))
		for _, f := range kept {
			f.Doc = c.outputName(f.Doc, f.Path)
			splits = append(splits, mapreduce.WholeFileSplit([]mapreduce.InputFile{f}))
		}
		return splits, nil
	}
	var order []string
	groups := make(map[string][]mapreduce.InputFile)
	for _, f := range kept {
		m := c.groupBy.FindStringSubmatch(f.Path)
		if m == nil {
			continue // s3-dist-cp copies only the files --group-by matches
		}
		name := strings.Join(m[1:], "")
		if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
			return nil, fmt.Errorf("--group-by names file %s %q, which is not a file name", f.Path, name)
		}
		if _, ok := groups[name]; !ok {
			order = append(order, name)
		}
		groups[name] = append(groups[name], f)
	}
	var splits []mapreduce.Split
	for _, name := range order {
		chunks := c.cut(groups[name])
		for i, chunk := range chunks {
			doc := name
			if len(chunks) > 1 {
				doc = fmt.Sprintf("%s-%05d", name, i)
			}
			chunk[0].Doc = c.outputName(doc, chunk[0].Path)
			splits = append(splits, mapreduce.WholeFileSplit(chunk))
		}
	}
	return splits, nil
}

// cut splits a group's files into chunks of about the target size.
func (c *distCpConfig) cut(files []mapreduce.InputFile) [][]mapreduce.InputFile {
	if c.targetSize <= 0 {
		return [][]mapreduce.InputFile{files}
	}
	var chunks [][]mapreduce.InputFile
	var cur []mapreduce.InputFile
	var size int64
	for _, f := range files {
		if len(cur) > 0 && size+f.Size > c.targetSize {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		cur = append(cur, f)
		size += f.Size
	}
	return append(chunks, cur)
}

// outputName is the name of a copy: the source's name, with the
// extension of the output codec in place of the source's when the copy
// is recompressed.
func (c *distCpConfig) outputName(name, src string) string {
	if c.codec == nil {
		return name
	}
	if in, ok := format.CodecFor(src); ok && strings.HasSuffix(strings.ToLower(name), in.Extension()) {
		name = name[:len(name)-len(in.Extension())]
	}
	return name + c.codec.Extension()
}

// distCpMapper copies a split's files, in order, into one file of the
// task's output named by the split's Doc.
type distCpMapper struct {
	codec format.Codec
}

// Map implements mapreduce.Mapper; distcp maps whole files only.
func (m *distCpMapper) Map(*mapreduce.TaskContext, mapreduce.Record, mapreduce.Emitter) error {
	return fmt.Errorf("distcp copies whole files: its input is not read by line")
}

// MapFiles implements mapreduce.FileMapper.
func (m *distCpMapper) MapFiles(tc *mapreduce.TaskContext, files []mapreduce.SplitFile, fss *mapreduce.FileSystems, out mapreduce.TaskOutput) error {
	ctx := tc.Context()
	name := files[0].Doc
	w, err := out.Create(ctx, name)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	defer w.Abort()
	var total, done int64
	for _, f := range files {
		total += f.FileSize
	}
	dst := io.Writer(w)
	var enc io.WriteCloser
	if m.codec != nil && m.codec != format.None {
		if enc, err = m.codec.NewWriter(w); err != nil {
			return fmt.Errorf("compress %s: %w", name, err)
		}
		dst = enc
	}
	counting := &countingWriter{w: dst}
	for _, sf := range files {
		n, err := m.copyFile(tc, fss, sf, counting, func(n int64) {
			if tc.Progress != nil && total > 0 {
				tc.Progress.Set(float64(done+n) / float64(total))
			}
		})
		if err != nil {
			return err
		}
		done += n
		tc.Counters.Add(FilesCopied, 1)
		tc.Counters.Add(BytesCopied, n)
		tc.Counters.Add(mapreduce.MapInputBytes, n)
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return fmt.Errorf("compress %s: %w", name, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tc.Counters.Add(mapreduce.BytesWritten, counting.n)
	return nil
}

// copyFile copies the planned bytes of one file to dst, decompressing
// them when the copy is recompressed. It returns the source bytes read.
func (m *distCpMapper) copyFile(tc *mapreduce.TaskContext, fss *mapreduce.FileSystems, sf mapreduce.SplitFile, dst io.Writer, progress func(int64)) (int64, error) {
	ctx := tc.Context()
	f, err := mapreduce.OpenWholeFile(ctx, fss, sf)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	src := &progressReader{r: io.NewSectionReader(f, 0, sf.FileSize), ctx: tc, report: progress}
	var r io.Reader = src
	if m.codec != nil {
		if in, ok := format.CodecFor(sf.File); ok {
			dec, err := in.NewReader(src)
			if err != nil {
				return 0, fmt.Errorf("read %s: %w", sf.File, err)
			}
			defer dec.Close()
			r = dec
		}
	}
	if _, err := io.Copy(dst, r); err != nil {
		return src.n, fmt.Errorf("copy %s: %w", sf.File, err)
	}
	if src.n != sf.FileSize {
		return src.n, fmt.Errorf("copy %s: read %d bytes of the %d planned", sf.File, src.n, sf.FileSize)
	}
	if cs, ok := f.(mapreduce.CounterSource); ok {
		for k, v := range cs.Counters() {
			tc.Counters.Add(k, v)
		}
	}
	return src.n, nil
}

// progressReader counts what it reads, reports it, and stops when the
// task is cancelled.
type progressReader struct {
	r      io.Reader
	ctx    *mapreduce.TaskContext
	report func(int64)
	n      int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Context().Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.report(p.n)
	return n, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
