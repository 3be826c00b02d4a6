package primarypb

import "github.com/gomr/gomr/mapreduce"

// SplitProto converts an engine split to its wire form.
func SplitProto(s mapreduce.Split) *Split {
	p := &Split{File: s.File, Doc: s.Doc, Offset: s.Offset, Length: s.Length, FileSize: s.FileSize, ModTimeUnixNano: s.ModTime}
	for _, f := range s.More {
		p.More = append(p.More, &SplitFile{File: f.File, Doc: f.Doc, FileSize: f.FileSize, ModTimeUnixNano: f.ModTime})
	}
	return p
}

// Engine returns the split the engine reads.
func (s *Split) Engine() mapreduce.Split {
	e := mapreduce.Split{File: s.GetFile(), Doc: s.GetDoc(), Offset: s.GetOffset(), Length: s.GetLength(), FileSize: s.GetFileSize(), ModTime: s.GetModTimeUnixNano()}
	for _, f := range s.GetMore() {
		e.More = append(e.More, mapreduce.SplitFile{File: f.GetFile(), Doc: f.GetDoc(), FileSize: f.GetFileSize(), ModTime: f.GetModTimeUnixNano()})
	}
	return e
}
