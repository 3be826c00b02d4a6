package format

import (
	"bytes"
	"fmt"
)

// KeySeparator separates the key columns in the key of a job's output
// pair, and ValueSeparator the value columns in its value.
const (
	KeySeparator   = '|'
	ValueSeparator = '\t'
)

// PairError is the error for an output pair that does not fit the
// schema; it names the key (cut to 200 bytes).
type PairError struct {
	Key string
	Err error
}

func (e *PairError) Error() string {
	return fmt.Sprintf("output pair with key %q: %v", e.Key, e.Err)
}

// Unwrap returns the underlying error.
func (e *PairError) Unwrap() error { return e.Err }

// RowFromPair turns a job's text output pair into a row of schema: the key
// is split on '|' into the first keyColumns columns and the value on '\t'
// into the rest, and each field is parsed by its column (Column.Parse, so
// an empty field is a null, an error in a non-nullable column). The last
// key column takes the rest of the key and the last value column the rest
// of the value, so a key of one string column may hold '|' (a word count
// key "a|b" is one word); fewer fields than columns is an error. With no
// value columns the value must be empty, and with no key columns the key.
// For example, word count is "word:string | count:int64" (one key column)
// and a log aggregation "status:string,hour:string |
// requests:int64,bytes:int64" (two); see ParsePairSchema.
//
// Errors are *PairError naming the key.
func RowFromPair(schema Schema, keyColumns int, key, value []byte) ([]Value, error) {
	if keyColumns < 0 || keyColumns > len(schema) {
		return nil, fmt.Errorf("RowFromPair: %d key columns in a schema of %d columns", keyColumns, len(schema))
	}
	row := make([]Value, 0, len(schema))
	row, err := appendFields(row, schema[:keyColumns], key, KeySeparator, "key")
	if err == nil {
		row, err = appendFields(row, schema[keyColumns:], value, ValueSeparator, "value")
	}
	if err != nil {
		k := key
		if len(k) > 200 {
			k = k[:200]
		}
		return nil, &PairError{Key: string(k), Err: err}
	}
	return row, nil
}

func appendFields(row []Value, cols Schema, data []byte, sep byte, what string) ([]Value, error) {
	if len(cols) == 0 {
		if len(data) > 0 {
			return nil, fmt.Errorf("the %s is not empty but the schema has no %s columns", what, what)
		}
		return row, nil
	}
	rest := data
	for i, c := range cols {
		var field []byte
		if i == len(cols)-1 {
			field = rest
		} else {
			j := bytes.IndexByte(rest, sep)
			if j < 0 {
				return nil, fmt.Errorf("the %s has %d fields separated by %q, the schema has %d %s columns (%s)", what, i+1, sep, len(cols), what, cols)
			}
			field, rest = rest[:j], rest[j+1:]
		}
		v, err := c.Parse(string(field))
		if err != nil {
			return nil, fmt.Errorf("%s field %d: %w", what, i+1, err)
		}
		row = append(row, v)
	}
	return row, nil
}
