package augment

import (
	"fmt"
	"math"
	"sort"
	"sync"
)

// CIE L*a*b* for colorization (Zhang, Isola & Efros, "Colorful Image
// Colorization", 2016).
//
// RGBToLab is skimage.color.rgb2lab (0.19) on 8-bit input: v*(1/255),
// sRGB companding (threshold 0.04045, exponent 2.4), skimage's
// xyz_from_rgb matrix, D65 white for the 2-degree observer
// (0.95047, 1, 1.08883), cube root above 0.008856 and 7.787*t + 16/116
// below. The golden test compares a dense RGB grid with skimage.

// xyzFromRGB is skimage's xyz_from_rgb.
var xyzFromRGB = [3][3]float64{
	{0.412453, 0.357580, 0.180423},
	{0.212671, 0.715160, 0.072169},
	{0.019334, 0.119193, 0.950227},
}

// labWhite is skimage's D65 / 2-degree reference white.
var labWhite = [3]float64{0.95047, 1., 1.08883}

// srgbLinear[v] is the linear-light value of the 8-bit sRGB sample v.
var srgbLinear = func() (t [256]float64) {
	for i := range t {
		v := float64(i) * (1. / 255)
		if v > 0.04045 {
			t[i] = math.Pow((v+0.055)/1.055, 2.4)
		} else {
			t[i] = v / 12.92
		}
	}
	return
}()

func labF(t float64) float64 {
	if t > 0.008856 {
		return math.Cbrt(t)
	}
	return 7.787*t + 16./116.
}

// RGBToLab converts an 8-bit sRGB colour to CIE L*a*b* (D65, 2-degree
// observer) as skimage.color.rgb2lab does: L in [0, 100], a and b roughly
// in [-87, 99] and [-108, 95] over the sRGB gamut.
func RGBToLab(r, g, b uint8) (L, A, B float64) {
	lr, lg, lb := srgbLinear[r], srgbLinear[g], srgbLinear[b]
	m := &xyzFromRGB
	// float64(...) around each product keeps the compiler from fusing
	// multiply-adds, so the sums round like numpy's.
	x := float64(lr*m[0][0]) + float64(lg*m[0][1]) + float64(lb*m[0][2])
	y := float64(lr*m[1][0]) + float64(lg*m[1][1]) + float64(lb*m[1][2])
	z := float64(lr*m[2][0]) + float64(lg*m[2][1]) + float64(lb*m[2][2])
	fx, fy, fz := labF(x/labWhite[0]), labF(y/labWhite[1]), labF(z/labWhite[2])
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

// rgbFromXYZ is the inverse of xyzFromRGB (skimage's rgb_from_xyz).
var rgbFromXYZ = func() (inv [3][3]float64) {
	m := xyzFromRGB
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	for i := range 3 {
		for j := range 3 {
			// cofactor of m[j][i]
			a, b := (j+1)%3, (j+2)%3
			c, d := (i+1)%3, (i+2)%3
			inv[i][j] = (m[a][c]*m[b][d] - m[a][d]*m[b][c]) / det
		}
	}
	return
}()

// LabToRGB converts CIE L*a*b* (D65, 2-degree observer) back to 8-bit
// sRGB as skimage.color.lab2rgb does, clipping out-of-gamut values, and
// rounds to the nearest level. It is used to draw colorization targets.
func LabToRGB(L, A, B float64) (r, g, b uint8) {
	fy := (L + 16) / 116
	f := [3]float64{A/500 + fy, fy, fy - B/200}
	if f[2] < 0 {
		f[2] = 0
	}
	var xyz [3]float64
	for i, v := range f {
		if v > 0.2068966 {
			xyz[i] = v * v * v
		} else {
			xyz[i] = (v - 16./116.) / 7.787
		}
		xyz[i] *= labWhite[i]
	}
	var out [3]uint8
	for i := range 3 {
		v := rgbFromXYZ[i][0]*xyz[0] + rgbFromXYZ[i][1]*xyz[1] + rgbFromXYZ[i][2]*xyz[2]
		if v > 0.0031308 {
			v = 1.055*math.Pow(v, 1/2.4) - 0.055
		} else {
			v *= 12.92
		}
		out[i] = uint8(math.Round(min(max(v, 0), 1) * 255))
	}
	return out[0], out[1], out[2]
}

// ABBins quantises the ab plane into bins: the classes of Zhang et al.'s
// colorization, whose network predicts a distribution over the bins of
// each pixel. A bin is a centre on a square grid; a colour belongs to the
// nearest centre. An ABBins is immutable and safe for concurrent use.
type ABBins struct {
	grid    float64
	centers [][2]float64 // sorted by a, then b
	// lookup maps the grid cell (round(a/grid), round(b/grid)), offset by
	// lo, to the bin whose centre it is, or -1.
	lo, span int
	lookup   []int32
}

// GamutABBins computes the in-gamut bins of grid size grid (Zhang et al.
// use 10) from the ab gamut of 8-bit sRGB: a grid point (a, b) =
// (i*grid, j*grid) is a bin when an 8-bit sRGB colour, converted by
// RGBToLab, lies in the open square of side 2*grid centred on it, that is
// when the point is a corner of the grid cell holding that colour's ab. So
// every sRGB colour has its nearest grid point and the four corners of its
// cell among the bins, and no bin lies farther than one grid step from the
// gamut.
//
// Only the colours on the RGB cube's surface (a channel at 0 or 255,
// 390,152 of them) are converted: the ab footprint of a solid is that of
// its surface, since every line of constant ab that meets the solid meets
// its boundary (at its highest L). For grid 10 the golden test checks that
// this gives exactly the bins of all 2^24 colours (skimage): 309 bins, all
// among the 313 that Zhang et al. released (pts_in_hull.npy, whose
// construction is not documented); the four others, (40, 90),
// (100, -90), (100, -10) and (100, 0), are no corner of any sRGB colour's
// cell. To use exactly the released set, load its centres with NewABBins.
func GamutABBins(grid float64) (*ABBins, error) {
	if !(grid >= 1 && grid <= 128) {
		return nil, fmt.Errorf("augment: ab grid %v outside [1, 128]", grid)
	}
	const lim = 128 // |a|, |b| < 128 over sRGB
	n := int(math.Ceil(lim/grid)) + 1
	span := 2*n + 1
	hit := make([]bool, span*span)
	lin := srgbLinear // a local copy: fewer shared loads in the 2^24 loop
	m := &xyzFromRGB
	mr := [3]float64{m[0][0], m[1][0], m[2][0]}
	mg := [3]float64{m[0][1], m[1][1], m[2][1]}
	mb := [3]float64{m[0][2], m[1][2], m[2][2]}
	last := -1 // the previous colour's cell: consecutive blues mostly share it
	for r := range 256 {
		lr := lin[r]
		for g := range 256 {
			lg := lin[g]
			// The same sums, in the same order, as RGBToLab.
			px, py, pz := float64(lr*mr[0])+float64(lg*mg[0]), float64(lr*mr[1])+float64(lg*mg[1]), float64(lr*mr[2])+float64(lg*mg[2])
			step := 1
			if r != 0 && r != 255 && g != 0 && g != 255 {
				step = 255 // inside the cube's r and g faces: only b = 0 and 255 are on the surface
			}
			for b := 0; b < 256; b += step {
				lb := lin[b]
				x, y, z := px+float64(lb*mb[0]), py+float64(lb*mb[1]), pz+float64(lb*mb[2])
				fx, fy, fz := labF(x/labWhite[0]), labF(y/labWhite[1]), labF(z/labWhite[2])
				fa, fb := 500*(fx-fy)/grid, 200*(fy-fz)/grid
				i0, j0 := int(math.Floor(fa)), int(math.Floor(fb))
				i1, j1 := int(math.Ceil(fa)), int(math.Ceil(fb))
				key := ((i0+n)*span+(j0+n))<<2 | (i1-i0)<<1 | (j1 - j0)
				if key == last {
					continue
				}
				last = key
				hit[(i0+n)*span+(j0+n)] = true
				hit[(i0+n)*span+(j1+n)] = true
				hit[(i1+n)*span+(j0+n)] = true
				hit[(i1+n)*span+(j1+n)] = true
			}
		}
	}
	var centers [][2]float64
	for i := -n; i <= n; i++ {
		for j := -n; j <= n; j++ {
			if hit[(i+n)*span+(j+n)] {
				centers = append(centers, [2]float64{float64(i) * grid, float64(j) * grid})
			}
		}
	}
	return NewABBins(grid, centers)
}

var defaultABBins = sync.OnceValues(func() (*ABBins, error) { return GamutABBins(10) })

// DefaultABBins returns the 309 in-gamut bins of grid 10 (GamutABBins(10)),
// computed once per process on first use (some milliseconds).
func DefaultABBins() *ABBins {
	q, err := defaultABBins()
	if err != nil {
		panic(err) // grid 10 is valid
	}
	return q
}

// NewABBins builds bins from explicit centres (for example the 313 points
// of Zhang et al.'s pts_in_hull.npy). Centres must be distinct; they are
// sorted by a, then b, which defines the bin indices. The nearest-bin
// lookup is fast when every centre is a multiple of grid (grid 0 disables
// the lookup table: every query then scans all centres).
func NewABBins(grid float64, centers [][2]float64) (*ABBins, error) {
	if len(centers) == 0 || len(centers) > 1<<15 {
		return nil, fmt.Errorf("augment: %d ab bins (want 1 to 32768)", len(centers))
	}
	if grid < 0 || math.IsNaN(grid) {
		return nil, fmt.Errorf("augment: ab grid %v", grid)
	}
	c := append([][2]float64(nil), centers...)
	sort.Slice(c, func(i, j int) bool {
		if c[i][0] != c[j][0] {
			return c[i][0] < c[j][0]
		}
		return c[i][1] < c[j][1]
	})
	for i := range c {
		if math.IsNaN(c[i][0]) || math.IsNaN(c[i][1]) || math.Abs(c[i][0]) > 1000 || math.Abs(c[i][1]) > 1000 {
			return nil, fmt.Errorf("augment: ab bin centre %v out of range", c[i])
		}
		if i > 0 && c[i] == c[i-1] {
			return nil, fmt.Errorf("augment: ab bin centre %v given twice", c[i])
		}
	}
	q := &ABBins{grid: grid, centers: c}
	if grid > 0 {
		lo, hi := 0, 0
		onGrid := true
		for _, p := range c {
			i, j := math.Round(p[0]/grid), math.Round(p[1]/grid)
			if i*grid != p[0] || j*grid != p[1] {
				onGrid = false
				break
			}
			lo, hi = min(lo, int(i), int(j)), max(hi, int(i), int(j))
		}
		if onGrid {
			q.lo, q.span = lo, hi-lo+1
			q.lookup = make([]int32, q.span*q.span)
			for i := range q.lookup {
				q.lookup[i] = -1
			}
			for k, p := range c {
				i, j := int(math.Round(p[0]/grid))-lo, int(math.Round(p[1]/grid))-lo
				q.lookup[i*q.span+j] = int32(k)
			}
		}
	}
	return q, nil
}

// Len is the number of bins (the number of classes).
func (q *ABBins) Len() int { return len(q.centers) }

// Grid is the grid size the bins were built with.
func (q *ABBins) Grid() float64 { return q.grid }

// Center returns the (a, b) centre of bin k.
func (q *ABBins) Center(k int) (a, b float64) { return q.centers[k][0], q.centers[k][1] }

// Centers returns a copy of all centres in bin order.
func (q *ABBins) Centers() [][2]float64 { return append([][2]float64(nil), q.centers...) }

// Nearest returns the bin whose centre is nearest to (a, b) in the ab
// plane (ties go to the lower index). For a colour of the sRGB gamut and
// GamutABBins this is the grid point found by rounding a/grid and b/grid.
func (q *ABBins) Nearest(a, b float64) int {
	if q.lookup != nil {
		i, j := int(math.Round(a/q.grid))-q.lo, int(math.Round(b/q.grid))-q.lo
		if i >= 0 && j >= 0 && i < q.span && j < q.span {
			if k := q.lookup[i*q.span+j]; k >= 0 {
				return int(k)
			}
		}
	}
	best, bd := 0, math.Inf(1)
	for k, c := range q.centers {
		da, db := a-c[0], b-c[1]
		if d := da*da + db*db; d < bd {
			best, bd = k, d
		}
	}
	return best
}

// SoftEncode writes the len(idx) nearest bins of (a, b) into idx (nearest
// first, ties to the lower index) and their Gaussian weights
// exp(-d^2 / (2 sigma^2)), normalised to sum 1, into w: Zhang et al.'s soft
// encoding of the target (5 neighbours, sigma 5). len(w) must equal
// len(idx), at most Len().
func (q *ABBins) SoftEncode(idx []int32, w []float32, a, b, sigma float64) {
	k := len(idx)
	if len(w) != k || k > len(q.centers) || k == 0 {
		panic(fmt.Sprintf("augment: SoftEncode with %d indices, %d weights and %d bins", k, len(w), len(q.centers)))
	}
	var dbuf [16]float64
	d := dbuf[:0]
	if k > len(dbuf) {
		d = make([]float64, 0, k)
	}
	for n, c := range q.centers {
		da, db := a-c[0], b-c[1]
		dist := da*da + db*db
		if len(d) == k && dist >= d[k-1] {
			continue
		}
		// insert keeping d sorted; equal distances keep the earlier bin first
		p := len(d)
		if p < k {
			d = append(d, 0)
		} else {
			p = k - 1
		}
		for p > 0 && d[p-1] > dist {
			d[p] = d[p-1]
			idx[p] = idx[p-1]
			p--
		}
		d[p], idx[p] = dist, int32(n)
	}
	sum := 0.0
	for i := range d {
		d[i] = math.Exp(-d[i] / (2 * sigma * sigma))
		sum += d[i]
	}
	for i := range d {
		if sum > 0 {
			w[i] = float32(d[i] / sum)
		} else {
			w[i] = float32(1 / float64(k))
		}
	}
}

// Colorization is one colorization sample: the lightness as the input and
// the colour (ab) as the target, per pixel in row-major order.
type Colorization struct {
	W, H int
	L    []float32 // lightness L*, 0..100: the network's input
	AB   []float32 // 2*W*H: the a plane, then the b plane
	Bins []int32   // nearest bin of each pixel's ab: the class target
}

// Colorize fills dst from an RGB image (a gray one has a = b = 0): Lab by
// RGBToLab and each pixel's nearest bin. It draws nothing.
func (q *ABBins) Colorize(dst *Colorization, src *Image) {
	n := src.W * src.H
	dst.W, dst.H = src.W, src.H
	dst.L = resizeF32(dst.L, n)
	dst.AB = resizeF32(dst.AB, 2*n)
	if cap(dst.Bins) < n {
		dst.Bins = make([]int32, n)
	}
	dst.Bins = dst.Bins[:n]
	for i := range n {
		var r, g, b uint8
		if src.C == 3 {
			r, g, b = src.Pix[3*i], src.Pix[3*i+1], src.Pix[3*i+2]
		} else {
			r, g, b = src.Pix[i], src.Pix[i], src.Pix[i]
		}
		L, A, B := RGBToLab(r, g, b)
		dst.L[i], dst.AB[i], dst.AB[n+i] = float32(L), float32(A), float32(B)
		dst.Bins[i] = int32(q.Nearest(A, B))
	}
}

func resizeF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// LightnessImage draws c's L channel as an 8-bit gray image
// (round(L * 255 / 100)).
func (c *Colorization) LightnessImage(dst *Image) {
	dst.Reset(c.W, c.H, 1)
	for i, L := range c.L {
		dst.Pix[i] = uint8(math.Round(min(max(float64(L), 0), 100) * 2.55))
	}
}

// QuantizedImage draws what the class target keeps of the image: each
// pixel's L with its bin centre's ab, back in sRGB (LabToRGB).
func (q *ABBins) QuantizedImage(dst *Image, c *Colorization) {
	dst.Reset(c.W, c.H, 3)
	for i, L := range c.L {
		a, b := q.Center(int(c.Bins[i]))
		p := dst.Pix[3*i : 3*i+3 : 3*i+3]
		p[0], p[1], p[2] = LabToRGB(float64(L), a, b)
	}
}

// Histogram adds the number of pixels of src that fall in each bin to
// counts (len Len(), allocated when nil) and returns it: the empirical ab
// distribution that RebalanceWeights turns into class weights.
func (q *ABBins) Histogram(counts []float64, src *Image) []float64 {
	if counts == nil {
		counts = make([]float64, len(q.centers))
	}
	if len(counts) != len(q.centers) {
		panic(fmt.Sprintf("augment: histogram of %d counts for %d bins", len(counts), len(q.centers)))
	}
	n := src.W * src.H
	for i := range n {
		var r, g, b uint8
		if src.C == 3 {
			r, g, b = src.Pix[3*i], src.Pix[3*i+1], src.Pix[3*i+2]
		} else {
			r, g, b = src.Pix[i], src.Pix[i], src.Pix[i]
		}
		_, A, B := RGBToLab(r, g, b)
		counts[q.Nearest(A, B)]++
	}
	return counts
}

// Rebalancing holds Zhang et al.'s class rebalancing of a bin histogram.
type Rebalancing struct {
	Sigma   float64   `json:"sigma"`    // Gaussian smoothing in ab units (5)
	Lambda  float64   `json:"lambda"`   // weight of the uniform mix (0.5)
	Prior   []float64 `json:"prior"`    // smoothed empirical distribution p~, sums to 1
	Weights []float64 `json:"weights"`  // per-bin loss weight, E_p~[w] = 1
	Pixels  float64   `json:"pixels"`   // pixels counted
	Bins    int       `json:"num_bins"` // Q
}

// RebalanceWeights turns a bin histogram into Zhang et al.'s class
// rebalancing weights (sigma 5, lambda 0.5 in the paper):
//
//	p_q  = counts_q / sum(counts)                       empirical distribution
//	p~_q = sum_r p_r exp(-|c_q - c_r|^2 / (2 sigma^2)), then normalised to sum 1
//	w_q  = 1 / ((1 - lambda) p~_q + lambda / Q)
//	w    = w / sum_q p~_q w_q                            so that E_p~[w] = 1
//
// where c_q is bin q's centre and Q = Len(): the smoothing is a Gaussian
// kernel over the bin centres in the ab plane, restricted to the bins.
func (q *ABBins) RebalanceWeights(counts []float64, sigma, lambda float64) (Rebalancing, error) {
	Q := len(q.centers)
	rb := Rebalancing{Sigma: sigma, Lambda: lambda, Bins: Q}
	if len(counts) != Q {
		return rb, fmt.Errorf("augment: %d counts for %d ab bins", len(counts), Q)
	}
	if !(sigma > 0) || !(lambda > 0 && lambda <= 1) {
		// lambda 0 would give an infinite weight to a bin the smoothing
		// leaves at zero.
		return rb, fmt.Errorf("augment: rebalancing needs sigma > 0 and lambda in (0, 1], got %v and %v", sigma, lambda)
	}
	total := 0.0
	for _, c := range counts {
		if c < 0 || math.IsNaN(c) || math.IsInf(c, 0) {
			return rb, fmt.Errorf("augment: invalid bin count %v", c)
		}
		total += c
	}
	if total == 0 {
		return rb, fmt.Errorf("augment: empty ab histogram")
	}
	rb.Pixels = total
	prior := make([]float64, Q)
	for i, ci := range q.centers {
		s := 0.0
		for j, cj := range q.centers {
			if counts[j] == 0 {
				continue
			}
			da, db := ci[0]-cj[0], ci[1]-cj[1]
			s += counts[j] / total * math.Exp(-(da*da+db*db)/(2*sigma*sigma))
		}
		prior[i] = s
	}
	sum := 0.0
	for _, p := range prior {
		sum += p
	}
	w := make([]float64, Q)
	ew := 0.0
	for i := range prior {
		prior[i] /= sum
		w[i] = 1 / ((1-lambda)*prior[i] + lambda/float64(Q))
		ew += prior[i] * w[i]
	}
	for i := range w {
		w[i] /= ew
	}
	rb.Prior, rb.Weights = prior, w
	return rb, nil
}
