package namespace

import (
	"errors"
	"testing"
)

func TestDefaults(t *testing.T) {
	if DefaultBlockSize != 128*1024*1024 {
		t.Errorf("DefaultBlockSize = %d", DefaultBlockSize)
	}
	if err := ValidateBlockSize(DefaultBlockSize); err != nil {
		t.Errorf("DefaultBlockSize: %v", err)
	}
	for _, tc := range []struct{ live, want int }{
		{-1, 1}, {0, 1}, {1, 1}, {2, 1}, {3, 1},
		{4, 2}, {5, 2}, {9, 2},
		{10, 3}, {11, 3}, {100, 3}, {10000, 3},
	} {
		got := DefaultReplication(tc.live)
		if got != tc.want {
			t.Errorf("DefaultReplication(%d) = %d; want %d", tc.live, got, tc.want)
		}
		if tc.live > 0 {
			if err := ValidateReplication(got, tc.live); err != nil {
				t.Errorf("DefaultReplication(%d) = %d is refused: %v", tc.live, got, err)
			}
		}
	}
}

func TestValidateReplication(t *testing.T) {
	for _, tc := range []struct {
		r, live int
		want    string // "" when accepted
	}{
		{1, 1, ""},
		{1, 3, ""},
		{3, 3, ""},
		{3, 10, ""},
		{512, 512, ""},
		{512, 1000, ""},
		{0, 3, "bad replication 0: not in 1..512"},
		{-1, 3, "bad replication -1: not in 1..512"},
		{513, 1000, "bad replication 513: not in 1..512"},
		{4, 3, "bad replication 4: more than the 3 live core workers"},
		{2, 1, "bad replication 2: more than the 1 live core worker"},
		{1, 0, "bad replication 1: more than the 0 live core workers"},
		{1, -2, "bad replication 1: more than the 0 live core workers"},
	} {
		err := ValidateReplication(tc.r, tc.live)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateReplication(%d, %d) = %v; want nil", tc.r, tc.live, err)
		case tc.want == "":
		case err == nil:
			t.Errorf("ValidateReplication(%d, %d) = nil; want %s", tc.r, tc.live, tc.want)
		case err.Error() != tc.want || !errors.Is(err, ErrBadReplication):
			t.Errorf("ValidateReplication(%d, %d) = %v; want %s wrapping ErrBadReplication", tc.r, tc.live, err, tc.want)
		}
	}
}

func TestValidateBlockSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string // "" when accepted
	}{
		{512, ""},
		{1024, ""},
		{4096, ""},
		{1 << 20, ""},
		{DefaultBlockSize, ""},
		{256 << 20, ""},
		{2 << 30, ""},
		{0, "bad block size 0: less than the smallest, 512 bytes"},
		{-512, "bad block size -512: less than the smallest, 512 bytes"},
		{1, "bad block size 1: less than the smallest, 512 bytes"},
		{511, "bad block size 511: less than the smallest, 512 bytes"},
		{513, "bad block size 513: not a multiple of 512 bytes"},
		{1000, "bad block size 1000: not a multiple of 512 bytes"},
		{128<<20 + 1, "bad block size 134217729: not a multiple of 512 bytes"},
		{2<<30 + 512, "bad block size 2147484160: more than the largest, 2147483648 bytes (2 GiB)"},
		{4 << 30, "bad block size 4294967296: more than the largest, 2147483648 bytes (2 GiB)"},
	} {
		err := ValidateBlockSize(tc.n)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("ValidateBlockSize(%d) = %v; want nil", tc.n, err)
		case tc.want == "":
		case err == nil:
			t.Errorf("ValidateBlockSize(%d) = nil; want %s", tc.n, tc.want)
		case err.Error() != tc.want || !errors.Is(err, ErrBadBlockSize):
			t.Errorf("ValidateBlockSize(%d) = %v; want %s wrapping ErrBadBlockSize", tc.n, err, tc.want)
		}
	}
}
