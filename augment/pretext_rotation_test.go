package augment

import (
	"bytes"
	"encoding/json"
	"testing"
)

// randomImage is a w x h x c image of seeded noise.
func randomImage(w, h, c int, seed uint64) *Image {
	m := NewImage(w, h, c)
	r := newRand(seed)
	for i := range m.Pix {
		m.Pix[i] = uint8(r.IntN(256))
	}
	return m
}

func sameImage(a, b *Image) bool {
	return a.W == b.W && a.H == b.H && a.C == b.C && bytes.Equal(a.Pix, b.Pix)
}

// TestRotate90Golden compares with np.rot90 (checked against PIL's
// transpose) in testdata/pretext/rotation.json.
func TestRotate90Golden(t *testing.T) {
	var g struct {
		Input struct {
			Shape  []int
			Pixels []uint8
		}
		Rotations map[string]struct {
			Shape  []int
			Pixels []uint8
		}
	}
	if err := json.Unmarshal(readTestdata(t, "pretext/rotation.json"), &g); err != nil {
		t.Fatal(err)
	}
	src := &Image{W: g.Input.Shape[1], H: g.Input.Shape[0], C: g.Input.Shape[2], Pix: g.Input.Pixels}
	if len(g.Rotations) != 3 {
		t.Fatalf("%d rotations in the golden file", len(g.Rotations))
	}
	for k, want := range g.Rotations {
		var got Image
		Rotate90(&got, src, int(k[0]-'0'))
		w := &Image{W: want.Shape[1], H: want.Shape[0], C: want.Shape[2], Pix: want.Pixels}
		if !sameImage(&got, w) {
			t.Errorf("k=%s: got %dx%d %v, numpy %dx%d %v", k, got.W, got.H, got.Pix, w.W, w.H, w.Pix)
		}
	}
}

func TestRotate90Properties(t *testing.T) {
	for _, sz := range [][3]int{{1, 1, 1}, {7, 3, 3}, {4, 9, 1}, {5, 5, 3}, {13, 8, 3}} {
		src := randomImage(sz[0], sz[1], sz[2], uint64(sz[0]*100+sz[1]))
		var r1, r2, r3, back, tmp Image
		Rotate90(&r1, src, 1)
		Rotate90(&r2, src, 2)
		Rotate90(&r3, src, 3)
		if r1.W != src.H || r1.H != src.W || r2.W != src.W || r3.W != src.H {
			t.Fatalf("%v: rotated sizes %dx%d %dx%d %dx%d", sz, r1.W, r1.H, r2.W, r2.H, r3.W, r3.H)
		}
		// Pixel (x, y) goes to (y, W-1-x) under one counter-clockwise turn.
		for y := 0; y < src.H; y++ {
			for x := 0; x < src.W; x++ {
				for c := 0; c < src.C; c++ {
					v := src.Pix[(y*src.W+x)*src.C+c]
					if got := r1.Pix[((src.W-1-x)*r1.W+y)*src.C+c]; got != v {
						t.Fatalf("%v: (%d,%d) moved wrongly", sz, x, y)
					}
				}
			}
		}
		Rotate90(&tmp, &r1, 1)
		if !sameImage(&tmp, &r2) {
			t.Errorf("%v: two quarter turns differ from a half turn", sz)
		}
		Rotate90(&back, &r3, 1)
		if !sameImage(&back, src) {
			t.Errorf("%v: four quarter turns are not the identity", sz)
		}
		Rotate90(&tmp, src, -1)
		if !sameImage(&tmp, &r3) {
			t.Errorf("%v: k=-1 differs from k=3", sz)
		}
		Rotate90(&tmp, src, 6)
		if !sameImage(&tmp, &r2) {
			t.Errorf("%v: k=6 differs from k=2", sz)
		}
		inPlace := src.Clone()
		Rotate90(inPlace, inPlace, 1)
		if !sameImage(inPlace, &r1) {
			t.Errorf("%v: in-place rotation differs", sz)
		}
		views := RotationViews(nil, src)
		for k, v := range views {
			Rotate90(&tmp, src, k)
			if !sameImage(v, &tmp) {
				t.Errorf("%v: RotationViews[%d] is not rotation %d", sz, k, k)
			}
		}
	}
}

func TestRandomRotationDeterministic(t *testing.T) {
	src := randomImage(9, 5, 3, 3)
	var seen [RotationClasses]int
	for i := range 200 {
		var a, b, want Image
		ka := RandomRotation(&a, src, newRand(uint64(i)))
		kb := RandomRotation(&b, src, newRand(uint64(i)))
		if ka != kb || !sameImage(&a, &b) {
			t.Fatalf("seed %d: not deterministic", i)
		}
		Rotate90(&want, src, ka)
		if !sameImage(&a, &want) {
			t.Fatalf("seed %d: image is not rotation %d", i, ka)
		}
		seen[ka]++
	}
	for k, n := range seen {
		if n < 30 {
			t.Errorf("label %d drawn %d times in 200", k, n)
		}
	}
}
