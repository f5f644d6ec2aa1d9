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
	if ksize <= 0 || ksize%2 == 0 || !(sigma > 0) {
		panic(fmt.Sprintf("augment: gaussian kernel size %d (odd > 0) sigma %v (> 0)", ksize, sigma))
	}
	half := float32(ksize-1) * 0.5
	k := make([]float32, ksize)
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
	k := GaussianKernel(ksize, sigma)
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
	// Horizontal pass: uint8 -> float32 tmp.
	for y := 0; y < h; y++ {
		src := m.Pix[y*w*c : (y+1)*w*c]
		for x := -r; x < w+r; x++ {
			sx := reflect(x, w)
			for ch := 0; ch < c; ch++ {
				pad[(x+r)*c+ch] = float32(src[sx*c+ch])
			}
		}
		out := tmp[y*w*c : (y+1)*w*c]
		for i := range out {
			ctr := i + r*c
			v := k0 * pad[ctr]
			for j := 1; j <= r; j++ {
				v += kc[r+j] * (pad[ctr-j*c] + pad[ctr+j*c])
			}
			out[i] = v
		}
	}
	// Vertical pass: float32 tmp -> uint8, row by row.
	wc := w * c
	for y := 0; y < h; y++ {
		a := acc[:wc]
		row := tmp[y*wc : (y+1)*wc]
		for i, v := range row {
			a[i] = k0 * v
		}
		for j := 1; j <= r; j++ {
			kj := kc[r+j]
			up := tmp[reflect(y-j, h)*wc:][:wc]
			dn := tmp[reflect(y+j, h)*wc:][:wc]
			for i := range a {
				a[i] += kj * (up[i] + dn[i])
			}
		}
		out := m.Pix[y*wc : (y+1)*wc]
		for i, v := range a {
			out[i] = roundU8(v)
		}
	}
}

func roundU8(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(math.RoundToEven(float64(v)))
}
