package augment

import (
	"encoding/binary"
	"encoding/json"
	"image"
	"math"
	"path/filepath"
	"sort"
	"testing"
)

// TestRGBToLabSkimage compares with skimage.color.rgb2lab (0.19.3) over
// the colours of testdata/pretext/lab_rgb.u8: tolerance 1e-9 absolute.
func TestRGBToLabSkimage(t *testing.T) {
	rgb := readTestdata(t, "pretext/lab_rgb.u8")
	raw := readTestdata(t, "pretext/lab_ref.f64")
	n := len(rgb) / 3
	if n < 5000 || len(raw) != 24*n {
		t.Fatalf("golden files: %d colours, %d bytes of Lab", n, len(raw))
	}
	const tol = 1e-10
	worst := 0.0
	for i := range n {
		L, A, B := RGBToLab(rgb[3*i], rgb[3*i+1], rgb[3*i+2])
		for c, got := range [3]float64{L, A, B} {
			want := math.Float64frombits(binary.LittleEndian.Uint64(raw[8*(3*i+c):]))
			d := math.Abs(got - want)
			worst = max(worst, d)
			if d > tol {
				t.Fatalf("rgb %v channel %d: %v, skimage %v", rgb[3*i:3*i+3], c, got, want)
			}
		}
	}
	t.Logf("%d colours, max |diff| vs skimage %.3g (tolerance %g)", n, worst, tol)
}

func TestLabToRGBRoundTrip(t *testing.T) {
	for r := 0; r < 256; r += 5 {
		for g := 0; g < 256; g += 7 {
			for b := 0; b < 256; b += 9 {
				L, A, B := RGBToLab(uint8(r), uint8(g), uint8(b))
				r2, g2, b2 := LabToRGB(L, A, B)
				if int(r2) != r || int(g2) != g || int(b2) != b {
					t.Fatalf("(%d,%d,%d) -> Lab -> (%d,%d,%d)", r, g, b, r2, g2, b2)
				}
			}
		}
	}
	for i := range 3 {
		for j := range 3 {
			s := 0.0
			for k := range 3 {
				s += rgbFromXYZ[i][k] * xyzFromRGB[k][j]
			}
			if want := float64(btoi(i == j)); math.Abs(s-want) > 1e-12 {
				t.Fatalf("rgbFromXYZ * xyzFromRGB [%d][%d] = %v", i, j, s)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGamutABBinsGolden compares the in-gamut bin set with the one
// make_pretext_golden.py computed from skimage by the same rule.
func TestGamutABBinsGolden(t *testing.T) {
	var g struct {
		Grid float64
		Bins [][2]float64
	}
	if err := json.Unmarshal(readTestdata(t, "pretext/gamut_bins.json"), &g); err != nil {
		t.Fatal(err)
	}
	q := DefaultABBins()
	if q.Len() != len(g.Bins) || q.Len() != 309 || q.Grid() != 10 {
		t.Fatalf("%d bins, skimage rule gives %d", q.Len(), len(g.Bins))
	}
	for k, c := range q.Centers() {
		if c != g.Bins[k] {
			t.Fatalf("bin %d: %v, golden %v", k, c, g.Bins[k])
		}
	}
	// Every sRGB colour's rounded grid point is a bin, so Nearest is the
	// rounding; check on a grid of colours against a full scan.
	for r := 0; r < 256; r += 15 {
		for gg := 0; gg < 256; gg += 15 {
			for b := 0; b < 256; b += 15 {
				_, A, B := RGBToLab(uint8(r), uint8(gg), uint8(b))
				k := q.Nearest(A, B)
				if want := scanNearest(q, A, B); k != want {
					t.Fatalf("(%d,%d,%d): nearest %d, scan %d", r, gg, b, k, want)
				}
			}
		}
	}
}

func scanNearest(q *ABBins, a, b float64) int {
	best, bd := -1, math.Inf(1)
	for k, c := range q.centers {
		if d := math.Hypot(a-c[0], b-c[1]); d < bd {
			best, bd = k, d
		}
	}
	return best
}

func TestNewABBins(t *testing.T) {
	// Off-grid centres: every query scans.
	c := [][2]float64{{3, 4}, {-20, 7.5}, {0, 0}, {55, -60}}
	q, err := NewABBins(10, c)
	if err != nil {
		t.Fatal(err)
	}
	if q.lookup != nil {
		t.Fatal("lookup table built for off-grid centres")
	}
	if a, b := q.Center(0); a != -20 || b != 7.5 {
		t.Fatalf("centres not sorted: bin 0 = (%v, %v)", a, b)
	}
	r := newRand(4)
	for range 500 {
		a, b := r.Float64()*200-100, r.Float64()*200-100
		if q.Nearest(a, b) != scanNearest(q, a, b) {
			t.Fatalf("(%v, %v): nearest %d, scan %d", a, b, q.Nearest(a, b), scanNearest(q, a, b))
		}
	}
	// On-grid centres with a hole: the lookup misses fall back to a scan.
	q, _ = NewABBins(10, [][2]float64{{0, 0}, {10, 0}, {0, 10}, {-30, -30}})
	for range 500 {
		a, b := r.Float64()*100-50, r.Float64()*100-50
		if q.Nearest(a, b) != scanNearest(q, a, b) {
			t.Fatalf("grid (%v, %v): nearest %d, scan %d", a, b, q.Nearest(a, b), scanNearest(q, a, b))
		}
	}
	for _, bad := range [][][2]float64{nil, {{1, 1}, {1, 1}}, {{math.NaN(), 0}}} {
		if _, err := NewABBins(10, bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestRebalanceGolden checks the histogram (exact) and the rebalancing
// prior and weights (1e-12 relative) against numpy's evaluation of the
// documented formula in make_pretext_golden.py.
func TestRebalanceGolden(t *testing.T) {
	var g struct {
		Sigma, Lambda          float64
		Counts, Prior, Weights []float64
	}
	if err := json.Unmarshal(readTestdata(t, "pretext/rebalance.json"), &g); err != nil {
		t.Fatal(err)
	}
	q := DefaultABBins()
	src := loadPNG(t, filepath.Join("testdata", "src_rgb.png"))
	gray := loadPNG(t, filepath.Join("testdata", "src_gray.png"))
	var part Image
	Crop(&part, src, image.Rect(20, 10, 77, 40)) // numpy src[10:40, 20:77]
	var counts []float64
	for _, m := range []*Image{src, gray, &part} {
		counts = q.Histogram(counts, m)
	}
	for k := range counts {
		if counts[k] != g.Counts[k] {
			t.Fatalf("bin %d: %v pixels, numpy %v", k, counts[k], g.Counts[k])
		}
	}
	rb, err := q.RebalanceWeights(counts, g.Sigma, g.Lambda)
	if err != nil {
		t.Fatal(err)
	}
	ew := 0.0
	for k := range rb.Weights {
		if !relClose(rb.Prior[k], g.Prior[k], 1e-12) || !relClose(rb.Weights[k], g.Weights[k], 1e-12) {
			t.Fatalf("bin %d: prior %v weight %v, numpy %v %v", k, rb.Prior[k], rb.Weights[k], g.Prior[k], g.Weights[k])
		}
		ew += rb.Prior[k] * rb.Weights[k]
	}
	if math.Abs(ew-1) > 1e-12 {
		t.Fatalf("E[w] = %v", ew)
	}
	// Rarer (smoothed) colours weigh more.
	idx := make([]int, len(rb.Prior))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return rb.Prior[idx[i]] < rb.Prior[idx[j]] })
	for i := 1; i < len(idx); i++ {
		if rb.Weights[idx[i]] > rb.Weights[idx[i-1]] {
			t.Fatal("weights do not decrease with the prior")
		}
	}
	for _, bad := range []struct{ s, l float64 }{{0, 0.5}, {5, 0}, {5, 1.5}} {
		if _, err := q.RebalanceWeights(counts, bad.s, bad.l); err == nil {
			t.Errorf("sigma %v lambda %v accepted", bad.s, bad.l)
		}
	}
	if _, err := q.RebalanceWeights(make([]float64, q.Len()), 5, 0.5); err == nil {
		t.Error("empty histogram accepted")
	}
}

func relClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

func TestSoftEncode(t *testing.T) {
	q := DefaultABBins()
	r := newRand(8)
	idx := make([]int32, 5)
	w := make([]float32, 5)
	for range 300 {
		a, b := r.Float64()*180-85, r.Float64()*200-105
		q.SoftEncode(idx, w, a, b, 5)
		if int(idx[0]) != q.Nearest(a, b) {
			t.Fatalf("(%v,%v): first neighbour %d, nearest %d", a, b, idx[0], q.Nearest(a, b))
		}
		// The five nearest by a full sort.
		order := make([]int, q.Len())
		for i := range order {
			order[i] = i
		}
		dist := func(k int) float64 { ca, cb := q.Center(k); return (a-ca)*(a-ca) + (b-cb)*(b-cb) }
		sort.SliceStable(order, func(i, j int) bool { return dist(order[i]) < dist(order[j]) })
		sum := float32(0)
		for i := range idx {
			if int(idx[i]) != order[i] {
				t.Fatalf("(%v,%v): neighbour %d is %d, sort gives %d", a, b, i, idx[i], order[i])
			}
			want := math.Exp(-dist(order[i])/50) / math.Exp(-dist(order[0])/50)
			if math.Abs(float64(w[i]/w[0])-want) > 1e-5 {
				t.Fatalf("weight ratio %v, want %v", w[i]/w[0], want)
			}
			sum += w[i]
		}
		if math.Abs(float64(sum)-1) > 1e-6 {
			t.Fatalf("weights sum to %v", sum)
		}
	}
}

func TestColorize(t *testing.T) {
	q := DefaultABBins()
	src := randomImage(11, 7, 3, 2)
	var c Colorization
	q.Colorize(&c, src)
	n := 77
	if c.W != 11 || c.H != 7 || len(c.L) != n || len(c.AB) != 2*n || len(c.Bins) != n {
		t.Fatalf("shapes %d %d %d", len(c.L), len(c.AB), len(c.Bins))
	}
	for i := range n {
		L, A, B := RGBToLab(src.Pix[3*i], src.Pix[3*i+1], src.Pix[3*i+2])
		if c.L[i] != float32(L) || c.AB[i] != float32(A) || c.AB[n+i] != float32(B) || int(c.Bins[i]) != q.Nearest(A, B) {
			t.Fatalf("pixel %d: %v %v %v bin %d", i, c.L[i], c.AB[i], c.AB[n+i], c.Bins[i])
		}
	}
	var li, qi Image
	c.LightnessImage(&li)
	q.QuantizedImage(&qi, &c)
	if li.C != 1 || qi.C != 3 || qi.W != 11 {
		t.Fatal("preview images")
	}
	// Quantisation moves a colour by at most half a grid diagonal in ab.
	for i := range n {
		_, A, B := RGBToLab(qi.Pix[3*i], qi.Pix[3*i+1], qi.Pix[3*i+2])
		if math.Hypot(A-float64(c.AB[i]), B-float64(c.AB[n+i])) > 30 {
			t.Fatalf("pixel %d: quantised colour far from the original", i)
		}
	}
	// A gray image is all in the (0, 0) bin (its ab is not exactly 0:
	// skimage's matrix rows do not sum to its white point exactly).
	g := randomImage(5, 4, 1, 3)
	q.Colorize(&c, g)
	zero := q.Nearest(0, 0)
	for i, b := range c.Bins {
		if int(b) != zero || math.Abs(float64(c.AB[i])) > 1e-2 {
			t.Fatalf("gray pixel %d: bin %d ab %v", i, b, c.AB[i])
		}
	}
}
