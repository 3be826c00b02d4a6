package jobs

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

// bigMod is 2^128.
var bigMod = new(big.Int).Lsh(big.NewInt(1), 128)

func bigHex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic(s)
	}
	return n
}

// bigAffine is x -> a*x + c mod 2^128, in math/big: an implementation of
// Hadoop's generator independent of Unsigned16.
type bigAffine struct{ a, c *big.Int }

func (f bigAffine) apply(x *big.Int) *big.Int {
	y := new(big.Int).Mul(f.a, x)
	y.Add(y, f.c)
	return y.Mod(y, bigMod)
}

// then returns g∘f (f first).
func (f bigAffine) then(g bigAffine) bigAffine {
	a := new(big.Int).Mul(g.a, f.a)
	c := new(big.Int).Mul(g.a, f.c)
	c.Add(c, g.c)
	return bigAffine{a.Mod(a, bigMod), c.Mod(c, bigMod)}
}

var bigLCG = bigAffine{bigHex("2360ed051fc65da44385df649fccf645"), bigHex("4a696d47726179524950202020202001")}

// bigSkip returns the generator's state after n steps from 0, by
// square-and-multiply on affine maps.
func bigSkip(n *big.Int) *big.Int {
	acc := bigAffine{big.NewInt(1), big.NewInt(0)}
	pow := bigLCG
	for i := 0; i < n.BitLen(); i++ {
		if n.Bit(i) == 1 {
			acc = acc.then(pow)
		}
		pow = pow.then(pow)
	}
	return acc.apply(big.NewInt(0))
}

func toU16(n *big.Int) Unsigned16 {
	var b [16]byte
	n.FillBytes(b[:])
	var u Unsigned16
	for i := 0; i < 8; i++ {
		u.Hi = u.Hi<<8 | uint64(b[i])
		u.Lo = u.Lo<<8 | uint64(b[8+i])
	}
	return u
}

// bigRecord builds record row from its random number, from the layout of
// GenSort.generateRecord written out with fmt.
func bigRecord(rand *big.Int, row uint64) []byte {
	var r [16]byte
	rand.FillBytes(r[:])
	randHex := []byte(new(big.Int).Set(rand).Text(16))
	for len(randHex) < 32 {
		randHex = append([]byte{'0'}, randHex...)
	}
	rec := append([]byte{}, r[:10]...)
	rec = append(rec, 0x00, 0x11)
	rowHex := []byte(new(big.Int).SetUint64(row).Text(16))
	for len(rowHex) < 32 {
		rowHex = append([]byte{'0'}, rowHex...)
	}
	rec = append(rec, upper(rowHex)...)
	rec = append(rec, 0x88, 0x99, 0xAA, 0xBB)
	for _, d := range upper(randHex[20:32]) {
		rec = append(rec, d, d, d, d)
	}
	return append(rec, 0xCC, 0xDD, 0xEE, 0xFF)
}

func upper(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// teraStep runs a step of a tera job through the sequential runner, as
// the CLI and a cluster would: client-side preparation, listing and
// planning, then every task. It returns the step's options after
// preparation and its counters.
func teraStep(t *testing.T, job string, inputs []string, output string, reducers int, opts map[string]string, splitSize int64) (map[string]string, *mapreduce.Counters) {
	t.Helper()
	opts, c, err := tryTeraStep(t, job, inputs, output, reducers, opts, splitSize)
	if err != nil {
		t.Fatalf("%s: %v", job, err)
	}
	return opts, c
}

func tryTeraStep(t testing.TB, job string, inputs []string, output string, reducers int, opts map[string]string, splitSize int64) (map[string]string, *mapreduce.Counters, error) {
	t.Helper()
	ctx := context.Background()
	def, err := Lookup(job)
	if err != nil {
		t.Fatal(err)
	}
	fss := mapreduce.LocalFileSystems()
	cs := &ClientStep{FileSystems: fss, Staging: filepath.Join(t.TempDir(), "staging"), Inputs: inputs, Output: output, Reducers: reducers, SplitSize: splitSize, Options: opts}
	if err := def.PrepareClient(ctx, cs); err != nil {
		return nil, nil, err
	}
	f, err := def.Resolve(Formats{})
	if err != nil {
		t.Fatal(err)
	}
	var splits []mapreduce.Split
	if def.WholeFiles {
		files, err := mapreduce.ListFiles(ctx, fss, cs.Inputs)
		if err != nil {
			return nil, nil, err
		}
		if splits, err = def.PlanFiles(files, cs.Options); err != nil {
			return nil, nil, err
		}
	} else {
		files, err := mapreduce.ListInputsFor(ctx, fss, cs.Inputs, f.Input)
		if err != nil {
			return nil, nil, err
		}
		if splits, err = mapreduce.PlanInput(ctx, fss, files, cs.SplitSize, f.Input); err != nil {
			return nil, nil, err
		}
	}
	j, err := def.BuildFor(cs.Options, f)
	if err != nil {
		return nil, nil, err
	}
	of, err := def.OutputFormat(cs.Options, f)
	if err != nil {
		return nil, nil, err
	}
	c, err := mapreduce.RunSequential(ctx, j, splits, mapreduce.SequentialOptions{
		Reducers: reducers, Output: output, JobName: job, InputFormat: f.Input, OutputFormat: of, FileSystems: fss,
	})
	return cs.Options, c, err
}

// readParts returns the bytes of an output's part files, in part order.
func readParts(t *testing.T, dir string) [][]byte {
	t.Helper()
	parts, err := TeraSortParts(context.Background(), mapreduce.LocalFileSystems(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
