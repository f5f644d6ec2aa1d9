package augment

import (
	"math"
	"sort"
	"testing"
)

// ksUniform returns the Kolmogorov-Smirnov statistic of xs against U(a, b).
func ksUniform(xs []float64, a, b float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := float64(len(s))
	d := 0.0
	for i, x := range s {
		f := (x - a) / (b - a)
		d = max(d, math.Abs(f-float64(i)/n), math.Abs(float64(i+1)/n-f))
	}
	return d
}

// ksCrit is the KS critical value at alpha = 0.001.
func ksCrit(n int) float64 { return 1.95 / math.Sqrt(float64(n)) }

// binomialOK reports whether k successes in n trials are within 4.5
// standard deviations of n*p.
func binomialOK(k, n int, p float64) bool {
	if p == 0 || p == 1 {
		return k == int(p)*n
	}
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(k)-float64(n)*p) <= 4.5*sd
}

func TestRandomResizedCropDistribution(t *testing.T) {
	// On a 10000x10000 image with scale (0.08, 0.5) every first attempt
	// fits, so the crop's area fraction must be U(0.08, 0.5) and its log
	// aspect ratio U(log 3/4, log 4/3) (up to rounding w and h).
	r := newRand(7)
	const n = 20000
	areas, logr := make([]float64, n), make([]float64, n)
	for i := range n {
		box, fb := RandomResizedCropParams(r, 10000, 10000, [2]float64{0.08, 0.5}, [2]float64{3.0 / 4, 4.0 / 3})
		if fb {
			t.Fatal("fallback on a large image")
		}
		areas[i] = float64(box.Dx()*box.Dy()) / 1e8
		logr[i] = math.Log(float64(box.Dx()) / float64(box.Dy()))
	}
	if d := ksUniform(areas, 0.08, 0.5); d > ksCrit(n) {
		t.Errorf("area fraction KS D = %.4f > %.4f", d, ksCrit(n))
	}
	if d := ksUniform(logr, math.Log(3.0/4), math.Log(4.0/3)); d > ksCrit(n) {
		t.Errorf("log ratio KS D = %.4f > %.4f", d, ksCrit(n))
	}
}

func TestRandomResizedCropPositionUniform(t *testing.T) {
	// The top-left corner is uniform over the valid positions: for crops
	// of the full width the top is U{0..h-ch}; test the normalized top.
	r := newRand(8)
	var tops []float64
	for len(tops) < 8000 {
		box, _ := RandomResizedCropParams(r, 400, 300, [2]float64{0.1, 0.3}, [2]float64{1, 1})
		if free := 300 - box.Dy(); free > 50 {
			tops = append(tops, (float64(box.Min.Y)+0.5)/float64(free+1))
		}
	}
	if d := ksUniform(tops, 0, 1); d > ksCrit(len(tops))+0.02 {
		t.Errorf("top position KS D = %.4f", d)
	}
}

func TestRandomResizedCropFallbackRate(t *testing.T) {
	// A 1000x100 image (aspect 10) often rejects torchvision's draws. The
	// per-attempt acceptance probability p is integrated numerically over
	// (scale, log ratio) with the same rounding; the fallback rate must be
	// (1-p)^10.
	w, h := 1000, 100
	scale, ratio := [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}
	const grid = 1500
	acc := 0
	for i := range grid {
		s := scale[0] + (scale[1]-scale[0])*(float64(i)+0.5)/grid
		for j := range grid {
			lr := math.Log(ratio[0]) + (math.Log(ratio[1])-math.Log(ratio[0]))*(float64(j)+0.5)/grid
			a, ar := s*float64(w*h), math.Exp(lr)
			cw, ch := int(math.RoundToEven(math.Sqrt(a*ar))), int(math.RoundToEven(math.Sqrt(a/ar)))
			if cw > 0 && cw <= w && ch > 0 && ch <= h {
				acc++
			}
		}
	}
	p := float64(acc) / (grid * grid)
	want := math.Pow(1-p, 10)
	r := newRand(9)
	const n = 20000
	fb := 0
	for range n {
		box, f := RandomResizedCropParams(r, w, h, scale, ratio)
		if f {
			fb++
			// Fallback is the central crop with the ratio clamped: 133x100.
			if box.Dx() != 133 || box.Dy() != 100 || box.Min.X != 433 {
				t.Fatalf("fallback box %v", box)
			}
		}
	}
	if !binomialOK(fb, n, want) {
		t.Errorf("fallback rate %.4f, expected %.4f (p accept %.4f)", float64(fb)/n, want, p)
	}
	t.Logf("fallback rate %.4f, expected %.4f", float64(fb)/n, want)
}

func TestJitterOrderAndFactors(t *testing.T) {
	r := newRand(10)
	j := Jitter{0.4, 0.4, 0.2, 0.1}
	const n = 24000
	counts := map[[4]JitterOp]int{}
	var b, c, s, h []float64
	for range n {
		p := j.Params(r)
		counts[p.Order]++
		b, c, s, h = append(b, p.Brightness), append(c, p.Contrast), append(s, p.Saturation), append(h, p.HueShift)
	}
	if len(counts) != 24 {
		t.Fatalf("%d of 24 op orders seen", len(counts))
	}
	chi := 0.0
	for _, k := range counts {
		d := float64(k) - n/24.0
		chi += d * d / (n / 24.0)
	}
	if chi > 49.7 { // chi-square, 23 df, p = 0.001
		t.Errorf("op order chi-square %.1f > 49.7", chi)
	}
	for _, tc := range []struct {
		name string
		xs   []float64
		a, b float64
	}{{"brightness", b, 0.6, 1.4}, {"contrast", c, 0.6, 1.4}, {"saturation", s, 0.8, 1.2}, {"hue", h, -0.1, 0.1}} {
		if d := ksUniform(tc.xs, tc.a, tc.b); d > ksCrit(n) {
			t.Errorf("%s factor KS D = %.4f", tc.name, d)
		}
	}
	// Brightness 0.9 clamps its lower bound to 0: U(0, 1.9).
	var lo []float64
	for range 5000 {
		lo = append(lo, Jitter{Brightness: 0.9}.Params(r).Brightness)
	}
	if d := ksUniform(lo, 0.1, 1.9); d > ksCrit(5000) {
		t.Errorf("brightness 0.9 KS D = %.4f", d)
	}
}

func TestRecipeApplyProbabilities(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 800
	}
	src := testPhoto(t)
	rec := BYOL(32, true)
	rec.Views[0].Size, rec.Views[1].Size = 16, 16
	type cnt struct{ flip, jit, gray, blur, sol int }
	var c [2]cnt
	var sig []float64
	var views []*Image
	var dec []Decisions
	var s Scratch
	for i := range n {
		views, dec = rec.ApplyDecisions(views, dec, src, Key{Seed: 3, Index: uint64(i)}, &s)
		for v, d := range dec {
			if d.Flip {
				c[v].flip++
			}
			if d.Jitter {
				c[v].jit++
			}
			if d.Gray {
				c[v].gray++
			}
			if d.Blur {
				c[v].blur++
				if v == 0 {
					sig = append(sig, d.Sigma)
				}
			}
			if d.Solarize {
				c[v].sol++
			}
		}
	}
	for v, vs := range rec.Views {
		for _, tc := range []struct {
			name string
			k    int
			p    float64
		}{{"flip", c[v].flip, vs.FlipP}, {"jitter", c[v].jit, vs.JitterP}, {"gray", c[v].gray, vs.GrayP},
			{"blur", c[v].blur, vs.BlurP}, {"solarize", c[v].sol, vs.SolarizeP}} {
			if !binomialOK(tc.k, n, tc.p) {
				t.Errorf("view %d %s: %d of %d, p = %v", v, tc.name, tc.k, n, tc.p)
			}
		}
	}
	if d := ksUniform(sig, 0.1, 2.0); d > ksCrit(len(sig)) {
		t.Errorf("blur sigma KS D = %.4f", d)
	}
}

func TestBlockMaskStatistics(t *testing.T) {
	spec := MaskSpec{Kind: "block", Rows: 14, Cols: 14, Ratio: 0.6, MinPatches: 16, MinAspect: 0.3}
	r := newRand(11)
	ratio, cells := 0.6, 196
	target := int(ratio * float64(cells))
	total := 0
	const n = 2000
	for range n {
		m := spec.Generate(r)
		k := m.Count()
		if k > target || k < 16 {
			t.Fatalf("block mask has %d patches, target %d", k, target)
		}
		total += k
	}
	if mean := float64(total) / n; mean < 0.9*float64(target) {
		t.Errorf("mean masked %.1f, target %d", mean, target)
	}
}

func TestRandomMaskUniform(t *testing.T) {
	spec := MaskSpec{Kind: "random", Rows: 14, Cols: 14, Ratio: 0.75}
	r := newRand(12)
	const n = 4000
	freq := make([]int, 196)
	for range n {
		m := spec.Generate(r)
		if m.Count() != 147 { // 196 - int(196*0.25)
			t.Fatalf("random mask count %d", m.Count())
		}
		for i, b := range m.Bits {
			if b {
				freq[i]++
			}
		}
	}
	for i, f := range freq {
		if !binomialOK(f, n, 147.0/196) {
			t.Errorf("patch %d masked %d of %d", i, f, n)
		}
	}
}
