package primarypb

import "github.com/gomr/gomr/mapreduce"

// SplitProto converts an engine split to its wire form.
func SplitProto(s mapreduce.Split) *Split {
	return &Split{File: s.File, Doc: s.Doc, Offset: s.Offset, Length: s.Length, FileSize: s.FileSize, ModTimeUnixNano: s.ModTime}
}

// Engine returns the split the engine reads.
func (s *Split) Engine() mapreduce.Split {
	return mapreduce.Split{File: s.GetFile(), Doc: s.GetDoc(), Offset: s.GetOffset(), Length: s.GetLength(), FileSize: s.GetFileSize(), ModTime: s.GetModTimeUnixNano()}
}
