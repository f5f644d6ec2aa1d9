package augment

import (
	"encoding/json"
	"image"
	"path/filepath"
	"testing"
)

// TestDownscalePillow compares Downscale, and the bicubic up-sampling back,
// with PIL 9.4's Image.resize(..., Image.BICUBIC) byte for byte
// (testdata/pretext/superres.json), with the SIMD kernels on and off.
func TestDownscalePillow(t *testing.T) {
	var g struct {
		Tolerance int
		Cases     []struct {
			Input, Down, Up string
			Factor          int
		}
	}
	if err := json.Unmarshal(readTestdata(t, "pretext/superres.json"), &g); err != nil {
		t.Fatal(err)
	}
	if g.Tolerance != 0 || len(g.Cases) < 10 {
		t.Fatalf("golden file: tolerance %d, %d cases", g.Tolerance, len(g.Cases))
	}
	dir := filepath.Join("testdata", "pretext", "superres")
	defer func(v bool) { fastResample = v }(fastResample)
	for _, fast := range []bool{true, false} {
		fastResample = fast
		for _, c := range g.Cases {
			src := loadPNG(t, filepath.Join(dir, c.Input))
			var low, up Image
			if err := Downscale(&low, src, c.Factor, nil); err != nil {
				t.Fatal(err)
			}
			for _, cmp := range []struct {
				got  *Image
				file string
			}{{&low, c.Down}, {&up, c.Up}} {
				if cmp.got == &up {
					Resize(&up, &low, src.W, src.H, Bicubic, nil)
				}
				want := loadPNG(t, filepath.Join(dir, cmp.file))
				if cmp.got.W != want.W || cmp.got.H != want.H || cmp.got.C != want.C {
					t.Fatalf("%s: %dx%dx%d, Pillow %dx%dx%d", cmp.file, cmp.got.W, cmp.got.H, cmp.got.C, want.W, want.H, want.C)
				}
				if maxd, n := diff(cmp.got, want); maxd != 0 {
					t.Errorf("%s (simd %v): max |diff| %d over %d samples, want byte-exact", cmp.file, fast, maxd, n)
				}
			}
		}
	}
}

func TestSuperResGenerate(t *testing.T) {
	src := randomImage(53, 38, 3, 5)
	var p SuperResPair
	// Whole image: the largest centred box with sides multiple of 4.
	if err := (SuperRes{Factor: 4, Upsample: true}).Generate(&p, src, nil, nil); err != nil {
		t.Fatal(err)
	}
	if p.Box != image.Rect(0, 1, 52, 37) || p.Target.W != 52 || p.Target.H != 36 || p.Low.W != 13 || p.Low.H != 9 {
		t.Fatalf("box %v target %dx%d low %dx%d", p.Box, p.Target.W, p.Target.H, p.Low.W, p.Low.H)
	}
	var want Image
	Crop(&want, src, p.Box)
	if !sameImage(&p.Target, &want) {
		t.Fatal("target is not the box of the source")
	}
	Downscale(&want, &p.Target, 4, nil)
	if !sameImage(&p.Low, &want) {
		t.Fatal("low is not the target downscaled")
	}
	if p.Upsampled.W != 52 || p.Upsampled.H != 36 {
		t.Fatalf("upsampled %dx%d", p.Upsampled.W, p.Upsampled.H)
	}
	// Patches: random positions, deterministic per stream.
	sr := SuperRes{Factor: 3, Patch: 24}
	boxes := map[image.Rectangle]bool{}
	for i := range 20 {
		var a, b SuperResPair
		if err := sr.Generate(&a, src, newRand(uint64(i)), nil); err != nil {
			t.Fatal(err)
		}
		sr.Generate(&b, src, newRand(uint64(i)), nil)
		if a.Box != b.Box || !sameImage(&a.Low, &b.Low) {
			t.Fatal("patch not deterministic")
		}
		if !a.Box.In(image.Rect(0, 0, src.W, src.H)) || a.Box.Dx() != 24 || a.Low.W != 8 || a.Upsampled.W != 0 {
			t.Fatalf("patch box %v low %d", a.Box, a.Low.W)
		}
		boxes[a.Box] = true
	}
	if len(boxes) < 10 {
		t.Errorf("only %d distinct patch positions in 20 draws", len(boxes))
	}
	for _, bad := range []SuperRes{{Factor: 0}, {Factor: 3, Patch: 10}, {Factor: 2, Patch: 60}} {
		if err := bad.Generate(&p, src, newRand(1), nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := (SuperRes{Factor: 4}).Generate(&p, randomImage(3, 9, 1, 1), nil, nil); err == nil {
		t.Error("image narrower than the factor accepted")
	}
}
