package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// luma is PIL's RGB -> "L" conversion (ITU-R 601-2, 16-bit fixed point,
// rounded).
func luma(r, g, b uint8) uint8 {
	return uint8((uint32(r)*19595 + uint32(g)*38470 + uint32(b)*7471 + 0x8000) >> 16)
}

// ToGray writes PIL's img.convert("L") of src into dst (1 channel). A gray
// src is copied.
func ToGray(dst, src *Image) {
	if src.C == 1 {
		dst.CopyFrom(src)
		return
	}
	dst.Reset(src.W, src.H, 1)
	p := src.Pix
	for i := range dst.Pix {
		q := p[3*i : 3*i+3 : 3*i+3]
		dst.Pix[i] = luma(q[0], q[1], q[2])
	}
}

// grayInPlace converts an RGB m to 1-channel gray (ToGray) in its own
// buffer: pixel i's gray value goes to byte i, which pixels 0..i have
// already been read from.
func grayInPlace(m *Image) {
	if m.C == 1 {
		return
	}
	p := m.Pix
	n := len(p) / 3
	for i := range n {
		q := p[3*i : 3*i+3 : 3*i+3]
		p[i] = luma(q[0], q[1], q[2])
	}
	m.Pix, m.C = p[:n], 1
}

// GrayToRGB replicates a 1-channel src into 3 channels in dst (an RGB src
// is copied).
func GrayToRGB(dst, src *Image) {
	if src.C == 3 {
		dst.CopyFrom(src)
		return
	}
	dst.Reset(src.W, src.H, 3)
	for i, v := range src.Pix {
		dst.Pix[3*i], dst.Pix[3*i+1], dst.Pix[3*i+2] = v, v, v
	}
}

// Grayscale converts m in place to gray while keeping its channel count,
// as torchvision's Grayscale(num_output_channels=m.C) / RandomGrayscale do
// on a PIL image.
func Grayscale(m *Image) {
	if m.C == 1 {
		return
	}
	p := m.Pix
	for i := 0; i+3 <= len(p); i += 3 {
		q := p[i : i+3 : i+3]
		l := luma(q[0], q[1], q[2])
		q[0], q[1], q[2] = l, l, l
	}
}

// blend returns PIL's ImagingBlend of one sample: in1 + alpha*(in2-in1) in
// float32, clipped to [0, 255] and truncated.
func blend(in1, in2 int32, alpha float32) uint8 {
	t := float32(in1) + float32(alpha*float32(in2-in1))
	if t <= 0 {
		return 0
	}
	if t >= 255 {
		return 255
	}
	return uint8(t)
}

// AdjustBrightness multiplies m by factor in place, as
// PIL.ImageEnhance.Brightness (torchvision F.adjust_brightness on PIL).
func AdjustBrightness(m *Image, factor float64) {
	var lut [256]uint8
	a := float32(factor)
	for v := range lut {
		lut[v] = blend(0, int32(v), a)
	}
	applyLUT(m.Pix, &lut)
}

// AdjustContrast blends m with its mean gray level, as
// PIL.ImageEnhance.Contrast: mean = int(mean(L) + 0.5).
func AdjustContrast(m *Image, factor float64) {
	// PIL takes the mean from the histogram of the "L" image; the plain
	// sum of the same luma values is the same number.
	var sum, n int64
	if m.C == 3 {
		p := m.Pix
		for i := 0; i+3 <= len(p); i += 3 {
			q := p[i : i+3 : i+3]
			sum += int64(luma(q[0], q[1], q[2]))
		}
		n = int64(len(p) / 3)
	} else {
		for _, v := range m.Pix {
			sum += int64(v)
		}
		n = int64(len(m.Pix))
	}
	if n == 0 {
		return
	}
	mean := int32(float64(sum)/float64(n) + 0.5)
	var lut [256]uint8
	a := float32(factor)
	for v := range lut {
		lut[v] = blend(mean, int32(v), a)
	}
	applyLUT(m.Pix, &lut)
}

// AdjustSaturation blends m with its per-pixel gray, as
// PIL.ImageEnhance.Color. Gray images are unchanged.
func AdjustSaturation(m *Image, factor float64) {
	if m.C == 1 {
		return
	}
	a := float32(factor)
	p := m.Pix
	for i := 0; i+3 <= len(p); i += 3 {
		q := p[i : i+3 : i+3]
		l := int32(luma(q[0], q[1], q[2]))
		q[0], q[1], q[2] = blend(l, int32(q[0]), a), blend(l, int32(q[1]), a), blend(l, int32(q[2]), a)
	}
}

// AdjustHue rotates the hue of m in place by factor turns, as
// torchvision's F.adjust_hue on a PIL image: PIL's 8-bit HSV, the hue byte
// shifted by uint8(factor*255) with wrap-around. factor is clamped to
// [-0.5, 0.5] (torchvision rejects values outside). Gray images are
// unchanged.
func AdjustHue(m *Image, factor float64) {
	if m.C == 1 {
		return
	}
	factor = min(max(factor, -0.5), 0.5)
	shift := uint8(int64(factor * 255)) // C cast: truncate, then wrap mod 256
	// Even a zero shift goes through PIL's HSV round trip, which is not
	// the identity for every pixel, so it is always applied.
	p := m.Pix
	tab, fwd := hsvTables(), rgbHSVTables()
	for i := 0; i+3 <= len(p); i += 3 {
		q := p[i : i+3 : i+3]
		h, s, v := fwd.rgbToHSV(q[0], q[1], q[2])
		q[0], q[1], q[2] = hsvToRGB(tab, h+shift, s, v)
	}
}

// rgbHSVTab holds rgbToHSV's results in tables, so that AdjustHue does
// no division and takes no data-dependent branch. Pillow's hue depends
// only on the differences between channels (which channel is the largest
// and the smallest, ties included, and max - x for each channel x), so it
// is tabulated by (r-g, g-b); saturation depends on (max, max-min).
// TestHSVGoldenExhaustive checks the tables against Pillow over all 2^24
// inputs.
type rgbHSVTab struct {
	hue [511 * 511]uint8 // [(r-g+255)*511 + g-b+255]
	sat [256 * 256]uint8 // [max<<8 | max-min]
}

var rgbHSVTables = sync.OnceValue(func() *rgbHSVTab {
	t := new(rgbHSVTab)
	for d1 := -255; d1 <= 255; d1++ { // r - g
		for d2 := -255; d2 <= 255; d2++ { // g - b
			// The representative with min 0: b, b+d2, b+d1+d2. Pairs
			// spanning more than 255 levels never occur.
			lo, hi := min(0, d2, d1+d2), max(0, d2, d1+d2)
			if hi-lo > 255 {
				continue
			}
			b := -lo
			t.hue[(d1+255)*511+d2+255], _, _ = rgbToHSV(uint8(b+d1+d2), uint8(b+d2), uint8(b))
		}
	}
	for mx := range 256 {
		for cr := 0; cr <= mx; cr++ {
			_, t.sat[mx<<8|cr], _ = rgbToHSV(uint8(mx), uint8(mx-cr), uint8(mx-cr))
		}
	}
	return t
})

// rgbToHSV is the package-level rgbToHSV by table lookup.
func (t *rgbHSVTab) rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc, minc := max(r, g, b), min(r, g, b)
	return t.hue[(int(r)-int(g)+255)*511+int(g)-int(b)+255], t.sat[int(maxc)<<8|int(maxc-minc)], maxc
}

// rgbToHSV is Pillow's rgb2hsv_row: float32 intermediates, double
// constants, truncation to bytes (identical to Image.convert("HSV") for
// all 2^24 inputs: TestHSVGoldenExhaustive).
func rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	rc := float32(maxc-r) / cr
	gc := float32(maxc-g) / cr
	bc := float32(maxc-b) / cr
	var h float32
	switch {
	case r == maxc:
		h = bc - gc
	case g == maxc:
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	// fmod(h/6 + 1, 1): the argument lies in [5/6, 11/6], where fmod is
	// an exact subtraction of 1 (Sterbenz), so no math.Mod is needed.
	x := float64(h)/6.0 + 1.0
	if x >= 1 {
		x -= 1
	}
	h = float32(x)
	// h is in [0, 1) and s in (0, 1]: no clipping is needed.
	return uint8(int(float64(h) * 255.0)), uint8(int(float64(s) * 255.0)), maxc
}

// hsvToRGB is Pillow's hsv2rgb with its per-byte subexpressions (fs as
// float32 and double, f and 1-f, the sector) tabulated in 256-entry
// tables; the arithmetic that combines them is Pillow's, so results are
// identical (TestHSVGoldenExhaustive checks all 2^24 inputs against
// Pillow's HSV-to-RGB convert).
func hsvToRGB(tab *hsvTab, h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	fv := float64(v)
	p := roundHalfAway(fv * (1.0 - tab.fs64[s]))
	q := roundHalfAway(fv * (1.0 - float64(tab.fs32[s]*tab.f32[h])))
	t := roundHalfAway(fv * (1.0 - tab.fs64[s]*tab.omf[h]))
	switch tab.sector[h] {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}

// roundHalfAway is C's round() for the products v*m in [0, 255] that
// hsvToRGB forms. int(x+0.5) could differ from round(x) only when x is
// within an ulp below a half-integer; TestHSVGoldenExhaustive checks all
// 2^24 inputs against Pillow's output, so it does not.
func roundHalfAway(x float64) uint8 { return uint8(int(x + 0.5)) }

type hsvTab struct {
	fs32   [256]float32 // s/255 as Pillow's float fs
	fs64   [256]float64 // the same value as a double
	f32    [256]float32 // f, the remainder of h*6/255
	omf    [256]float64 // 1.0 - (double)f
	sector [256]uint8   // i % 6
}

var hsvTables = sync.OnceValue(func() *hsvTab {
	t := new(hsvTab)
	for h := range 256 {
		hf := float64(float32(h)) * 6.0 / 255.0
		i := int(math.Floor(hf))
		f := float32(hf - float64(float32(i)))
		t.sector[h] = uint8(i % 6)
		t.f32[h] = f
		t.omf[h] = 1.0 - float64(f)
	}
	for s := range 256 {
		fs := float32(float64(float32(s)) / 255.0)
		t.fs32[s], t.fs64[s] = fs, float64(fs)
	}
	return t
})

// Solarize inverts every sample >= threshold in place, as PIL's
// ImageOps.solarize (torchvision F.solarize on PIL; 128 in SSL recipes).
func Solarize(m *Image, threshold int) {
	var lut [256]uint8
	for v := range lut {
		if v < threshold {
			lut[v] = uint8(v)
		} else {
			lut[v] = uint8(255 - v)
		}
	}
	applyLUT(m.Pix, &lut)
}

func applyLUT(p []uint8, lut *[256]uint8) {
	for i, v := range p {
		p[i] = lut[v]
	}
}

// Jitter is a ColorJitter configuration, torchvision's ColorJitter(b, c,
// s, h): factors are drawn from U(max(0, 1-x), 1+x) for brightness,
// contrast and saturation and from U(-h, h) for hue (h <= 0.5). A zero
// field disables that op.
type Jitter struct {
	Brightness float64 `yaml:"brightness" json:"brightness"`
	Contrast   float64 `yaml:"contrast" json:"contrast"`
	Saturation float64 `yaml:"saturation" json:"saturation"`
	Hue        float64 `yaml:"hue" json:"hue"`
}

// JitterOp names one of ColorJitter's four ops.
type JitterOp uint8

const (
	OpBrightness JitterOp = iota
	OpContrast
	OpSaturation
	OpHue
)

// JitterParams are the drawn parameters of one ColorJitter call: the op
// order (a permutation of the four ops) and each factor. Disabled ops keep
// factor 1 (hue 0) and are skipped.
type JitterParams struct {
	Order                                      [4]JitterOp
	Brightness, Contrast, Saturation, HueShift float64
	enabled                                    [4]bool
}

// Params draws one call's parameters like torchvision's
// ColorJitter.get_params: a uniformly random op order, then each enabled
// factor.
func (j Jitter) Params(r *rand.Rand) JitterParams {
	var p JitterParams
	p.Order = [4]JitterOp{0, 1, 2, 3}
	for i := 3; i > 0; i-- { // Fisher-Yates: uniform permutation
		k := r.IntN(i + 1)
		p.Order[i], p.Order[k] = p.Order[k], p.Order[i]
	}
	p.Brightness, p.Contrast, p.Saturation = 1, 1, 1
	if j.Brightness > 0 {
		p.Brightness = uniform(r, max(0, 1-j.Brightness), 1+j.Brightness)
		p.enabled[OpBrightness] = true
	}
	if j.Contrast > 0 {
		p.Contrast = uniform(r, max(0, 1-j.Contrast), 1+j.Contrast)
		p.enabled[OpContrast] = true
	}
	if j.Saturation > 0 {
		p.Saturation = uniform(r, max(0, 1-j.Saturation), 1+j.Saturation)
		p.enabled[OpSaturation] = true
	}
	if j.Hue > 0 {
		p.HueShift = uniform(r, -j.Hue, j.Hue)
		p.enabled[OpHue] = true
	}
	return p
}

// Validate checks the ranges torchvision enforces.
func (j Jitter) Validate() error {
	if j.Brightness < 0 || j.Contrast < 0 || j.Saturation < 0 {
		return fmt.Errorf("augment: jitter brightness/contrast/saturation must be >= 0")
	}
	if j.Hue < 0 || j.Hue > 0.5 {
		return fmt.Errorf("augment: jitter hue must be in [0, 0.5], got %v", j.Hue)
	}
	return nil
}

// Apply runs the enabled ops on m in p.Order.
func (p *JitterParams) Apply(m *Image) {
	for _, op := range p.Order {
		if !p.enabled[op] {
			continue
		}
		switch op {
		case OpBrightness:
			AdjustBrightness(m, p.Brightness)
		case OpContrast:
			AdjustContrast(m, p.Contrast)
		case OpSaturation:
			AdjustSaturation(m, p.Saturation)
		case OpHue:
			AdjustHue(m, p.HueShift)
		}
	}
}
