package augment

import (
	"encoding/json"
	"errors"
	"image"
	"os"
	"path/filepath"
	refl "reflect"
	"strings"
	"testing"
)

// TestPermutationsGolden compares the greedy selection with an independent
// numpy/itertools implementation (testdata/pretext/permutations.json).
func TestPermutationsGolden(t *testing.T) {
	var g struct {
		Sets []struct {
			Size, N, Start int
			Criterion      string
			Perms          [][]int
			MinHamming     int     `json:"min_hamming"`
			MeanHamming    float64 `json:"mean_hamming"`
		}
	}
	if err := json.Unmarshal(readTestdata(t, "pretext/permutations.json"), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Sets) < 4 {
		t.Fatalf("%d sets in the golden file", len(g.Sets))
	}
	for _, s := range g.Sets {
		p := greedyPermutations(s.Size, s.N, s.Start, s.Criterion)
		if !refl.DeepEqual(p.Perms, s.Perms) {
			t.Errorf("size %d n %d start %d %s: permutations differ from numpy's", s.Size, s.N, s.Start, s.Criterion)
			continue
		}
		if p.MinHamming != s.MinHamming || !relClose(p.MeanDist, s.MeanHamming, 1e-12) {
			t.Errorf("%s: distances %d %v, numpy %d %v", s.Criterion, p.MinHamming, p.MeanDist, s.MinHamming, s.MeanHamming)
		}
		t.Logf("%d of %d! by %s from %d: minimal Hamming distance %d, mean %.3f", s.N, s.Size, s.Criterion, s.Start, p.MinHamming, p.MeanDist)
	}
}

// ballSize is V(r): the number of permutations of n elements within
// Hamming distance r of a given one (sum over i <= r of C(n, i) * D(i),
// D the derangement numbers).
func ballSize(n, r int) int {
	der := []int{1, 0}
	for i := 2; i <= n; i++ {
		der = append(der, (i-1)*(der[i-1]+der[i-2]))
	}
	v, binom := 0, 1
	for i := 0; i <= r; i++ {
		if i > 0 {
			binom = binom * (n - i + 1) / i
		}
		v += binom * der[i]
	}
	return v
}

// TestPermutationSetDistance checks the max-min greedy selection's
// minimal distance for the paper's 3x3 setting against the
// Gilbert-Varshamov guarantee and the value it reaches, for several
// seeds, and the determinism of the seed.
func TestPermutationSetDistance(t *testing.T) {
	if ballSize(9, 4) != 1339 || ballSize(9, 9) != 362880 {
		t.Fatalf("V(4) = %d, V(9) = %d", ballSize(9, 4), ballSize(9, 9))
	}
	guaranteed := func(n int) int {
		d := 1
		for (n-1)*ballSize(9, d) < 362880 {
			d++
		}
		return d
	}
	if guaranteed(100) != 5 || guaranteed(1000) != 4 {
		t.Fatalf("guarantees %d %d", guaranteed(100), guaranteed(1000))
	}
	cases := []struct{ n, want int }{{100, 6}}
	if !testing.Short() && !raceEnabled {
		cases = append(cases, struct{ n, want int }{1000, 5})
	}
	seeds := uint64(2)
	if raceEnabled {
		seeds = 1
	}
	for _, c := range cases {
		for seed := range seeds {
			p, err := NewPermutationSet(9, c.n, seed, MaxMinHamming)
			if err != nil {
				t.Fatal(err)
			}
			if p.Len() != c.n || p.MinHamming != c.want || p.MinHamming < guaranteed(c.n) {
				t.Errorf("n %d seed %d: %d permutations, minimal distance %d, want %d (guaranteed >= %d)", c.n, seed, p.Len(), p.MinHamming, c.want, guaranteed(c.n))
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.n > 100 {
				break
			}
		}
	}
	a, _ := NewPermutationSet(9, 12, 42, "")
	b, _ := NewPermutationSet(9, 12, 42, MaxMinHamming)
	c, _ := NewPermutationSet(9, 12, 43, MaxMinHamming)
	if !refl.DeepEqual(a, b) {
		t.Fatal("same seed, different sets")
	}
	if refl.DeepEqual(a.Perms, c.Perms) {
		t.Fatal("different seeds, same set")
	}
	m, _ := NewPermutationSet(9, 12, 42, MeanHamming)
	if m.MeanDist < a.MeanDist || m.MinHamming > a.MinHamming || m.Criterion != MeanHamming {
		t.Errorf("mean criterion: mean distance %v, max-min's %v", m.MeanDist, a.MeanDist)
	}
	for _, bad := range []struct {
		size, n int
		crit    string
	}{{1, 1, ""}, {10, 5, ""}, {3, 7, ""}, {9, 0, ""}, {9, 10, "median"}} {
		if _, err := NewPermutationSet(bad.size, bad.n, 1, bad.crit); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestPermutationSetSaveLoad(t *testing.T) {
	dir := t.TempDir()
	p, err := NewPermutationSet(9, 30, 7, MaxMinHamming)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "perms.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := LoadPermutationSet(path)
	if err != nil {
		t.Fatal(err)
	}
	if !refl.DeepEqual(p, q) {
		t.Fatal("loaded set differs")
	}
	b, _ := os.ReadFile(path)
	for name, edit := range map[string]func(string) string{
		"duplicate": func(s string) string {
			var v map[string]any
			json.Unmarshal([]byte(s), &v)
			ps := v["permutations"].([]any)
			ps[1] = ps[0]
			o, _ := json.Marshal(v)
			return string(o)
		},
		"not a permutation": func(s string) string {
			var v map[string]any
			json.Unmarshal([]byte(s), &v)
			v["permutations"].([]any)[3].([]any)[0] = 9.0
			o, _ := json.Marshal(v)
			return string(o)
		},
		"distance":  func(s string) string { return strings.Replace(s, `"min_hamming": 7`, `"min_hamming": 8`, 1) },
		"format":    func(s string) string { return strings.Replace(s, PermutationSetFormat, "other", 1) },
		"truncated": func(s string) string { return s[:len(s)/2] },
	} {
		bad := filepath.Join(dir, "bad.json")
		e := edit(string(b))
		if e == string(b) {
			t.Fatalf("%s: edit changed nothing", name)
		}
		os.WriteFile(bad, []byte(e), 0o644)
		if _, err := LoadPermutationSet(bad); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestJigsawGenerate(t *testing.T) {
	perms, err := NewPermutationSet(9, 20, 1, MaxMinHamming)
	if err != nil {
		t.Fatal(err)
	}
	src := randomImage(101, 83, 3, 9)
	j := Jigsaw{Grid: 3, Crop: 75, Tile: 20}
	labels := map[int]bool{}
	for i := range 40 {
		var p, q JigsawPuzzle
		if err := j.Generate(&p, src, perms, newRand(uint64(i))); err != nil {
			t.Fatal(err)
		}
		j.Generate(&q, src, perms, newRand(uint64(i)))
		if p.Label != q.Label || p.Window != q.Window || !refl.DeepEqual(p.Boxes, q.Boxes) {
			t.Fatal("not deterministic")
		}
		labels[p.Label] = true
		if !p.Window.In(image.Rect(0, 0, src.W, src.H)) || p.Window.Dx() != 75 {
			t.Fatalf("window %v", p.Window)
		}
		if !refl.DeepEqual(p.Perm, perms.Perms[p.Label]) || len(p.Tiles) != 9 {
			t.Fatal("permutation is not the label's")
		}
		for c, box := range p.Boxes {
			cell := image.Rect(0, 0, 25, 25).Add(p.Window.Min).Add(image.Pt(25*(c%3), 25*(c/3)))
			if box.Dx() != 20 || box.Dy() != 20 || !box.In(cell) {
				t.Fatalf("tile %d box %v outside its cell %v", c, box, cell)
			}
		}
		for slot, cell := range p.Perm {
			var want Image
			Crop(&want, src, p.Boxes[cell])
			if !sameImage(p.Tiles[slot], &want) {
				t.Fatalf("slot %d is not the tile of cell %d", slot, cell)
			}
		}
		// The solved mosaic puts each cell's tile back in place.
		var solved Image
		p.Draw(&solved, 2, true)
		if solved.W != 3*20+4*2 {
			t.Fatalf("mosaic width %d", solved.W)
		}
		for c, box := range p.Boxes {
			ox, oy := 2+(c%3)*22, 2+(c/3)*22
			for y := 0; y < 20; y++ {
				got := solved.Pix[((oy+y)*solved.W+ox)*3 : ((oy+y)*solved.W+ox+20)*3]
				want := src.Pix[((box.Min.Y+y)*src.W+box.Min.X)*3 : ((box.Min.Y+y)*src.W+box.Min.X+20)*3]
				if string(got) != string(want) {
					t.Fatalf("solved mosaic cell %d row %d differs", c, y)
				}
			}
		}
	}
	if len(labels) < 10 {
		t.Errorf("%d distinct labels in 40 puzzles", len(labels))
	}
	var p JigsawPuzzle
	if err := j.Generate(&p, randomImage(74, 200, 3, 1), perms, newRand(1)); !errors.Is(err, ErrImageTooSmall) {
		t.Errorf("small image: %v", err)
	}
	if err := (Jigsaw{Grid: 3, Crop: 75, Tile: 26}).Generate(&p, src, perms, newRand(1)); err == nil {
		t.Error("tile larger than its cell accepted")
	}
	small, _ := NewPermutationSet(4, 5, 1, "")
	if err := j.Generate(&p, src, small, newRand(1)); err == nil {
		t.Error("permutation set of the wrong size accepted")
	}
	if err := DefaultJigsaw.Validate(); err != nil {
		t.Fatal(err)
	}
}
