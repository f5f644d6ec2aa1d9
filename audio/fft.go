package audio

import (
	"fmt"
	"math"
	"math/bits"

	"gonum.org/v1/gonum/dsp/fourier"
)

// realFFT computes power (or magnitude) spectra of real frames of a fixed
// length n. Powers of two use a table-driven radix-2 FFT of
// n/2 complex points plus the usual real-to-complex post-processing, with no
// allocation per call; other even lengths fall back to gonum's dsp/fourier.
// Benchmarks in fft_test.go compare the two.
type realFFT struct {
	n   int
	m   int // n/2 complex points
	rev []int32
	// post-processing twiddles W_n^k = exp(-2πik/n), k <= m
	wr, wi []float64
	// passes holds, for each radix-4 pass over blocks of 4B points, the
	// twiddles W_4B^j, W_4B^2j, W_4B^3j for j < B, interleaved as
	// (re, im) x 3 per j.
	passes [][]float64
	final  []float64 // last single radix-2 stage, if any: (wr, wi) per j
	re, im []float64
	g      *fourier.FFT
	gc     []complex128
}

func newRealFFT(n int) (*realFFT, error) {
	if n < 2 || n%2 != 0 {
		return nil, fmt.Errorf("audio: FFT length %d must be even and >= 2", n)
	}
	f := &realFFT{n: n, m: n / 2}
	if n&(n-1) != 0 || n < 4 {
		f.g = fourier.NewFFT(n)
		f.gc = make([]complex128, n/2+1)
		return f, nil
	}
	m := f.m
	lg := bits.TrailingZeros(uint(m))
	f.rev = make([]int32, m)
	for i := 0; i < m; i++ {
		f.rev[i] = int32(bits.Reverse32(uint32(i)) >> (32 - lg))
	}
	if lg == 0 {
		f.rev[0] = 0
	}
	f.wr = make([]float64, m+1)
	f.wi = make([]float64, m+1)
	for k := 0; k <= m; k++ {
		a := 2 * math.Pi * float64(k) / float64(n)
		f.wr[k], f.wi[k] = math.Cos(a), -math.Sin(a)
	}
	f.re = make([]float64, m)
	f.im = make([]float64, m)
	B := 4
	for ; 4*B <= m; B *= 4 {
		t := make([]float64, 6*B)
		for j := 0; j < B; j++ {
			for r := 1; r <= 3; r++ {
				a := -2 * math.Pi * float64(r*j) / float64(4*B)
				t[6*j+2*(r-1)], t[6*j+2*(r-1)+1] = math.Cos(a), math.Sin(a)
			}
		}
		f.passes = append(f.passes, t)
	}
	if 2*B == m {
		f.final = make([]float64, 2*B)
		for j := 0; j < B; j++ {
			a := -2 * math.Pi * float64(j) / float64(2*B)
			f.final[2*j], f.final[2*j+1] = math.Cos(a), math.Sin(a)
		}
	}
	return f, nil
}

// power writes |X[k]|^2 for k = 0..n/2 into out (len n/2+1) for the real
// input x (len n). If magnitude is true it writes |X[k]| instead.
func (f *realFFT) power(out, x []float64, magnitude bool) {
	if f.g != nil {
		c := f.g.Coefficients(f.gc, x)
		for k, v := range c {
			p := real(v)*real(v) + imag(v)*imag(v)
			if magnitude {
				p = math.Sqrt(p)
			}
			out[k] = p
		}
		return
	}
	m := f.m
	re, im := f.re[:m], f.im[:m]
	x = x[:2*m]
	rev := f.rev[:m]
	// Bit reversal is an involution, so the permuted input can be gathered
	// straight into the first two (radix-4) stages: one pass over memory.
	if m >= 4 {
		for i := 0; i+3 < m; i += 4 {
			ra, rb, rc, rd := 2*int(rev[i]), 2*int(rev[i+1]), 2*int(rev[i+2]), 2*int(rev[i+3])
			ar, ai := x[ra], x[ra+1]
			br, bi := x[rb], x[rb+1]
			cr, ci := x[rc], x[rc+1]
			dr, di := x[rd], x[rd+1]
			// stage 1
			t0r, t0i := ar+br, ai+bi
			t1r, t1i := ar-br, ai-bi
			t2r, t2i := cr+dr, ci+di
			t3r, t3i := cr-dr, ci-di
			// stage 2: twiddle for the odd pair is -i
			re[i], im[i] = t0r+t2r, t0i+t2i
			re[i+2], im[i+2] = t0r-t2r, t0i-t2i
			re[i+1], im[i+1] = t1r+t3i, t1i-t3r
			re[i+3], im[i+3] = t1r-t3i, t1i+t3r
		}
	} else if m == 2 {
		re[0], re[1] = x[0]+x[2], x[0]-x[2]
		im[0], im[1] = x[1]+x[3], x[1]-x[3]
	}
	if m >= 4 {
		B := 4
		for _, tw := range f.passes {
			fusedPass(re, im, tw, B)
			B *= 4
		}
		if f.final != nil {
			tw := f.final
			for j := 0; j < B; j++ {
				c, sn := tw[2*j], tw[2*j+1]
				ur, ui := re[j+B], im[j+B]
				tr := ur*c - ui*sn
				ti := ur*sn + ui*c
				re[j+B], im[j+B] = re[j]-tr, im[j]-ti
				re[j], im[j] = re[j]+tr, im[j]+ti
			}
		}
	}
	// Post-processing: X[k] = (Z[k] + conj(Z[m-k]))/2 + W^k (Z[k] - conj(Z[m-k]))/(2i).
	wr, wi := f.wr, f.wi
	{
		p0 := re[0] + im[0]
		pm := re[0] - im[0]
		if magnitude {
			out[0], out[m] = math.Abs(p0), math.Abs(pm)
		} else {
			out[0], out[m] = p0*p0, pm*pm
		}
	}
	for k := 1; k < m; k++ {
		zr, zi := re[k], im[k]
		cr, ci := re[m-k], -im[m-k]
		er, ei := 0.5*(zr+cr), 0.5*(zi+ci)
		// (Z - conj)/(2i) = (dr + i di)/(2i) = (di - i dr)/2
		dr, di := zr-cr, zi-ci
		or, oi := 0.5*di, -0.5*dr
		xr := er + wr[k]*or - wi[k]*oi
		xi := ei + wr[k]*oi + wi[k]*or
		p := xr*xr + xi*xi
		if magnitude {
			p = math.Sqrt(p)
		}
		out[k] = p
	}
}

// fusedPass is one radix-4 decimation-in-time pass, equivalent to two
// radix-2 stages (block sizes 2B and 4B). With bit-reversed input, the four
// quarter blocks of each 4B block hold the DFTs of the subsequences
// congruent to 0, 2, 1, 3 (mod 4); X[j + qB] = Σ_r W_4B^(r(j+qB)) Y_r[j]
// needs three twiddle products per four points instead of four.
func fusedPass(re, im, tw []float64, B int) {
	n := len(re)
	im = im[:n]
	for s := 0; s+4*B <= n; s += 4 * B {
		ar, ai := re[s:s+B], im[s:s+B]         // Y0
		br, bi := re[s+B:s+2*B], im[s+B:s+2*B] // Y2
		cr, ci := re[s+2*B:s+3*B], im[s+2*B:s+3*B]
		dr, di := re[s+3*B:s+4*B], im[s+3*B:s+4*B] // Y3
		t := tw[:6*B]
		for j := 0; j < B; j++ {
			w1r, w1i, w2r, w2i, w3r, w3i := t[6*j], t[6*j+1], t[6*j+2], t[6*j+3], t[6*j+4], t[6*j+5]
			y0r, y0i := ar[j], ai[j]
			x, y := cr[j], ci[j] // Y1 (block 2) · W^j
			y1r, y1i := x*w1r-y*w1i, x*w1i+y*w1r
			x, y = br[j], bi[j] // Y2 (block 1) · W^2j
			y2r, y2i := x*w2r-y*w2i, x*w2i+y*w2r
			x, y = dr[j], di[j] // Y3 · W^3j
			y3r, y3i := x*w3r-y*w3i, x*w3i+y*w3r
			t0r, t0i := y0r+y2r, y0i+y2i
			t1r, t1i := y0r-y2r, y0i-y2i
			t2r, t2i := y1r+y3r, y1i+y3i
			t3r, t3i := y1r-y3r, y1i-y3i
			ar[j], ai[j] = t0r+t2r, t0i+t2i
			cr[j], ci[j] = t0r-t2r, t0i-t2i
			br[j], bi[j] = t1r+t3i, t1i-t3r
			dr[j], di[j] = t1r-t3i, t1i+t3r
		}
	}
}
