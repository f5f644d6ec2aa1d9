package augment

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// Interp is a resampling filter.
type Interp int

const (
	// Bilinear is PIL's BILINEAR (triangle filter, support 1), antialiased:
	// the support widens with the downscale factor. torchvision's default.
	Bilinear Interp = iota
	// Bicubic is PIL's BICUBIC (Keys a = -0.5, support 2), antialiased.
	// BYOL and DINO use it.
	Bicubic
)

// ParseInterp maps "bilinear" and "bicubic" to an Interp.
func ParseInterp(s string) (Interp, error) {
	switch s {
	case "bilinear", "":
		return Bilinear, nil
	case "bicubic":
		return Bicubic, nil
	}
	return 0, fmt.Errorf("augment: unknown interpolation %q (bilinear, bicubic)", s)
}

func (i Interp) String() string {
	if i == Bicubic {
		return "bicubic"
	}
	return "bilinear"
}

// MarshalText and UnmarshalText let recipes spell the filter as a word.
func (i Interp) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

func (i *Interp) UnmarshalText(b []byte) error {
	v, err := ParseInterp(string(b))
	*i = v
	return err
}

func (i Interp) support() float64 {
	if i == Bicubic {
		return 2
	}
	return 1
}

func (i Interp) filter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if i == Bicubic {
		const a = -0.5
		if x < 1 {
			return ((a+2)*x-(a+3))*x*x + 1
		}
		if x < 2 {
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// fastResample enables the SIMD row kernels (tests switch it off to
// compare against the portable code).
var fastResample = true

// precision is Pillow's PRECISION_BITS for 8-bit resampling.
const precision = 32 - 8 - 2

// coeffs holds, per output index, the first input index, the tap count and
// ksize fixed-point weights (Pillow's precompute_coeffs followed by
// normalize_coeffs_8bpc).
type coeffs struct {
	ksize  int
	bounds []int // 2 per output: xmin, n
	k      []int32
	k4     []int32 // k with each value repeated 4 times (SIMD); filled lazily
}

func (c *coeffs) compute(inSize int, in0, in1 float64, outSize int, f Interp) {
	scale := (in1 - in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := f.support() * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c.ksize = ksize
	c.k4 = c.k4[:0]
	if cap(c.bounds) < 2*outSize {
		c.bounds = make([]int, 2*outSize)
	}
	c.bounds = c.bounds[:2*outSize]
	if cap(c.k) < outSize*ksize {
		c.k = make([]int32, outSize*ksize)
	}
	c.k = c.k[:outSize*ksize]
	var w [64]float64
	var wbig []float64
	for xx := 0; xx < outSize; xx++ {
		center := in0 + (float64(xx)+0.5)*scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ws := w[:]
		if ksize > len(w) {
			if cap(wbig) < ksize {
				wbig = make([]float64, ksize)
			}
			ws = wbig[:ksize]
		}
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := f.filter((float64(x+xmin) - center + 0.5) * ss)
			ws[x] = v
			ww += v
		}
		k := c.k[xx*ksize : (xx+1)*ksize]
		for x := 0; x < ksize; x++ {
			v := 0.0
			if x < xmax {
				v = ws[x]
				if ww != 0 {
					v /= ww
				}
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precision))
			} else {
				k[x] = int32(0.5 + v*(1<<precision))
			}
		}
		c.bounds[2*xx], c.bounds[2*xx+1] = xmin, xmax
	}
}

func clip8(v int32) uint8 {
	v >>= precision
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// Scratch holds one goroutine's temporary buffers and random stream. The
// zero value is ready to use. A Scratch must not be used by two goroutines
// at once, nor copied after first use.
type Scratch struct {
	hc, vc coeffs
	tmp    Image
	blur   []float32
	kern   []float32
	conv   Image      // channel-converted source
	pcg    rand.PCG   // the current view's stream
	rng    *rand.Rand // reads pcg
}

// Resize writes src resized to w x h into dst with Pillow's antialiased
// filter (torchvision's F.resize on a PIL image).
func Resize(dst, src *Image, w, h int, f Interp, s *Scratch) {
	ResizedCrop(dst, src, image.Rect(0, 0, src.W, src.H), w, h, f, s)
}

// ResizedCrop writes the box of src, resized to w x h, into dst: the same
// pixels as PIL's img.crop(box).resize((w, h), f), which is what
// torchvision's F.resized_crop does to a PIL image. The box must lie inside
// src and be non-empty; s may be nil.
func ResizedCrop(dst, src *Image, box image.Rectangle, w, h int, f Interp, s *Scratch) {
	if box.Empty() || !box.In(image.Rect(0, 0, src.W, src.H)) || w <= 0 || h <= 0 {
		panic(fmt.Sprintf("augment: ResizedCrop box %v outside %dx%d image or empty output %dx%d", box, src.W, src.H, w, h))
	}
	if s == nil {
		s = new(Scratch)
	}
	cw, ch := box.Dx(), box.Dy()
	needH, needV := w != cw, h != ch
	c := src.C
	if !needH && !needV {
		dst.Reset(w, h, c)
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*w*c:(y+1)*w*c], src.Pix[((box.Min.Y+y)*src.W+box.Min.X)*c:])
		}
		return
	}
	// Vertical coefficients first, to know which source rows matter.
	y0, y1 := 0, ch
	if needV {
		s.vc.compute(ch, 0, float64(ch), h, f)
		y0 = s.vc.bounds[0]
		y1 = s.vc.bounds[2*h-2] + s.vc.bounds[2*h-1]
	}
	// Horizontal pass: rows [y0, y1) of the box into tmp (or dst).
	var mid *Image
	if needH {
		s.hc.compute(cw, 0, float64(cw), w, f)
		mid = &s.tmp
		if !needV {
			mid = dst
		}
		mid.Reset(w, y1-y0, c)
		horizontal(mid, src, box.Min.X, box.Min.Y+y0, &s.hc)
	} else {
		// Only vertical: read straight from the crop.
		mid = &s.tmp
		mid.Reset(w, y1-y0, c)
		for y := y0; y < y1; y++ {
			copy(mid.Pix[(y-y0)*w*c:(y-y0+1)*w*c], src.Pix[((box.Min.Y+y)*src.W+box.Min.X)*c:])
		}
	}
	if needV {
		dst.Reset(w, h, c)
		vertical(dst, mid, y0, &s.vc)
	}
}

func horizontal(dst, src *Image, x0, y0 int, cf *coeffs) {
	w, c, ks := dst.W, src.C, cf.ksize
	sstride := src.W * c
	for y := 0; y < dst.H; y++ {
		// row runs to the end of the buffer so the SIMD path may read
		// past the crop when pixels follow.
		row := src.Pix[(y0+y)*sstride+x0*c:]
		out := dst.Pix[y*w*c : (y+1)*w*c]
		if c == 3 && fastResample && horizRowFast(out, row, cf) {
			continue
		}
		if c == 3 {
			for xx := 0; xx < w; xx++ {
				xmin, n := cf.bounds[2*xx], cf.bounds[2*xx+1]
				k := cf.k[xx*ks : xx*ks+n]
				in := row[3*xmin : 3*(xmin+n)]
				r, g, b := int32(1<<(precision-1)), int32(1<<(precision-1)), int32(1<<(precision-1))
				for i, kv := range k {
					p := in[3*i : 3*i+3 : 3*i+3]
					r += int32(p[0]) * kv
					g += int32(p[1]) * kv
					b += int32(p[2]) * kv
				}
				o := out[3*xx : 3*xx+3 : 3*xx+3]
				o[0], o[1], o[2] = clip8(r), clip8(g), clip8(b)
			}
			continue
		}
		for xx := 0; xx < w; xx++ {
			xmin, n := cf.bounds[2*xx], cf.bounds[2*xx+1]
			k := cf.k[xx*ks : xx*ks+n]
			in := row[xmin : xmin+n]
			v := int32(1 << (precision - 1))
			for i, kv := range k {
				v += int32(in[i]) * kv
			}
			out[xx] = clip8(v)
		}
	}
}

// vertical resamples columns; src row 0 is the first row named by cf minus
// y0. It runs row by row so memory is read sequentially.
func vertical(dst, src *Image, y0 int, cf *coeffs) {
	n := dst.W * dst.C
	stride := src.W * src.C
	var accBuf [4096]int32
	acc := accBuf[:0]
	if n <= len(accBuf) {
		acc = accBuf[:n]
	} else {
		acc = make([]int32, n)
	}
	ks := cf.ksize
	for yy := 0; yy < dst.H; yy++ {
		ymin, cnt := cf.bounds[2*yy]-y0, cf.bounds[2*yy+1]
		k := cf.k[yy*ks : yy*ks+cnt]
		done := 0
		if fastResample {
			done = vertRowFast(dst.Pix[yy*n:(yy+1)*n], src.Pix[ymin*stride:], stride, k)
		}
		if done == n {
			continue
		}
		for i := range acc {
			acc[i] = 1 << (precision - 1)
		}
		for i, kv := range k {
			row := src.Pix[(ymin+i)*stride+done : (ymin+i)*stride+n]
			a := acc[done:n]
			a = a[:len(row)]
			for j, p := range row {
				a[j] += int32(p) * kv
			}
		}
		out := dst.Pix[yy*n : (yy+1)*n]
		for j := done; j < n; j++ {
			out[j] = clip8(acc[j])
		}
	}
}
