package format

import "fmt"

// inferOrder is the order in which Inferrer prefers types: the first that
// every non-empty value of a column parses as wins, String when none does.
var inferOrder = [...]Type{Int64, Double, Boolean, Timestamp}

// Inferrer infers a schema from rows of text fields (a CSV file's header
// and records): for each column the narrowest type that every non-empty
// value parses as by ParseValue, trying int64, then double, then boolean
// (only true/false), then timestamp, else string. A column is nullable
// when any of its fields is empty; a column with no non-empty field is a
// nullable string. Since the rules are ParseValue's, every row the
// Inferrer saw converts under the inferred schema (Schema.ParseRow).
type Inferrer struct {
	names []string
	cols  []inferCol
	rows  int64
}

type inferCol struct {
	possible  [len(inferOrder)]bool // inferOrder[i] still fits every value
	remaining int                   // number of true entries of possible
	nonEmpty  bool
	empty     bool
}

// NewInferrer returns an Inferrer for columns with the given names (a
// header). Names must be valid column names (see ParseSchema) and unique.
func NewInferrer(names []string) (*Inferrer, error) {
	schema := make(Schema, len(names))
	for i, n := range names {
		schema[i] = Column{Name: n, Type: String}
	}
	if err := schema.Validate(); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	in := &Inferrer{names: append([]string(nil), names...), cols: make([]inferCol, len(names))}
	for i := range in.cols {
		c := &in.cols[i]
		for k := range c.possible {
			c.possible[k] = true
		}
		c.remaining = len(inferOrder)
	}
	return in, nil
}

// Add feeds one row. A row with a different number of fields than the
// header is a *FieldCountError and changes nothing.
func (in *Inferrer) Add(fields []string) error {
	if len(fields) != len(in.cols) {
		return &FieldCountError{Fields: len(fields), Want: len(in.cols)}
	}
	in.rows++
	for i, f := range fields {
		c := &in.cols[i]
		if f == "" {
			c.empty = true
			continue
		}
		c.nonEmpty = true
		if c.remaining == 0 {
			continue
		}
		for k, t := range inferOrder {
			if !c.possible[k] {
				continue
			}
			if _, err := ParseValue(t, f); err != nil {
				c.possible[k] = false
				c.remaining--
			}
		}
	}
	return nil
}

// Rows returns the number of rows added.
func (in *Inferrer) Rows() int64 { return in.rows }

// Schema returns the schema inferred from the rows added so far.
func (in *Inferrer) Schema() Schema {
	s := make(Schema, len(in.cols))
	for i, c := range in.cols {
		col := Column{Name: in.names[i], Type: String, Nullable: c.empty || !c.nonEmpty}
		if c.nonEmpty {
			for k, t := range inferOrder {
				if c.possible[k] {
					col.Type = t
					break
				}
			}
		}
		s[i] = col
	}
	return s
}
