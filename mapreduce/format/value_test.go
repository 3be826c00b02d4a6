package format

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		typ     Type
		in      string
		want    Value
		wantErr string
	}{
		{String, "", nil, ""},
		{String, " x ", " x ", ""},
		{Int64, "", nil, ""},
		{Int64, "42", int64(42), ""},
		{Int64, "-9223372036854775808", int64(math.MinInt64), ""},
		{Int64, "9223372036854775807", int64(math.MaxInt64), ""},
		{Int64, "+7", int64(7), ""},
		{Int64, "007", int64(7), ""},
		{Int64, "9223372036854775808", nil, "out of range"},
		{Int64, "1.0", nil, "not an int64"},
		{Int64, "1e3", nil, "not an int64"},
		{Int64, "0x10", nil, "not an int64"},
		{Int64, "1_000", nil, "not an int64"},
		{Int64, " 1", nil, "not an int64"},
		{Double, "1.5", 1.5, ""},
		{Double, "5", 5.0, ""},
		{Double, "-0.25", -0.25, ""},
		{Double, ".5", 0.5, ""},
		{Double, "1e-3", 0.001, ""},
		{Double, "1E+21", 1e21, ""},
		{Double, "1e-400", 0.0, ""},
		{Double, "1e400", nil, "beyond the float64 range"},
		{Double, "NaN", nil, "NaN and Inf are not accepted"},
		{Double, "Inf", nil, "not a double"},
		{Double, "-Infinity", nil, "not a double"},
		{Double, "0x1p3", nil, "not a double"},
		{Double, "1_0", nil, "not a double"},
		{Double, "1.2.3", nil, "not a double"},
		{Double, "e", nil, "not a double"},
		{Boolean, "true", true, ""},
		{Boolean, "FALSE", false, ""},
		{Boolean, "True", true, ""},
		{Boolean, "1", nil, "not a boolean"},
		{Boolean, "yes", nil, "not a boolean"},
		{Boolean, "t", nil, "not a boolean"},
		{Timestamp, "2025-06-05T09:16:03.063Z", ts("2025-06-05T09:16:03.063Z"), ""},
		{Timestamp, "2025-06-05T09:16:03Z", ts("2025-06-05T09:16:03Z"), ""},
		{Timestamp, "2025-06-05t09:16:03z", ts("2025-06-05T09:16:03Z"), ""},
		{Timestamp, "2025-06-05T11:16:03.5+02:00", ts("2025-06-05T09:16:03.5Z"), ""},
		{Timestamp, "2025-06-05T09:16:03.123456789Z", ts("2025-06-05T09:16:03.123456789Z"), ""},
		{Timestamp, "2025-06-05 09:16:03", ts("2025-06-05T09:16:03Z"), ""},
		{Timestamp, "2025-06-05 09:16:03.25", ts("2025-06-05T09:16:03.25Z"), ""},
		{Timestamp, "2025-06-05 09:16:03-01:30", ts("2025-06-05T10:46:03Z"), ""},
		{Timestamp, "2025-06-05", ts("2025-06-05T00:00:00Z"), ""},
		{Timestamp, "2024-02-29", ts("2024-02-29T00:00:00Z"), ""},
		{Timestamp, "1677-09-21T00:12:43.145224192Z", time.Unix(0, math.MinInt64).UTC(), ""},
		{Timestamp, "2262-04-11T23:47:16.854775807Z", time.Unix(0, math.MaxInt64).UTC(), ""},
		{Timestamp, "2262-04-11T23:47:16.854775808Z", nil, "outside the range"},
		{Timestamp, "1600-01-01", nil, "outside the range"},
		{Timestamp, "2025-06-05T09:16:03", nil, "needs a time zone"},
		{Timestamp, "2025-06-05T09:16:03.1234567891Z", nil, "finer than nanoseconds"},
		{Timestamp, "2025-06-05T09:16:03.Z", nil, "no digits after the decimal point"},
		{Timestamp, "2025-06-05T09:16:03,5Z", nil, "unexpected ','"},
		{Timestamp, "2025-06-05T09:16:60Z", nil, "leap seconds"},
		{Timestamp, "2025-06-05T24:00:00Z", nil, "hour 24"},
		{Timestamp, "2023-02-29", nil, "day 29 is out of range"},
		{Timestamp, "2025-13-01", nil, "month 13"},
		{Timestamp, "2025-6-05", nil, "digits of month"},
		{Timestamp, "2025-06-05T09:16:03+0200", nil, "':' in the offset"},
		{Timestamp, "2025-06-05T09:16:03+24:00", nil, "offset +24:00 is out of range"},
		{Timestamp, "2025-06-05T09:16:03Zx", nil, "unexpected text"},
		{Timestamp, "2025-06-05X", nil, "want T or a space"},
		{Timestamp, "1749114963", nil, "not a timestamp"},
	}
	for _, tt := range tests {
		got, err := ParseValue(tt.typ, tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrValue) {
				t.Errorf("ParseValue(%v, %q) = %v, %v; want an error containing %q", tt.typ, tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseValue(%v, %q): %v", tt.typ, tt.in, err)
			continue
		}
		if got != tt.want { // == on time.Time: same instant and location
			t.Errorf("ParseValue(%v, %q) = %#v, want %#v", tt.typ, tt.in, got, tt.want)
		}
	}
}

func TestFormatValueRoundTrip(t *testing.T) {
	values := []struct {
		typ  Type
		v    Value
		text string
	}{
		{String, "a,b\"c", "a,b\"c"},
		{Int64, int64(math.MinInt64), "-9223372036854775808"},
		{Int64, int64(0), "0"},
		{Double, 0.1, "0.1"},
		{Double, 1e21, "1e+21"},
		{Double, 123456789.0, "1.23456789e+08"},
		{Double, math.SmallestNonzeroFloat64, "5e-324"},
		{Double, math.MaxFloat64, "1.7976931348623157e+308"},
		{Double, math.Copysign(0, -1), "-0"},
		{Double, 1.0 / 3, "0.3333333333333333"},
		{Boolean, true, "true"},
		{Boolean, false, "false"},
		{Timestamp, ts("2025-06-05T09:16:03.063Z"), "2025-06-05T09:16:03.063Z"},
		{Timestamp, ts("2025-06-05T09:16:03.000000001Z"), "2025-06-05T09:16:03.000000001Z"},
		{Timestamp, ts("2025-06-05T00:00:00Z"), "2025-06-05T00:00:00Z"},
		{Timestamp, time.Date(2025, 6, 5, 11, 0, 0, 5, time.FixedZone("x", 7200)), "2025-06-05T09:00:00.000000005Z"},
		{Timestamp, time.Unix(0, math.MinInt64), "1677-09-21T00:12:43.145224192Z"},
		{Int64, nil, ""},
	}
	for _, tt := range values {
		text := FormatValue(tt.typ, tt.v)
		if text != tt.text {
			t.Errorf("FormatValue(%v, %v) = %q, want %q", tt.typ, tt.v, text, tt.text)
		}
		back, err := ParseValue(tt.typ, text)
		if err != nil {
			t.Errorf("ParseValue(FormatValue(%v)): %v", tt.v, err)
			continue
		}
		want := tt.v
		if tm, ok := want.(time.Time); ok {
			want = tm.UTC()
		}
		if f, ok := want.(float64); ok {
			if math.Float64bits(f) != math.Float64bits(back.(float64)) {
				t.Errorf("double %v came back as %v", f, back)
			}
			continue
		}
		if back != want {
			t.Errorf("round trip of %#v = %#v", want, back)
		}
	}
}

// TestDoubleRoundTripBits checks the exact round trip over many doubles.
func TestDoubleRoundTripBits(t *testing.T) {
	x := uint64(0x9E3779B97F4A7C15)
	for range 20000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		f := math.Float64frombits(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		back, err := ParseValue(Double, FormatValue(Double, f))
		if err != nil || math.Float64bits(back.(float64)) != x {
			t.Fatalf("double %b: %v, %v", x, back, err)
		}
	}
}

func TestCheckValue(t *testing.T) {
	tests := []struct {
		typ     Type
		v       Value
		wantErr string
	}{
		{String, "x", ""},
		{String, nil, ""},
		{String, []byte("x"), "a []uint8 is not a value of string"},
		{Int64, 1, "a int is not a value of int64 (want int64)"},
		{Int64, int64(1), ""},
		{Double, float32(1), "want float64"},
		{Double, math.NaN(), "not finite"},
		{Double, math.Inf(-1), "not finite"},
		{Boolean, "true", "want bool"},
		{Timestamp, time.Now(), ""},
		{Timestamp, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "outside the range"},
		{Timestamp, int64(5), "want time.Time"},
	}
	for _, tt := range tests {
		err := CheckValue(tt.typ, tt.v)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("CheckValue(%v, %#v): %v", tt.typ, tt.v, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("CheckValue(%v, %#v) = %v, want %q", tt.typ, tt.v, err, tt.wantErr)
		}
	}
}

func TestColumnParseAndRows(t *testing.T) {
	s, _ := ParseSchema("name:string,n:int64?")
	if _, err := s[0].Parse(""); !errors.Is(err, ErrNull) || !strings.Contains(err.Error(), "column name") {
		t.Errorf("empty field in a required column: %v", err)
	}
	if v, err := s[1].Parse(""); v != nil || err != nil {
		t.Errorf("empty field in a nullable column: %v, %v", v, err)
	}
	if _, err := s[1].Parse("x"); err == nil || !strings.Contains(err.Error(), "column n:") {
		t.Errorf("bad int: %v", err)
	}
	row, err := s.ParseRow([]string{"a", "5"}, nil)
	if err != nil || !reflect.DeepEqual(row, []Value{"a", int64(5)}) {
		t.Errorf("ParseRow = %v, %v", row, err)
	}
	_, err = s.ParseRow([]string{"a"}, nil)
	var fce *FieldCountError
	if !errors.As(err, &fce) || err.Error() != "row has 1 fields, the header has 2" {
		t.Errorf("ParseRow with a missing field: %v", err)
	}
	if err := s.CheckRow([]Value{nil, int64(1)}); !errors.Is(err, ErrNull) {
		t.Errorf("CheckRow with a null name: %v", err)
	}
	if err := s.CheckRow([]Value{"a"}); err == nil {
		t.Error("CheckRow with a short row passed")
	}
}
