package augment

import (
	"fmt"
	"math"
)

// BlurKernelSize is the kernel-size rule of the BYOL/SimCLR recipes: 10%
// of the view size, made odd (23 at 224, 9 at 96, 3 at 32).
func BlurKernelSize(size int) int {
	k := int(0.1 * float64(size))
	if k%2 == 0 {
		k++
	}
	return k
}

// GaussianKernel returns torchvision's 1-D Gaussian kernel (float32):
// x = linspace(-(k-1)/2, (k-1)/2, k), exp(-x^2/(2 sigma^2)), normalized to
// sum 1. ksize must be odd and positive, sigma > 0.
func GaussianKernel(ksize int, sigma float64) []float32 {
	return gaussianKernel(nil, ksize, sigma)
}

func gaussianKernel(k []float32, ksize int, sigma float64) []float32 {
	if ksize <= 0 || ksize%2 == 0 || !(sigma > 0) {
		panic(fmt.Sprintf("augment: gaussian kernel size %d (odd > 0) sigma %v (> 0)", ksize, sigma))
	}
	half := float32(ksize-1) * 0.5
	if cap(k) < ksize {
		k = make([]float32, ksize)
	}
	k = k[:ksize]
	var sum float32
	s := float32(sigma)
	for i := range k {
		// torch.linspace computes start + i*step for the first half and
		// end - (n-1-i)*step for the second; both are exact here because
		// the points are integers or half-integers.
		x := -half + float32(i)
		v := float32(math.Exp(float64(-0.5 * (x / s) * (x / s))))
		k[i] = v
		sum += v
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// tapsNeeded is the half-width beyond which the kernel's tail (each side)
// weighs less than 1e-7 and can be dropped: the largest possible change is
// 255 * 2e-7 of a level, far below the rounding to uint8.
func tapsNeeded(k []float32) int {
	r := len(k) / 2
	var tail float64
	for r > 0 {
		tail += float64(k[len(k)/2+r])
		if tail >= 1e-7 {
			break
		}
		r--
	}
	return r
}

// reflect maps i to [0, n) with torch's "reflect" padding (the edge
// sample is not repeated), folding again for pads wider than the image.
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}

// GaussianBlur blurs m in place with torchvision's gaussian_blur (the op
// behind transforms.GaussianBlur, also for PIL images): a ksize x ksize
// Gaussian of the given sigma, reflect padding, result rounded (half to
// even) to uint8. It runs as two 1-D passes with float32 accumulation.
// s may be nil.
func GaussianBlur(m *Image, ksize int, sigma float64, s *Scratch) {
	if s == nil {
		s = new(Scratch)
	}
	s.kern = gaussianKernel(s.kern, ksize, sigma)
	k := s.kern
	r := tapsNeeded(k)
	if r == 0 {
		// The kernel is a unit impulse to float32 precision: blur is the
		// identity after rounding.
		return
	}
	kc := k[len(k)/2-r : len(k)/2+r+1] // centred, 2r+1 taps
	w, h, c := m.W, m.H, m.C
	n := w * h * c
	rowLen := (w + 2*r) * c
	need := n + rowLen + w*c
	if cap(s.blur) < need {
		s.blur = make([]float32, need)
	}
	buf := s.blur[:need]
	tmp, pad, acc := buf[:n], buf[n:n+rowLen], buf[n+rowLen:]
	k0 := kc[r]
	wc := w * c
	// Horizontal pass: uint8 -> float32 tmp. The row is widened into pad
	// with reflected borders, then each output is k0*centre plus, for each
	// tap pair, kj*(left+right): the same sums in the same order for every
	// sample, as whole-row vector operations.
	for y := 0; y < h; y++ {
		src := m.Pix[y*wc : (y+1)*wc]
		mid := pad[r*c : r*c+wc]
		toFloat(mid, src)
		for x := 1; x <= r; x++ {
			l, rr := reflect(-x, w), reflect(w-1+x, w)
			for ch := 0; ch < c; ch++ {
				pad[(r-x)*c+ch] = float32(src[l*c+ch])
				pad[(r+w-1+x)*c+ch] = float32(src[rr*c+ch])
			}
		}
		out := tmp[y*wc : (y+1)*wc]
		scale(out, mid, k0)
		for j := 1; j <= r; j++ {
			addSym(out, pad[(r-j)*c:(r-j)*c+wc], pad[(r+j)*c:(r+j)*c+wc], kc[r+j])
		}
	}
	// Vertical pass: float32 tmp -> uint8, row by row.
	for y := 0; y < h; y++ {
		a := acc[:wc]
		scale(a, tmp[y*wc:(y+1)*wc], k0)
		for j := 1; j <= r; j++ {
			addSym(a, tmp[reflect(y-j, h)*wc:][:wc], tmp[reflect(y+j, h)*wc:][:wc], kc[r+j])
		}
		roundRow(m.Pix[y*wc:(y+1)*wc], a)
	}
}

// scaleGeneric sets out[i] = k*a[i].
func scaleGeneric(out, a []float32, k float32) {
	a = a[:len(out)]
	for i := range out {
		out[i] = k * a[i]
	}
}

// addSymGeneric adds k*(a[i]+b[i]) to out[i], rounding after the sum and
// after the product (no fused multiply-add), like the assembly version.
func addSymGeneric(out, a, b []float32, k float32) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		out[i] += float32(k * (a[i] + b[i]))
	}
}

// roundRowGeneric stores round-half-even(a[i]) as bytes. Adding and subtracting
// 1.5*2^23 rounds a float32 in [-2^22, 2^22] to an integer with the
// current (nearest-even) rounding; blurred values lie in [0, 255] up to
// float error, so the clamps only catch -0 and 255+eps.
func roundRowGeneric(out []uint8, a []float32) {
	a = a[:len(out)]
	for i, v := range a {
		f := (v + 0x1.8p23) - 0x1.8p23
		if f <= 0 {
			out[i] = 0
		} else if f >= 255 {
			out[i] = 255
		} else {
			out[i] = uint8(f)
		}
	}
}
