package jobs

import (
	"slices"
	"strconv"

	"github.com/gomr/gomr/mapreduce"
)

func invertedIndex() *Definition {
	return &Definition{
		Name:    "invertedindex",
		Summary: "index words by document; lines word<TAB>N<TAB>doc1,doc2,... (documents sorted)",
		Options: []Option{{Name: "lower", Usage: "fold words to lower case", Default: "false", Bool: true}},
		// Typed output: a row (word, documents, docs) per word, docs
		// being the comma-separated document names.
		typed: &typedFormats{rows: pairRows("word:string | documents:int64,docs:string")},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			return &mapreduce.Job{
				Mapper:   &indexMapper{lower: boolOpt(opts, "lower")},
				Combiner: distinctDocs{},
				Reducer:  indexReducer{},
			}, nil
		},
	}
}

type indexMapper struct {
	lower bool
	buf   []byte
	doc   []byte
}

func (m *indexMapper) Map(_ *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	m.doc = append(m.doc[:0], rec.Doc...)
	return forEachWord(rec.Line, func(w []byte) error {
		if m.lower {
			m.buf = lowerInto(m.buf, w)
			w = m.buf
		}
		return out.Emit(w, m.doc)
	})
}

// sortedDistinct returns the distinct values, sorted.
func sortedDistinct(values *mapreduce.Values) []string {
	var docs []string
	for values.Next() {
		v := values.Value()
		// Values of a key mostly repeat the previous one: skip those cheaply.
		if n := len(docs); n > 0 && docs[n-1] == string(v) {
			continue
		}
		docs = append(docs, string(v))
	}
	slices.Sort(docs)
	return slices.Compact(docs)
}

// distinctDocs emits each document of a word once.
type distinctDocs struct{}

func (distinctDocs) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	for _, d := range sortedDistinct(values) {
		if err := out.Emit(key, []byte(d)); err != nil {
			return err
		}
	}
	return nil
}

// indexReducer emits "N<TAB>doc1,doc2,..." for each word.
type indexReducer struct{}

func (indexReducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	docs := sortedDistinct(values)
	v := strconv.AppendInt(nil, int64(len(docs)), 10)
	v = append(v, '\t')
	for i, d := range docs {
		if i > 0 {
			v = append(v, ',')
		}
		v = append(v, d...)
	}
	return out.Emit(key, v)
}
