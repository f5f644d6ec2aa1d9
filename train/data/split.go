package data

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// A spec may end in a selector after '#' that picks a labelled subset of
// the dataset, deterministically (no randomness: listing order):
//
//	SPEC#part=train,frac=0.7,per-class=150,classes=art|food|science,seed=0
//
// classes keeps only the named classes (renumbered in the order given);
// seed, when given, shuffles each class's examples with a generator keyed
// by (seed, class number) first; per-class keeps the first N examples of
// each class; part=train keeps the first floor(frac*n) (frac default 0.7)
// of what remains of each class, part=test the rest. The train and test parts of the same selector are disjoint and
// cover every kept example: probe-train and probe-test sets from one
// labelled dataset, such as the fortunes categories.
type selector struct {
	part     string
	frac     float64
	perClass int
	classes  []string
	seed     *uint64
}

func parseSelector(s string) (*selector, error) {
	sel := &selector{frac: 0.7}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%w: selector %q: want key=value pairs (part, frac, per-class, classes)", ErrSpec, s)
		}
		switch k {
		case "part":
			if v != "train" && v != "test" {
				return nil, fmt.Errorf("%w: selector part=%q: want train or test", ErrSpec, v)
			}
			sel.part = v
		case "frac":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || !(f > 0 && f < 1) {
				return nil, fmt.Errorf("%w: selector frac=%q: want a number in (0, 1)", ErrSpec, v)
			}
			sel.frac = f
		case "per-class":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%w: selector per-class=%q: want a positive integer", ErrSpec, v)
			}
			sel.perClass = n
		case "classes":
			sel.classes = strings.Split(v, "|")
		case "seed":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: selector seed=%q: want a non-negative integer", ErrSpec, v)
			}
			sel.seed = &n
		default:
			return nil, fmt.Errorf("%w: selector key %q (want part, frac, per-class, classes, seed)", ErrSpec, k)
		}
	}
	return sel, nil
}

// applySelector narrows d to the selected examples.
func applySelector(d *Dataset, sel *selector) error {
	if !d.Labelled {
		return fmt.Errorf("%w: %s: a # selector needs a labelled dataset", ErrSpec, d.Spec)
	}
	remap := map[int]int{} // old class -> new class
	classes := d.Classes
	if sel.classes != nil {
		idx := map[string]int{}
		for i, c := range d.Classes {
			idx[c] = i
		}
		for j, c := range sel.classes {
			i, ok := idx[c]
			if !ok {
				return fmt.Errorf("%w: %s: no class %q (classes: %s)", ErrSpec, d.Spec, c, strings.Join(d.Classes, ", "))
			}
			remap[i] = j
		}
		classes = sel.classes
	}
	byClass := map[int][]int{}
	var order []int
	for i := 0; i < d.n; i++ {
		c, err := d.Label(context.Background(), i)
		if err != nil || c < 0 {
			continue // unreadable or unlabelled: not selectable
		}
		if sel.classes != nil {
			nc, ok := remap[c]
			if !ok {
				continue
			}
			c = nc
		}
		if _, seen := byClass[c]; !seen {
			order = append(order, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	var keep []int
	newClass := map[int]int{} // base index -> class in the new numbering
	for _, c := range order {
		ix := byClass[c]
		if sel.seed != nil {
			r := rand.New(rand.NewPCG(*sel.seed, uint64(c)))
			r.Shuffle(len(ix), func(i, j int) { ix[i], ix[j] = ix[j], ix[i] })
		}
		if sel.perClass > 0 && len(ix) > sel.perClass {
			ix = ix[:sel.perClass]
		}
		cut := int(sel.frac * float64(len(ix)))
		if sel.part == "train" {
			ix = ix[:cut]
		} else if sel.part == "test" {
			ix = ix[cut:]
		}
		for _, i := range ix {
			newClass[i] = c
		}
		keep = append(keep, ix...)
	}
	slices.Sort(keep)
	if len(keep) == 0 {
		return fmt.Errorf("%w: %s: the selector keeps no example", ErrSpec, d.Spec)
	}
	ref, read, label := d.ref, d.read, d.label
	d.n, d.Classes = len(keep), classes
	if ref != nil {
		d.ref = func(j int) (string, string, error) { return ref(keep[j]) }
	}
	d.read = func(ctx context.Context, j int) (Example, error) {
		ex, err := read(ctx, keep[j])
		ex.Class = newClass[keep[j]]
		return ex, err
	}
	d.label = func(ctx context.Context, j int) (int, error) {
		if label != nil {
			if _, err := label(ctx, keep[j]); err != nil {
				return -1, err
			}
		}
		return newClass[keep[j]], nil
	}
	return nil
}
