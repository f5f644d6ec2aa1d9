package main

// Strict flag values.
//
// The standard flag package parses ints and bools strictly (the whole value,
// strconv syntax: "3x", "2.9" and "yes" are errors) but checks no range, and
// its float flags accept "NaN" and "Inf". The Value types here parse the
// whole value, reject NaN and infinities and check a range when the flag is
// set, so that a bad value stops the command in flag parsing (parseFlags:
// exit code 2) with the flag package's message, which names the flag:
//
//	invalid value "-1" for flag -workers: must be >= 1
//	invalid value "NaN" for flag -kmeans-fraction: not a finite number
//
// Use intVar and floatVar for every numeric flag, fs.BoolVar for booleans
// (strconv.ParseBool: 1, t, true, 0, f, false, ...), fs.Uint64Var for seeds
// and maxErrorsVar for --max-errors. A range applies to values the user
// gives; a default outside it (0 meaning "the preset's value") is kept as is.

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// intValue is an int flag accepting base-10 integers in [lo, hi].
type intValue struct {
	p      *int
	lo, hi int
}

// intVar defines an int flag on fs with the given default that accepts a
// whole base-10 integer in [lo, hi] (math.MinInt/math.MaxInt for an open
// end). The accepted range is appended to usage.
func intVar(fs *flag.FlagSet, p *int, name string, value, lo, hi int, usage string) {
	*p = value
	v := &intValue{p: p, lo: lo, hi: hi}
	fs.Var(v, name, withType(usage, "int", v.rangeText()))
}

func (v *intValue) rangeText() string {
	switch {
	case v.lo == math.MinInt && v.hi == math.MaxInt:
		return ""
	case v.hi == math.MaxInt:
		return fmt.Sprintf(">= %d", v.lo)
	case v.lo == math.MinInt:
		return fmt.Sprintf("<= %d", v.hi)
	}
	return fmt.Sprintf("in %d..%d", v.lo, v.hi)
}

func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, strconv.IntSize)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			if r := v.rangeText(); r != "" {
				return fmt.Errorf("must be %s", r)
			}
			return errors.New("integer out of range")
		}
		return errors.New("not an integer")
	}
	if int(n) < v.lo || int(n) > v.hi {
		return fmt.Errorf("must be %s", v.rangeText())
	}
	*v.p = int(n)
	return nil
}

func (v *intValue) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

// Get implements flag.Getter.
func (v *intValue) Get() any { return *v.p }

// span is the set of values a float flag accepts: the finite numbers from
// Lo to Hi, each end included unless its Open field is set.
type span struct {
	Lo, Hi         float64
	LoOpen, HiOpen bool
}

// Common spans.
var (
	positive    = span{Lo: 0, Hi: math.MaxFloat64, LoOpen: true} // > 0
	nonNegative = span{Lo: 0, Hi: math.MaxFloat64}               // >= 0
	fraction    = span{Lo: 0, Hi: 1, LoOpen: true}               // (0, 1]
	// benchSeconds is the span of a benchmark's --seconds: up to a day, so
	// that a deadline computed from it cannot overflow time.Duration.
	benchSeconds = span{Lo: 0, Hi: 86400, LoOpen: true}
)

func (r span) contains(x float64) bool {
	lo := x > r.Lo || (!r.LoOpen && x == r.Lo)
	hi := x < r.Hi || (!r.HiOpen && x == r.Hi)
	return lo && hi
}

func (r span) String() string {
	switch {
	case r.Hi == math.MaxFloat64 && r.LoOpen:
		return fmt.Sprintf("> %g", r.Lo)
	case r.Hi == math.MaxFloat64:
		return fmt.Sprintf(">= %g", r.Lo)
	}
	l, h := "[", "]"
	if r.LoOpen {
		l = "("
	}
	if r.HiOpen {
		h = ")"
	}
	return fmt.Sprintf("in %s%g, %g%s", l, r.Lo, r.Hi, h)
}

// floatValue is a float64 flag accepting finite numbers in a span.
type floatValue struct {
	p *float64
	r span
}

// floatVar defines a float64 flag on fs with the given default that accepts
// a finite number in r (never NaN or an infinity). The accepted range is
// appended to usage.
func floatVar(fs *flag.FlagSet, p *float64, name string, value float64, r span, usage string) {
	*p = value
	v := &floatValue{p: p, r: r}
	fs.Var(v, name, withType(usage, "float", r.String()))
}

func (v *floatValue) Set(s string) error {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return errors.New("not a number")
	}
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return errors.New("not a finite number")
	}
	if !v.r.contains(x) {
		return fmt.Errorf("must be %s", v.r)
	}
	*v.p = x
	return nil
}

func (v *floatValue) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*v.p, 'g', -1, 64)
}

// Get implements flag.Getter.
func (v *floatValue) Get() any { return *v.p }

// withType adds the value's type name (shown by PrintDefaults as
// "-name int") and its range to a usage string.
func withType(usage, typ, rng string) string {
	if strings.Contains(usage, "`") {
		if rng == "" {
			return usage
		}
		return usage + " (" + rng + ")"
	}
	if rng == "" {
		return usage + " (`" + typ + "`)"
	}
	return usage + " (`" + typ + "` " + rng + ")"
}

// maxWorkers bounds every --workers flag.
const maxWorkers = 1 << 12

// defaultMaxErrors is the --max-errors default of every command that reads
// user data.
const defaultMaxErrors = 100

// maxErrorsVar defines --max-errors, the same for every command that reads
// user data: up to N bad inputs (what) are skipped, each one reported
// (where: "in OUT/errors.jsonl", "on stderr"); one more stops the command
// with exit code 4 (exitDataErrors); N < 0 means no limit.
func maxErrorsVar(fs *flag.FlagSet, p *int, what, where string) {
	intVar(fs, p, "max-errors", defaultMaxErrors, math.MinInt, math.MaxInt,
		fmt.Sprintf("skip up to `N` %s, each reported %s; one more stops with exit code 4 (N < 0: no limit)", what, where))
}

// tooManyErrors reports whether n bad inputs exceed a --max-errors limit
// (limit < 0: never).
func tooManyErrors(n, limit int) bool { return limit >= 0 && n > limit }
