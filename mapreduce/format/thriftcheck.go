package format

import (
	"errors"
	"fmt"
)

// The Parquet footer and page headers are Thrift structures in the compact
// protocol. parquet-go trusts the sizes in them when it allocates (a list
// claiming two billion row groups is allocated before it is read), so gomr
// walks the bytes first and refuses a structure whose lists, maps or
// strings claim more elements than there are bytes left, or that nests
// deeper than any Parquet structure does.

// errThriftShort is returned when the bytes end inside the structure: for
// a page header, more bytes may be needed.
var errThriftShort = errors.New("thrift structure ends early")

// maxThriftDepth is deeper than any Parquet metadata structure nests.
const maxThriftDepth = 32

// Compact protocol type codes.
const (
	tcStop   = 0
	tcTrue   = 1
	tcFalse  = 2
	tcByte   = 3
	tcI16    = 4
	tcI32    = 5
	tcI64    = 6
	tcDouble = 7
	tcBinary = 8
	tcList   = 9
	tcSet    = 10
	tcMap    = 11
	tcStruct = 12
)

// thriftStructLen checks the compact-protocol struct at the start of b and
// returns its length in bytes.
func thriftStructLen(b []byte) (int, error) {
	w := thriftWalker{b: b}
	if err := w.value(tcStruct, 0); err != nil {
		return 0, err
	}
	return w.pos, nil
}

type thriftWalker struct {
	b   []byte
	pos int
}

func (w *thriftWalker) byte() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, errThriftShort
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 70; shift += 7 {
		c, err := w.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("varint longer than 10 bytes at byte %d", w.pos)
}

// size reads a length or element count that needs at least per bytes per
// unit from what is left.
func (w *thriftWalker) size(per int, what string) (int, error) {
	start := w.pos
	n, err := w.uvarint()
	if err != nil {
		return 0, err
	}
	if left := uint64(len(w.b) - w.pos); n > left/uint64(per) {
		if n <= 1<<31 && len(w.b) < 1<<31 {
			// Could be a structure cut short rather than a lie; a page
			// header reader retries with more bytes.
			return 0, fmt.Errorf("%w: %s of %d at byte %d with %d bytes left", errThriftShort, what, n, start, left)
		}
		return 0, fmt.Errorf("%s of %d at byte %d is impossible", what, n, start)
	}
	return int(n), nil
}

func (w *thriftWalker) skip(n int) error {
	if n > len(w.b)-w.pos {
		return errThriftShort
	}
	w.pos += n
	return nil
}

func (w *thriftWalker) value(t byte, depth int) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("structure nests deeper than %d levels at byte %d", maxThriftDepth, w.pos)
	}
	switch t {
	case tcTrue, tcFalse:
		return nil // in a field header the value is the type; in a list, see list
	case tcByte:
		return w.skip(1)
	case tcI16, tcI32, tcI64:
		_, err := w.uvarint()
		return err
	case tcDouble:
		return w.skip(8)
	case tcBinary:
		n, err := w.size(1, "string length")
		if err != nil {
			return err
		}
		return w.skip(n)
	case tcList, tcSet:
		h, err := w.byte()
		if err != nil {
			return err
		}
		n := int(h >> 4)
		if n == 0xf {
			if n, err = w.size(1, "list size"); err != nil {
				return err
			}
		} else if n > len(w.b)-w.pos {
			return errThriftShort
		}
		et := h & 0xf
		for range n {
			if et == tcTrue || et == tcFalse {
				if err := w.skip(1); err != nil {
					return err
				}
				continue
			}
			if err := w.value(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tcMap:
		n, err := w.size(2, "map size")
		if err != nil || n == 0 {
			return err
		}
		kv, err := w.byte()
		if err != nil {
			return err
		}
		for range n {
			for _, et := range [2]byte{kv >> 4, kv & 0xf} {
				if et == tcTrue || et == tcFalse {
					if err := w.skip(1); err != nil {
						return err
					}
					continue
				}
				if err := w.value(et, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	case tcStruct:
		for {
			h, err := w.byte()
			if err != nil {
				return err
			}
			if h == tcStop {
				return nil
			}
			if h>>4 == 0 {
				if _, err := w.uvarint(); err != nil { // explicit field id
					return err
				}
			}
			ft := h & 0xf
			if ft == tcStop || ft > tcStruct {
				return fmt.Errorf("unknown field type %d at byte %d", ft, w.pos-1)
			}
			if err := w.value(ft, depth+1); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("unknown type %d at byte %d", t, w.pos)
}
