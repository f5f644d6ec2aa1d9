package augment

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sslpipe/sslpipe/augment/internal/turbo"
)

// golden.json is written by testdata/make_golden.py (torchvision 0.14.1,
// Pillow 9.4.0); each case states its tolerance in uint8 levels.
type goldenFile struct {
	Cases []struct {
		Name, Op, Input, Output string
		Tolerance               float64
		Params                  map[string]any
	}
	Fallback []struct {
		W, H                     int
		Ratio                    [2]float64
		Top, Left, Height, Width int
	}
	CenterCrop []struct{ W, H, Cw, Ch, Top, Left int } `json:"center_crop"`
	Kernels    map[string][]float64
	Decode     []struct {
		File, Expect  string
		ToleranceMean float64 `json:"tolerance_mean"`
		ToleranceMax  int     `json:"tolerance_max"`
	}
}

func loadGolden(t testing.TB) *goldenFile {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func loadPNG(t testing.TB, path string) *Image {
	t.Helper()
	m, err := DecodeFile(path, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diff returns the largest absolute difference and how many samples differ.
func diff(a, b *Image) (maxd, n int) {
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		if d > 0 {
			n++
		}
		maxd = max(maxd, d)
	}
	return
}

func num(p map[string]any, k string) float64 { return p[k].(float64) }

func TestGoldenOps(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			src := loadPNG(t, filepath.Join("testdata", c.Input))
			p := c.Params
			got := src.Clone()
			switch c.Op {
			case "resized_crop":
				interp, _ := ParseInterp(p["interp"].(string))
				x0, y0 := int(num(p, "left")), int(num(p, "top"))
				box := image.Rect(x0, y0, x0+int(num(p, "width")), y0+int(num(p, "height")))
				got = &Image{}
				ResizedCrop(got, src, box, int(num(p, "out_w")), int(num(p, "out_h")), interp, nil)
			case "brightness":
				AdjustBrightness(got, num(p, "factor"))
			case "contrast":
				AdjustContrast(got, num(p, "factor"))
			case "saturation":
				AdjustSaturation(got, num(p, "factor"))
			case "hue":
				AdjustHue(got, num(p, "factor"))
			case "grayscale":
				Grayscale(got)
			case "to_gray":
				got = &Image{}
				ToGray(got, src)
			case "solarize":
				Solarize(got, int(num(p, "threshold")))
			case "hflip":
				HFlip(got)
			case "center_crop":
				got = &Image{}
				CenterCrop(got, src, int(num(p, "width")), int(num(p, "height")))
			case "blur":
				GaussianBlur(got, int(num(p, "kernel")), num(p, "sigma"), nil)
			case "jitter":
				jp := JitterParams{Brightness: num(p, "brightness"), Contrast: num(p, "contrast"),
					Saturation: num(p, "saturation"), HueShift: num(p, "hue"), enabled: [4]bool{true, true, true, true}}
				for i, o := range p["order"].([]any) {
					jp.Order[i] = JitterOp(o.(float64))
				}
				jp.Apply(got)
			case "normalize":
				testNormalizeGolden(t, src, c.Output, c.Tolerance)
				return
			default:
				t.Fatalf("unknown op %q", c.Op)
			}
			want := loadPNG(t, filepath.Join("testdata/golden", c.Output))
			if got.W != want.W || got.H != want.H || got.C != want.C {
				t.Fatalf("shape %dx%dx%d, torchvision %dx%dx%d", got.W, got.H, got.C, want.W, want.H, want.C)
			}
			maxd, n := diff(got, want)
			if float64(maxd) > c.Tolerance {
				t.Errorf("max |diff| %d > tolerance %v (%d of %d samples differ)", maxd, c.Tolerance, n, len(got.Pix))
			} else if n > 0 {
				t.Logf("max |diff| %d, %d of %d samples differ (tolerance %v)", maxd, n, len(got.Pix), c.Tolerance)
			}
		})
	}
}

func testNormalizeGolden(t *testing.T, src *Image, out string, tol float64) {
	b, err := os.ReadFile(filepath.Join("testdata/golden", out))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(b)/4)
	for i := range want {
		want[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	got, shape, err := ImageNet.ToNCHW(nil, []*Image{src})
	if err != nil {
		t.Fatal(err)
	}
	if shape != [4]int{1, 3, src.H, src.W} || len(got) != len(want) {
		t.Fatalf("shape %v len %d, want %d values", shape, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol {
			t.Fatalf("value %d: %v, torchvision %v", i, got[i], want[i])
		}
	}
}

func TestGoldenFallbackAndCenterBoxes(t *testing.T) {
	g := loadGolden(t)
	for _, f := range g.Fallback {
		// scale (2, 3) never fits, so the fallback is taken whatever the RNG.
		box, fb := RandomResizedCropParams(newRand(1), f.W, f.H, [2]float64{2, 3}, f.Ratio)
		want := image.Rect(f.Left, f.Top, f.Left+f.Width, f.Top+f.Height)
		if box != want || (!fb && f.W*f.H > 1) {
			t.Errorf("%dx%d ratio %v: box %v fallback %v, torchvision %v", f.W, f.H, f.Ratio, box, fb, want)
		}
	}
	for _, c := range g.CenterCrop {
		box := CenterCropBox(c.W, c.H, c.Cw, c.Ch)
		if box.Min != image.Pt(c.Left, c.Top) {
			t.Errorf("center crop %dx%d of %dx%d: top-left %v, torchvision (%d,%d)", c.Cw, c.Ch, c.W, c.H, box.Min, c.Left, c.Top)
		}
	}
	for key, want := range g.Kernels {
		var k int
		var s float64
		fmt.Sscanf(key, "%d_%g", &k, &s)
		got := GaussianKernel(k, s)
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 2e-7 {
				t.Errorf("kernel %s[%d] = %v, torchvision %v", key, i, got[i], want[i])
			}
		}
	}
}

// TestGoldenDecode compares both JPEG paths with PIL's decode (Debian's
// Pillow 9.4 on libjpeg-turbo 2.1.5): libjpeg-turbo must give PIL's pixels
// exactly; Go's image/jpeg (the fallback, and the only decoder for
// CMYK/YCCK), followed by jpegYCbCrToRGB, must be within each file's
// tolerance_mean of them on average and tolerance_max everywhere. PNGs
// decode exactly on both paths.
func TestGoldenDecode(t *testing.T) {
	g := loadGolden(t)
	paths := []struct {
		name string
		lib  *turbo.Lib
	}{{"image/jpeg", nil}}
	if jpegLib != nil {
		paths = append(paths, struct {
			name string
			lib  *turbo.Lib
		}{"libjpeg-turbo", jpegLib})
	} else {
		t.Log("libjpeg-turbo not loaded: testing the image/jpeg path only")
	}
	for _, d := range g.Decode {
		for _, p := range paths {
			t.Run(d.File+"/"+p.name, func(t *testing.T) {
				got := &Image{}
				if err := decodeInto(got, d.File, readTestdata(t, d.File), DecodeOptions{Channels: 3}, p.lib); err != nil {
					t.Fatal(err)
				}
				want := loadPNG(t, filepath.Join("testdata/golden", d.Expect))
				if got.W != want.W || got.H != want.H || got.C != want.C {
					t.Fatalf("size %dx%dx%d, PIL %dx%dx%d", got.W, got.H, got.C, want.W, want.H, want.C)
				}
				var sum float64
				maxd, _ := diff(got, want)
				for i := range got.Pix {
					sum += math.Abs(float64(got.Pix[i]) - float64(want.Pix[i]))
				}
				mean := sum / float64(len(got.Pix))
				tol, tolMax := d.ToleranceMean, d.ToleranceMax
				if p.lib != nil && d.File != "cmyk.jpg" {
					tol, tolMax = 0, 0 // the library and settings PIL decodes with
				}
				if mean > tol || maxd > tolMax {
					t.Errorf("|diff| vs PIL: mean %.3f (tolerance %.3f), max %d (tolerance %d)", mean, tol, maxd, tolMax)
				} else {
					t.Logf("|diff| vs PIL: mean %.3f, max %d", mean, maxd)
				}
				// Channels 1 is PIL's convert("L") of that RGB image
				// (ToGray, checked against PIL by the grayscale1 case):
				// equal to the gray of the RGB decode on either path.
				gray, wantGray := &Image{}, &Image{}
				if err := decodeInto(gray, d.File, readTestdata(t, d.File), DecodeOptions{Channels: 1}, p.lib); err != nil {
					t.Fatal(err)
				}
				ToGray(wantGray, got)
				if gray.C != 1 || !bytes.Equal(gray.Pix, wantGray.Pix) {
					t.Errorf("Channels 1 is not the gray of the RGB decode")
				}
			})
		}
	}
}
