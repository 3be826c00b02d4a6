package mapreduce

import (
	"hash/crc32"
	"sync"
)

// castagnoli is the CRC-32C table of the manifests.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DescribeWrites returns w, computing the size and CRC-32C of what is
// written through it: once Close succeeds, it adds the file's manifest
// entry, under name, to into. A committer's task output records them, so
// that the job commit's manifest need not read the files back.
func DescribeWrites(w FileWriter, name string, into *Descriptions) FileWriter {
	return &describedWriter{FileWriter: w, name: name, into: into}
}

type describedWriter struct {
	FileWriter
	name string
	into *Descriptions
	size int64
	crc  uint32
}

func (w *describedWriter) Write(p []byte) (int, error) {
	n, err := w.FileWriter.Write(p)
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	w.size += int64(n)
	return n, err
}

func (w *describedWriter) Close() error {
	if err := w.FileWriter.Close(); err != nil {
		return err
	}
	w.into.Add([]ManifestFile{{Name: w.name, Size: w.size, CRC32C: w.crc}})
	return nil
}

// Descriptions are manifest entries of files taken when they were
// written, keyed by their names: those a task output closed, or those
// the committed records described. The zero value is empty and ready.
type Descriptions struct {
	mu    sync.Mutex
	files map[string]ManifestFile
}

// Add records entries, replacing any of the same names.
func (d *Descriptions) Add(files []ManifestFile) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.files == nil {
		d.files = map[string]ManifestFile{}
	}
	for _, f := range files {
		d.files[f.Name] = f
	}
}

// Lookup returns the entry of the output file name if one was recorded
// with the size the file has; any other file must be read for its
// checksum.
func (d *Descriptions) Lookup(name string, size int64) (ManifestFile, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.files[name]
	return f, ok && f.Size == size
}

// Of returns the entries of the names that have one, in their order.
func (d *Descriptions) Of(names []string) []ManifestFile {
	d.mu.Lock()
	defer d.mu.Unlock()
	var files []ManifestFile
	for _, name := range names {
		if f, ok := d.files[name]; ok {
			files = append(files, f)
		}
	}
	return files
}
