package augment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
)

// hsvGolden is testdata/hsv_golden.json, written by
// testdata/make_hsv_golden.py from Pillow 9.4.0's Image.convert("HSV"),
// its HSV-to-RGB convert and torchvision 0.14.1's F.adjust_hue on PIL
// images, over all 2^24 inputs. Tolerance: none.
type hsvGolden struct {
	Pillow, Torchvision string
	Levels              []int
	HueFactors          []float64 `json:"hue_factors"`
	Ops                 map[string]struct {
		Digests []string
		Grid    []byte
	}
}

func loadHSVGolden(t *testing.T) *hsvGolden {
	t.Helper()
	var g hsvGolden
	if err := json.Unmarshal(readTestdata(t, "hsv_golden.json"), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Ops) != 2+len(g.HueFactors) {
		t.Fatalf("hsv_golden.json: %d ops for %d hue factors", len(g.Ops), len(g.HueFactors))
	}
	return &g
}

// hsvOps are the functions under test with the golden each must match:
// each maps the three input bytes to three output bytes.
var hsvOps = []struct {
	golden, name string
	f            func(x, y, z uint8) (uint8, uint8, uint8)
}{
	{"rgb2hsv", "rgbToHSV", rgbToHSV},
	{"rgb2hsv", "rgbHSVTab.rgbToHSV", func(r, g, b uint8) (uint8, uint8, uint8) { return rgbHSVTables().rgbToHSV(r, g, b) }},
	{"hsv2rgb", "hsvToRGB", func(h, s, v uint8) (uint8, uint8, uint8) { return hsvToRGB(hsvTables(), h, s, v) }},
}

// TestHSVGoldenGrid compares rgbToHSV and hsvToRGB with Pillow on the
// grid Levels^3 and prints the differing values.
func TestHSVGoldenGrid(t *testing.T) {
	g := loadHSVGolden(t)
	for _, op := range hsvOps {
		name, f := op.name, op.f
		grid := g.Ops[op.golden].Grid
		if len(grid) != 3*len(g.Levels)*len(g.Levels)*len(g.Levels) {
			t.Fatalf("%s: grid of %d bytes", name, len(grid))
		}
		bad, i := 0, 0
		for _, x := range g.Levels {
			for _, y := range g.Levels {
				for _, z := range g.Levels {
					a, b, c := f(uint8(x), uint8(y), uint8(z))
					w := grid[i : i+3]
					if a != w[0] || b != w[1] || c != w[2] {
						if bad++; bad <= 10 {
							t.Errorf("%s(%d, %d, %d) = %d %d %d, Pillow %d %d %d", name, x, y, z, a, b, c, w[0], w[1], w[2])
						}
					}
					i += 3
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d grid points differ", name, bad, i/3)
		}
	}
}

// TestHSVGoldenExhaustive checks every one of the 2^24 inputs of
// rgbToHSV (formula and tables), hsvToRGB and AdjustHue (at the golden's
// factors) against
// Pillow/torchvision: the SHA-256 of each slice of 65,536 outputs with
// the same first input byte must match.
func TestHSVGoldenExhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("8 x 16.7M cases")
	}
	g := loadHSVGolden(t)
	check := func(golden, name string, slice func(x int, out []uint8)) {
		want := g.Ops[golden].Digests
		if len(want) != 256 {
			t.Fatalf("%s: %d digests", name, len(want))
		}
		out := make([]uint8, 3<<16)
		bad := 0
		for x := range 256 {
			slice(x, out)
			sum := sha256.Sum256(out)
			if got := hex.EncodeToString(sum[:8]); got != want[x] {
				if bad++; bad <= 5 {
					t.Errorf("%s: inputs (%d, *, *) differ from Pillow (digest %s, want %s)", name, x, got, want[x])
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of 256 slices differ", name, bad)
		}
	}
	for _, op := range hsvOps {
		f := op.f
		check(op.golden, op.name, func(x int, out []uint8) {
			for i := range 1 << 16 {
				out[3*i], out[3*i+1], out[3*i+2] = f(uint8(x), uint8(i>>8), uint8(i))
			}
		})
	}
	for _, hf := range g.HueFactors {
		name := "hue_" + pyFloat(hf)
		check(name, fmt.Sprintf("AdjustHue(%v)", hf), func(x int, out []uint8) {
			m := &Image{W: 256, H: 256, C: 3, Pix: out}
			for i := range 1 << 16 {
				out[3*i], out[3*i+1], out[3*i+2] = uint8(x), uint8(i>>8), uint8(i)
			}
			AdjustHue(m, hf)
		})
	}
}

// pyFloat formats f as Python's str(float) does for the golden's factors
// (0.0, -0.5, 0.37).
func pyFloat(f float64) string {
	s := fmt.Sprint(f)
	if f == float64(int64(f)) {
		s += ".0"
	}
	return s
}
