package localcluster

import (
	"os"
	"path/filepath"
	"runtime"
)

// DefaultDataRoots returns the data roots of a local cluster whose
// configuration names none (Config.DataRoots): the working folder, the
// cluster's data folder, the temp folder (os.TempDir(), where tests and
// generated samples live) and /tmp when TMPDIR names another, all of HDFS and, when the cluster runs its own
// S3 endpoint, every bucket of it.
func DefaultDataRoots(dataDir string, embeddedS3 bool) []string {
	var roots []string
	if wd, err := os.Getwd(); err == nil {
		roots = append(roots, wd)
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		roots = append(roots, abs)
	}
	roots = append(roots, os.TempDir())
	if sys := "/tmp"; runtime.GOOS != "windows" && filepath.Clean(os.TempDir()) != sys {
		roots = append(roots, sys) // TMPDIR names another: data in /tmp keeps working
	}
	roots = append(roots, "hdfs:///")
	if embeddedS3 {
		roots = append(roots, "s3://")
	}
	return roots
}

// dataRoots returns the data roots of the cluster's primaries.
func (c *Cluster) dataRoots() []string {
	if len(c.cfg.DataRoots) > 0 {
		return c.cfg.DataRoots
	}
	return DefaultDataRoots(c.cfg.DataDir, c.cfg.S3 == nil)
}
