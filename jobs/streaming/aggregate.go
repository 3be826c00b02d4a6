package streaming

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/gomr/gomr/mapreduce"
)

// identityReducer writes every pair as it is (Hadoop's IdentityReducer,
// the reducer when none is given); an empty value writes the key alone.
type identityReducer struct{}

func (identityReducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	for values.Next() {
		v := values.Value()
		if len(v) == 0 {
			v = nil
		}
		if err := out.Emit(key, v); err != nil {
			return err
		}
	}
	return nil
}

// Hadoop's aggregate package (org.apache.hadoop.mapred.lib.aggregate): the
// mapper's keys are TYPE:ID, and for each key the reducer folds the values
// with TYPE's aggregator and writes ID<TAB>report:
//
//	LongValueSum    sum of integers
//	LongValueMax    largest integer
//	LongValueMin    smallest integer
//	DoubleValueSum  sum of numbers, written as Java writes a double (3.0)
//	StringValueMax  largest value (byte order)
//	StringValueMin  smallest value (byte order)
//	UniqValueCount  number of distinct values
//	ValueHistogram  values are ITEM or ITEM<TAB>COUNT; the report is
//	                distinct items, then the minimum, median and maximum
//	                of their counts, the average and the standard
//	                deviation, tab-separated
//
// The combiner folds the same way and writes TYPE:ID with the folded
// values in the mapper's format (a sum; the distinct values; ITEM<TAB>COUNT
// for each item), so it is valid for every type.
type aggregator interface {
	reset()
	add(v []byte) error
	report(dst []byte) []byte
	combined(emit func(v []byte) error) error
}

// aggregators keeps one aggregator of each type, reused key after key.
type aggregators struct {
	m   map[string]aggregator
	buf []byte
}

func (a *aggregators) get(key []byte) (agg aggregator, id []byte, err error) {
	i := bytes.IndexByte(key, ':')
	if i < 0 {
		return nil, nil, fmt.Errorf("aggregate: key %q is not TYPE:ID (LongValueSum:word)", key)
	}
	if agg = a.m[string(key[:i])]; agg == nil {
		switch string(key[:i]) {
		case "LongValueSum":
			agg = &longSum{}
		case "LongValueMax":
			agg = &longExtreme{max: true}
		case "LongValueMin":
			agg = &longExtreme{}
		case "DoubleValueSum":
			agg = &doubleSum{}
		case "StringValueMax":
			agg = &stringExtreme{max: true}
		case "StringValueMin":
			agg = &stringExtreme{}
		case "UniqValueCount":
			agg = &uniqCount{}
		case "ValueHistogram":
			agg = &histogram{}
		default:
			return nil, nil, fmt.Errorf("aggregate: key %q: unknown type %q (LongValueSum, LongValueMax, LongValueMin, DoubleValueSum, StringValueMax, StringValueMin, UniqValueCount, ValueHistogram)", key, key[:i])
		}
		if a.m == nil {
			a.m = map[string]aggregator{}
		}
		a.m[string(key[:i])] = agg
	}
	agg.reset()
	return agg, key[i+1:], nil
}

func (a *aggregators) fold(key []byte, values *mapreduce.Values) (aggregator, []byte, error) {
	agg, id, err := a.get(key)
	if err != nil {
		return nil, nil, err
	}
	for values.Next() {
		if err := agg.add(values.Value()); err != nil {
			return nil, nil, fmt.Errorf("aggregate: key %q: %w", key, err)
		}
	}
	return agg, id, nil
}

// aggregateReducer is Hadoop's ValueAggregatorReducer.
type aggregateReducer struct{ aggregators }

func (r *aggregateReducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	agg, id, err := r.fold(key, values)
	if err != nil {
		return err
	}
	r.buf = agg.report(r.buf[:0])
	return out.Emit(id, r.buf)
}

// aggregateCombiner is Hadoop's ValueAggregatorCombiner.
type aggregateCombiner struct{ aggregators }

func (c *aggregateCombiner) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	agg, _, err := c.fold(key, values)
	if err != nil {
		return err
	}
	return agg.combined(func(v []byte) error { return out.Emit(key, v) })
}

// parseLong parses a decimal integer as Java's Long.parseLong does.
func parseLong(v []byte) (int64, error) {
	neg := false
	d := v
	if len(d) > 0 && (d[0] == '-' || d[0] == '+') {
		neg, d = d[0] == '-', d[1:]
	}
	if len(d) == 0 || len(d) > 18 {
		return strconv.ParseInt(string(v), 10, 64) // errors, and the long ones
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("value %q is not an integer", v)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

type longSum struct {
	sum int64
	buf []byte
}

func (a *longSum) reset() { a.sum = 0 }
func (a *longSum) add(v []byte) error {
	n, err := parseLong(v)
	a.sum += n // wraps as Java's long does
	return err
}
func (a *longSum) report(dst []byte) []byte { return strconv.AppendInt(dst, a.sum, 10) }
func (a *longSum) combined(emit func([]byte) error) error {
	a.buf = strconv.AppendInt(a.buf[:0], a.sum, 10)
	return emit(a.buf)
}

type longExtreme struct {
	max bool
	v   int64
	buf []byte
}

func (a *longExtreme) reset() {
	a.v = math.MaxInt64
	if a.max {
		a.v = math.MinInt64
	}
}
func (a *longExtreme) add(v []byte) error {
	n, err := parseLong(v)
	if err != nil {
		return err
	}
	if (a.max && n > a.v) || (!a.max && n < a.v) {
		a.v = n
	}
	return nil
}
func (a *longExtreme) report(dst []byte) []byte { return strconv.AppendInt(dst, a.v, 10) }
func (a *longExtreme) combined(emit func([]byte) error) error {
	a.buf = strconv.AppendInt(a.buf[:0], a.v, 10)
	return emit(a.buf)
}

type doubleSum struct {
	sum float64
	buf []byte
}

func (a *doubleSum) reset() { a.sum = 0 }
func (a *doubleSum) add(v []byte) error {
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
	if err != nil {
		return fmt.Errorf("value %q is not a number", v)
	}
	a.sum += f
	return nil
}
func (a *doubleSum) report(dst []byte) []byte { return appendJavaDouble(dst, a.sum) }
func (a *doubleSum) combined(emit func([]byte) error) error {
	a.buf = strconv.AppendFloat(a.buf[:0], a.sum, 'g', -1, 64) // exact
	return emit(a.buf)
}

type stringExtreme struct {
	max bool
	set bool
	v   []byte
}

func (a *stringExtreme) reset() { a.set, a.v = false, a.v[:0] }
func (a *stringExtreme) add(v []byte) error {
	if c := bytes.Compare(v, a.v); !a.set || (a.max && c > 0) || (!a.max && c < 0) {
		a.v, a.set = append(a.v[:0], v...), true
	}
	return nil
}
func (a *stringExtreme) report(dst []byte) []byte { return append(dst, a.v...) }
func (a *stringExtreme) combined(emit func([]byte) error) error {
	return emit(a.v)
}

type uniqCount struct{ items map[string]struct{} }

func (a *uniqCount) reset() {
	if a.items == nil {
		a.items = map[string]struct{}{}
	}
	clear(a.items)
}
func (a *uniqCount) add(v []byte) error {
	if _, ok := a.items[string(v)]; !ok {
		a.items[string(v)] = struct{}{}
	}
	return nil
}
func (a *uniqCount) report(dst []byte) []byte { return strconv.AppendInt(dst, int64(len(a.items)), 10) }
func (a *uniqCount) combined(emit func([]byte) error) error {
	keys := make([]string, 0, len(a.items))
	for k := range a.items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := emit([]byte(k)); err != nil {
			return err
		}
	}
	return nil
}

type histogram struct {
	items map[string]int64
	buf   []byte
}

func (a *histogram) reset() {
	if a.items == nil {
		a.items = map[string]int64{}
	}
	clear(a.items)
}
func (a *histogram) add(v []byte) error {
	item, n := v, int64(1)
	if i := bytes.LastIndexByte(v, '\t'); i >= 0 {
		var err error
		if n, err = parseLong(v[i+1:]); err != nil {
			return err
		}
		item = v[:i]
	}
	a.items[string(item)] += n
	return nil
}
func (a *histogram) report(dst []byte) []byte {
	counts := make([]int64, 0, len(a.items))
	for _, n := range a.items {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	dst = strconv.AppendInt(dst, int64(len(counts)), 10)
	if len(counts) == 0 {
		return dst
	}
	var acc int64
	for _, n := range counts {
		acc += n
	}
	avg := float64(acc) / float64(len(counts))
	var sd float64
	for _, n := range counts {
		d := float64(n) - avg
		sd += d * d
	}
	sd = math.Sqrt(sd / float64(len(counts)))
	for _, n := range []int64{counts[0], counts[len(counts)/2], counts[len(counts)-1]} {
		dst = append(dst, '\t')
		dst = strconv.AppendInt(dst, n, 10)
	}
	dst = appendJavaDouble(append(dst, '\t'), avg)
	return appendJavaDouble(append(dst, '\t'), sd)
}
func (a *histogram) combined(emit func([]byte) error) error {
	keys := make([]string, 0, len(a.items))
	for k := range a.items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		a.buf = append(append(a.buf[:0], k...), '\t')
		a.buf = strconv.AppendInt(a.buf, a.items[k], 10)
		if err := emit(a.buf); err != nil {
			return err
		}
	}
	return nil
}

// appendJavaDouble formats f as Java's Double.toString does (JDK 19 and
// later): the shortest digits that identify it, as 123.45 when
// 1e-3 <= |f| < 1e7 and as 1.2345E10 otherwise, with at least one digit
// after the point.
func appendJavaDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // d.ddde±XX
	e := bytes.IndexByte(s, 'e')
	exp, _ := strconv.Atoi(string(s[e+1:]))
	digits := make([]byte, 0, 24)
	for _, c := range s[:e] {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	if len(digits) == 1 {
		// Java shows at least two digits, and picks the two closest to
		// the value: 4.9E-324, not 5.0E-324.
		s = strconv.AppendFloat(buf[:0], f, 'e', 1, 64)
		if s[2] != '0' {
			digits = append(digits[:0], s[0], s[2])
			exp, _ = strconv.Atoi(string(s[bytes.IndexByte(s, 'e')+1:]))
		}
	}
	if f >= 1e-3 && f < 1e7 {
		if exp < 0 {
			dst = append(dst, "0."...)
			for range -exp - 1 {
				dst = append(dst, '0')
			}
			return append(dst, digits...)
		}
		for i := 0; i <= exp; i++ {
			if i < len(digits) {
				dst = append(dst, digits[i])
			} else {
				dst = append(dst, '0')
			}
		}
		dst = append(dst, '.')
		if exp+1 < len(digits) {
			return append(dst, digits[exp+1:]...)
		}
		return append(dst, '0')
	}
	dst = append(dst, digits[0], '.')
	if len(digits) > 1 {
		dst = append(dst, digits[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}
