package mapreduce

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// SameOutput compares two local output folders file by file, byte for
// byte, ignoring _SUCCESS (whose manifest holds timings and ids). When
// they differ, diff says how: the file lists, or the first file that
// differs.
func SameOutput(a, b string) (same bool, diff string, err error) {
	la, err := outputFiles(a)
	if err != nil {
		return false, "", err
	}
	lb, err := outputFiles(b)
	if err != nil {
		return false, "", err
	}
	if !slices.Equal(la, lb) {
		return false, fmt.Sprintf("files %v vs %v", la, lb), nil
	}
	for _, name := range la {
		ba, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			return false, "", err
		}
		bb, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			return false, "", err
		}
		if !bytes.Equal(ba, bb) {
			return false, name + " differs", nil
		}
	}
	return true, "", nil
}

// outputFiles lists the files of an output folder but _SUCCESS, by path
// relative to it.
func outputFiles(dir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() == SuccessFile {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		names = append(names, rel)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list output %s: %w", dir, err)
	}
	return names, nil
}
