package jobs

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/gomr/gomr/mapreduce"
)

func wordCount() *Definition {
	return &Definition{
		Name:    "wordcount",
		Summary: "count words (maximal runs of Unicode letters); lines word<TAB>count",
		Options: []Option{{Name: "lower", Usage: "fold words to lower case", Default: "false", Bool: true}},
		// Typed output: a row (word, count) per word.
		typed: &typedFormats{rows: pairRows("word:string | count:int64")},
		build: func(opts map[string]string) (*mapreduce.Job, error) {
			return &mapreduce.Job{
				Mapper:   &wordCountMapper{lower: boolOpt(opts, "lower")},
				Combiner: sumCombiner{},
				Reducer:  sumReducer{},
			}, nil
		},
	}
}

// one is the varint encoding of 1, the value of every word occurrence.
var one = []byte{1}

type wordCountMapper struct {
	lower bool
	buf   []byte
}

func (m *wordCountMapper) Map(_ *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	return forEachWord(rec.Line, func(w []byte) error {
		if m.lower {
			m.buf = lowerInto(m.buf, w)
			w = m.buf
		}
		return out.Emit(w, one)
	})
}

// sumValues adds up varint-encoded counts.
func sumValues(key []byte, values *mapreduce.Values) (uint64, error) {
	var sum uint64
	for values.Next() {
		v := values.Value()
		if len(v) == 1 && v[0] < 0x80 {
			sum += uint64(v[0]) // a one-byte varint: most counts
			continue
		}
		n, k := binary.Uvarint(v)
		if k <= 0 {
			return 0, fmt.Errorf("key %q: corrupt count", key)
		}
		sum += n
	}
	return sum, nil
}

// sumCombiner adds up varint counts and emits their sum as a varint.
type sumCombiner struct{}

func (sumCombiner) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	sum, err := sumValues(key, values)
	if err != nil {
		return err
	}
	return out.Emit(key, binary.AppendUvarint(nil, sum))
}

// Fold adds a varint count to a varint sum, in place. It makes
// sumCombiner a mapreduce.Folder; as a mapreduce.UvarintSums
// (UvarintFields) the map task's hash table adds counts as integers
// without it.
func (sumCombiner) Fold(acc, value []byte) ([]byte, error) {
	if len(acc) == 1 && len(value) == 1 && acc[0]+value[0] < 0x80 {
		acc[0] += value[0] // two one-byte varints with a one-byte sum: most counts
		return acc, nil
	}
	a, n := binary.Uvarint(acc)
	b, m := binary.Uvarint(value)
	if n <= 0 || m <= 0 {
		return nil, fmt.Errorf("corrupt count")
	}
	return binary.AppendUvarint(acc[:0], a+b), nil
}

// UvarintFields makes sumCombiner a mapreduce.UvarintSums of one field,
// the count: a map task's hash table keeps each key's count as an
// integer and encodes it only when it writes a run.
func (sumCombiner) UvarintFields() int { return 1 }

// sumReducer adds up varint counts and emits their sum in decimal.
type sumReducer struct{}

func (sumReducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	sum, err := sumValues(key, values)
	if err != nil {
		return err
	}
	return out.Emit(key, strconv.AppendUint(nil, sum, 10))
}
