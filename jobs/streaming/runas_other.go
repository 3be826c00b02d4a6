//go:build !unix

package streaming

import (
	"io/fs"

	"github.com/gomr/gomr/mapreduce"
)

// searchable is false: streaming commands need a Unix system.
func searchable(fs.FileInfo, *mapreduce.RunAs) bool { return false }
