package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

func TestFlagValues(t *testing.T) {
	var n int
	var x float64
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	intVar(fs, &n, "workers", 4, 1, 64, "goroutines")
	intVar(fs, &n, "max", 0, math.MinInt, math.MaxInt, "any int")
	floatVar(fs, &x, "frac", 0.5, fraction, "a fraction")
	floatVar(fs, &x, "lr", 0.1, positive, "learning rate")
	floatVar(fs, &x, "mom", 0.9, span{Lo: 0, Hi: 1, HiOpen: true}, "momentum")
	cases := []struct {
		flag, value string
		want        float64 // value read back (n or x)
		err         string  // "" when accepted
	}{
		{"workers", "1", 1, ""},
		{"workers", "64", 64, ""},
		{"workers", "0", 0, "must be in 1..64"},
		{"workers", "65", 0, "must be in 1..64"},
		{"workers", "-1", 0, "must be in 1..64"},
		{"workers", "2.9", 0, "not an integer"},
		{"workers", "3x", 0, "not an integer"},
		{"workers", "NaN", 0, "not an integer"},
		{"workers", "99999999999999999999", 0, "must be in 1..64"},
		{"max", "-5", -5, ""},
		{"max", "99999999999999999999", 0, "integer out of range"},
		{"frac", "1", 1, ""},
		{"frac", "1e-9", 1e-9, ""},
		{"frac", "0", 0, "must be in (0, 1]"},
		{"frac", "1.0000001", 0, "must be in (0, 1]"},
		{"frac", "NaN", 0, "not a finite number"},
		{"lr", "inf", 0, "not a finite number"},
		{"lr", "-Inf", 0, "not a finite number"},
		{"lr", "1e999", 0, "not a finite number"},
		{"lr", "1e-3garbage", 0, "not a number"},
		{"lr", "0", 0, "must be > 0"},
		{"lr", "3e-4", 3e-4, ""},
		{"mom", "0", 0, ""},
		{"mom", "1", 0, "must be in [0, 1)"},
	}
	for _, c := range cases {
		n, x = -7, -7
		err := fs.Set(c.flag, c.value)
		got := x
		if c.flag == "workers" || c.flag == "max" {
			got = float64(n)
		}
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("--%s %q: %v, value %v, want %v", c.flag, c.value, err, got, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || got != -7):
			t.Errorf("--%s %q: err %v (value %v), want %q and the value unchanged", c.flag, c.value, err, got, c.err)
		}
	}
}

// Bad values stop flag parsing with an error naming the flag; parseFlags
// turns it into a usage error (exit code 2). Defaults are kept when a flag
// is not given, and the accepted range shows in the help.
func Example_flagValues() {
	var workers int
	var frac float64
	fs := flag.NewFlagSet("sslpipe demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	intVar(fs, &workers, "workers", 4, 1, maxWorkers, "goroutines")
	floatVar(fs, &frac, "kmeans-fraction", 0.1, fraction, "fraction of the recordings")
	for _, args := range [][]string{
		{"--workers", "0"},
		{"--workers", "2.9"},
		{"--kmeans-fraction", "NaN"},
		{"--workers", "8"},
	} {
		err := parseFlags(fs, args)
		fmt.Printf("%v: exit %d, %v\n", args, exitCode(err), err)
	}
	fmt.Println(workers, frac)
	fs.SetOutput(&lineWriter{})
	fs.PrintDefaults()
	// Output:
	// [--workers 0]: exit 2, invalid value "0" for flag -workers: must be in 1..4096
	// [--workers 2.9]: exit 2, invalid value "2.9" for flag -workers: not an integer
	// [--kmeans-fraction NaN]: exit 2, invalid value "NaN" for flag -kmeans-fraction: not a finite number
	// [--workers 8]: exit 0, <nil>
	// 8 0.1
	//   -kmeans-fraction float
	//     	fraction of the recordings (float in (0, 1]) (default 0.1)
	//   -workers int
	//     	goroutines (int in 1..4096) (default 4)
}

// lineWriter prints what it is given (Example output).
type lineWriter struct{}

func (lineWriter) Write(p []byte) (int, error) { fmt.Print(string(p)); return len(p), nil }
