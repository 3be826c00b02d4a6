package format

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Type is the type of a column. The zero Type is invalid, so a Column
// whose type was never set is caught by Schema.Validate.
type Type uint8

// The column types. Each has one Go type for its values (see Value).
const (
	// String is UTF-8 text; its values are Go strings.
	String Type = iota + 1
	// Int64 is a signed 64-bit integer; its values are int64.
	Int64
	// Double is an IEEE 754 binary64 number; its values are float64.
	Double
	// Boolean is true or false; its values are bool.
	Boolean
	// Timestamp is an instant with nanosecond precision between the years
	// 1677 and 2262 (the range of int64 nanoseconds since the Unix epoch,
	// which is how Parquet stores it); its values are time.Time in UTC.
	Timestamp
)

var typeNames = [...]string{
	String:    "string",
	Int64:     "int64",
	Double:    "double",
	Boolean:   "boolean",
	Timestamp: "timestamp",
}

// String returns the name of the type as ParseSchema spells it.
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Valid reports whether t is one of the defined types.
func (t Type) Valid() bool { return t >= String && t <= Timestamp }

// ParseType returns the type of a name as Type.String spells it
// (string, int64, double, boolean, timestamp; case-insensitive).
func ParseType(name string) (Type, error) {
	for t := String; t <= Timestamp; t++ {
		if strings.EqualFold(name, typeNames[t]) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown type %q (the types are string, int64, double, boolean, timestamp)", name)
}

// Column is one named, typed column of a Schema. A Nullable column may
// hold nulls (nil values); a required one may not.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
}

// String returns the column as ParseSchema spells it: name:type, with a
// trailing ? when it is nullable.
func (c Column) String() string {
	s := c.Name + ":" + c.Type.String()
	if c.Nullable {
		s += "?"
	}
	return s
}

// Schema is the ordered list of columns of a row. A row is a []Value with
// one value per column, in this order.
type Schema []Column

// ErrSchema is wrapped by every error about a malformed schema.
var ErrSchema = errors.New("invalid schema")

// ParseSchema parses a schema written as "name:type[?],...": columns
// separated by commas, each a name, a colon and a type name (string,
// int64, double, boolean, timestamp), with a trailing ? for a nullable
// column. Spaces around names and types are ignored. Names must be unique
// and may not contain commas, colons, question marks or control
// characters. Schema.String gives the same text back (without spaces).
func ParseSchema(s string) (Schema, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty schema (want name:type[?],...)", ErrSchema)
	}
	var schema Schema
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, typ, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("%w: column %d %q: want name:type[?]", ErrSchema, i+1, part)
		}
		name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
		col := Column{Name: name}
		if t, found := strings.CutSuffix(typ, "?"); found {
			col.Nullable = true
			typ = strings.TrimSpace(t)
		}
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("%w: column %d: %v", ErrSchema, i+1, err)
		}
		t, err := ParseType(typ)
		if err != nil {
			return nil, fmt.Errorf("%w: column %q: %v", ErrSchema, name, err)
		}
		col.Type = t
		schema = append(schema, col)
	}
	if err := schema.Validate(); err != nil {
		return nil, err
	}
	return schema, nil
}

// ParsePairSchema parses the schema of a job's text output as
// "key columns | value columns", e.g. "word:string | count:int64" or
// "status:string,hour:string | requests:int64,bytes:int64", and returns the
// whole schema with the number of key columns (see RowFromPair). Without a
// '|' every column is a key column.
func ParsePairSchema(s string) (Schema, int, error) {
	keyPart, valuePart, hasValue := strings.Cut(s, "|")
	key, err := ParseSchema(keyPart)
	if err != nil {
		return nil, 0, fmt.Errorf("key columns: %w", err)
	}
	if !hasValue {
		return key, len(key), nil
	}
	value, err := ParseSchema(valuePart)
	if err != nil {
		return nil, 0, fmt.Errorf("value columns: %w", err)
	}
	all := append(append(Schema{}, key...), value...)
	if err := all.Validate(); err != nil {
		return nil, 0, err
	}
	return all, len(key), nil
}

// String returns the schema as ParseSchema reads it.
func (s Schema) String() string {
	parts := make([]string, len(s))
	for i, c := range s {
		parts[i] = c.String()
	}
	return strings.Join(parts, ",")
}

// Validate checks that the schema has at least one column, that every
// column has a valid name and type, and that no name repeats.
func (s Schema) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("%w: no columns", ErrSchema)
	}
	seen := make(map[string]bool, len(s))
	for i, c := range s {
		if err := checkName(c.Name); err != nil {
			return fmt.Errorf("%w: column %d: %v", ErrSchema, i+1, err)
		}
		if !c.Type.Valid() {
			return fmt.Errorf("%w: column %q has no valid type (%v)", ErrSchema, c.Name, c.Type)
		}
		if seen[c.Name] {
			return fmt.Errorf("%w: column %q appears twice", ErrSchema, c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// Index returns the position of the column named name, or -1.
func (s Schema) Index(name string) int {
	for i, c := range s {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// checkName refuses a column name that ParseSchema could not read back.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty column name")
	case !utf8.ValidString(name):
		return fmt.Errorf("column name %q is not valid UTF-8", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("column name %q starts or ends with white space", name)
	case strings.ContainsAny(name, ",:?"):
		return fmt.Errorf("column name %q contains one of , : ? (which the schema syntax uses)", name)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("column name %q contains a control character", name)
	}
	return nil
}
