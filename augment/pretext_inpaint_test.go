package augment

import (
	"image"
	"testing"
)

func TestInpaintCenter(t *testing.T) {
	src := randomImage(128, 128, 3, 1)
	var p Inpainting
	if err := (Inpaint{Kind: InpaintCenter, Overlap: 4}).Generate(&p, src, nil); err != nil {
		t.Fatal(err)
	}
	// Pathak et al.: the 64x64 centre is the target, its interior inset by
	// the 4-pixel overlap is filled with the mean pixel.
	if p.Box != image.Rect(32, 32, 96, 96) {
		t.Fatalf("box %v", p.Box)
	}
	var want Image
	Crop(&want, src, p.Box)
	if !sameImage(&p.Target, &want) {
		t.Fatal("target is not the central square")
	}
	inner := image.Rect(36, 36, 92, 92)
	for y := 0; y < 128; y++ {
		for x := 0; x < 128; x++ {
			pt := image.Pt(x, y)
			in := p.Input.Pix[(y*128+x)*3 : (y*128+x)*3+3]
			orig := src.Pix[(y*128+x)*3 : (y*128+x)*3+3]
			if pt.In(inner) {
				if in[0] != 117 || in[1] != 104 || in[2] != 123 {
					t.Fatalf("(%d,%d) not filled: %v", x, y, in)
				}
			} else if string(in) != string(orig) {
				t.Fatalf("(%d,%d) changed outside the hidden square", x, y)
			}
			if m := p.Mask.Pix[y*128+x]; (m == 255) != pt.In(p.Box) || (m != 0 && m != 255) {
				t.Fatalf("mask at (%d,%d) = %d", x, y, m)
			}
		}
	}
	// Odd, non-square, gray, custom fill and fraction.
	g := randomImage(31, 20, 1, 2)
	if err := (Inpaint{Kind: InpaintCenter, Fraction: 0.3, Fill: []uint8{7}}).Generate(&p, g, nil); err != nil {
		t.Fatal(err)
	}
	if p.Box.Dx() != 6 || p.Box.Dy() != 6 || p.Target.W != 6 || p.Input.Pix[p.Box.Min.Y*31+p.Box.Min.X] != 7 {
		t.Fatalf("gray: box %v", p.Box)
	}
}

func TestInpaintRandom(t *testing.T) {
	src := randomImage(64, 48, 3, 3)
	spec := Inpaint{Kind: InpaintRandom}
	for i := range 30 {
		var p, q Inpainting
		if err := spec.Generate(&p, src, newRand(uint64(i))); err != nil {
			t.Fatal(err)
		}
		spec.Generate(&q, src, newRand(uint64(i)))
		if !sameImage(&p.Input, &q.Input) || !sameImage(&p.Mask, &q.Mask) {
			t.Fatal("not deterministic")
		}
		if !sameImage(&p.Target, src) {
			t.Fatal("random-kind target is not the source")
		}
		masked := 0
		var bounds image.Rectangle
		for _, r := range p.Rects {
			if r.Dx() < 7 || r.Dx() > 25 || r.Dy() < 5 || r.Dy() > 19 || !r.In(image.Rect(0, 0, 64, 48)) {
				t.Fatalf("rectangle %v outside the side limits", r)
			}
			bounds = bounds.Union(r)
		}
		for k, m := range p.Mask.Pix {
			pt := image.Pt(k%64, k/64)
			inRect := false
			for _, r := range p.Rects {
				inRect = inRect || pt.In(r)
			}
			if (m == 255) != inRect {
				t.Fatalf("mask at %v = %d, in a rectangle %v", pt, m, inRect)
			}
			in := p.Input.Pix[3*k : 3*k+3]
			if m == 255 {
				masked++
				if in[0] != 117 || in[1] != 104 || in[2] != 123 {
					t.Fatalf("masked pixel %v not filled", pt)
				}
			} else if string(in) != string(src.Pix[3*k:3*k+3]) {
				t.Fatalf("unmasked pixel %v changed", pt)
			}
		}
		if bounds != p.Box {
			t.Fatalf("box %v, rectangles' bounds %v", p.Box, bounds)
		}
		// Coverage 1/4 is reached (32 rectangles always suffice here), and
		// the last rectangle was needed.
		if masked < 64*48/4 {
			t.Fatalf("%d of %d pixels masked", masked, 64*48)
		}
	}
	for _, bad := range []Inpaint{{Kind: "ring"}, {Kind: InpaintCenter, Fraction: 1.5}, {Kind: InpaintRandom, MinSide: 0.5, MaxSide: 0.2},
		{Kind: InpaintRandom, Coverage: 2}, {Kind: InpaintCenter, Fill: []uint8{1, 2}}} {
		var p Inpainting
		if err := bad.Generate(&p, src, newRand(1)); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
