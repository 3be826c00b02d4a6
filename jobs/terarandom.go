package jobs

import (
	"fmt"
	"math/bits"
	"strings"
)

// Unsigned16 is an unsigned 128-bit integer, as Hadoop's terasort
// Unsigned16: the record numbers and random numbers of TeraGen, and the
// sum of the records' CRC-32s that TeraGen and TeraValidate report.
// Arithmetic wraps modulo 2^128.
type Unsigned16 struct {
	Hi, Lo uint64
}

// Add returns u + v modulo 2^128.
func (u Unsigned16) Add(v Unsigned16) Unsigned16 {
	lo, carry := bits.Add64(u.Lo, v.Lo, 0)
	hi, _ := bits.Add64(u.Hi, v.Hi, carry)
	return Unsigned16{Hi: hi, Lo: lo}
}

// Mul returns u * v modulo 2^128.
func (u Unsigned16) Mul(v Unsigned16) Unsigned16 {
	hi, lo := bits.Mul64(u.Lo, v.Lo)
	hi += u.Hi*v.Lo + u.Lo*v.Hi
	return Unsigned16{Hi: hi, Lo: lo}
}

// String returns u in lower-case hexadecimal without leading zeros ("0"
// for zero), as Hadoop's Unsigned16.toString, which TeraValidate prints.
func (u Unsigned16) String() string {
	if u.Hi == 0 {
		return fmt.Sprintf("%x", u.Lo)
	}
	return fmt.Sprintf("%x%016x", u.Hi, u.Lo)
}

// ParseUnsigned16 parses a hexadecimal number of at most 32 digits (the
// form String writes).
func ParseUnsigned16(s string) (Unsigned16, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "0x")
	if t == "" || len(t) > 32 {
		return Unsigned16{}, fmt.Errorf("%q is not a hexadecimal number of 1 to 32 digits", s)
	}
	var u Unsigned16
	for i := 0; i < len(t); i++ {
		d, ok := hexDigit(t[i])
		if !ok {
			return Unsigned16{}, fmt.Errorf("%q is not a hexadecimal number: %q at position %d", s, t[i], i)
		}
		u.Hi = u.Hi<<4 | u.Lo>>60
		u.Lo = u.Lo<<4 | uint64(d)
	}
	return u, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// mustUnsigned16 parses a constant.
func mustUnsigned16(s string) Unsigned16 {
	u, err := ParseUnsigned16(s)
	if err != nil {
		panic(err)
	}
	return u
}

// The 128-bit linear congruential generator of Hadoop's Random16 (after
// Chris Nyberg's rand16.c): X(n+1) = a*X(n) + c mod 2^128, from X = 0.
var (
	random16A = mustUnsigned16("2360ed051fc65da44385df649fccf645")
	random16C = mustUnsigned16("4a696d47726179524950202020202001")
)

// lcgStep is one affine step x -> a*x + c of the generator or of a power
// of it.
type lcgStep struct{ a, c Unsigned16 }

// random16Powers holds f^(2^i) for i in [0, 128): the square of an affine
// map ax+c is a^2 x + c(a+1). These are Hadoop's genArray, computed
// rather than copied.
var random16Powers = func() [128]lcgStep {
	var p [128]lcgStep
	p[0] = lcgStep{random16A, random16C}
	for i := 1; i < 128; i++ {
		prev := p[i-1]
		p[i] = lcgStep{a: prev.a.Mul(prev.a), c: prev.c.Mul(prev.a.Add(Unsigned16{Lo: 1}))}
	}
	return p
}()

// Random16SkipAhead returns the generator's state after n steps from 0,
// as Hadoop's Random16.skipAhead: the state from which the next number
// is that of record n.
func Random16SkipAhead(n Unsigned16) Unsigned16 {
	var x Unsigned16
	for i := 0; i < 64; i++ {
		if n.Lo&(1<<i) != 0 {
			x = x.Mul(random16Powers[i].a).Add(random16Powers[i].c)
		}
	}
	for i := 0; i < 64; i++ {
		if n.Hi&(1<<i) != 0 {
			x = x.Mul(random16Powers[64+i].a).Add(random16Powers[64+i].c)
		}
	}
	return x
}

// Random16Next returns the generator's next state (Random16.nextRand).
func Random16Next(x Unsigned16) Unsigned16 {
	return x.Mul(random16A).Add(random16C)
}
