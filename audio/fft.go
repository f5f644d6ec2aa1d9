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
	n    int
	m    int // n/2 complex points
	rev  []int32
	cosT []float64 // twiddles of the m-point FFT: cos(2πk/m), k < m/2
	sinT []float64
	// post-processing twiddles W_n^k = exp(-2πik/n), k <= m
	wr, wi []float64
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
	f.cosT = make([]float64, m/2+1)
	f.sinT = make([]float64, m/2+1)
	for k := range f.cosT {
		a := 2 * math.Pi * float64(k) / float64(m)
		f.cosT[k], f.sinT[k] = math.Cos(a), math.Sin(a)
	}
	f.wr = make([]float64, m+1)
	f.wi = make([]float64, m+1)
	for k := 0; k <= m; k++ {
		a := 2 * math.Pi * float64(k) / float64(n)
		f.wr[k], f.wi[k] = math.Cos(a), -math.Sin(a)
	}
	f.re = make([]float64, m)
	f.im = make([]float64, m)
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
	for i, r := range rev {
		re[r] = x[2*i]
		im[r] = x[2*i+1]
	}
	// Radix-2 decimation in time; the first two stages are special-cased.
	if m >= 4 {
		for i := 0; i+3 < m; i += 4 {
			ar, ai := re[i], im[i]
			br, bi := re[i+1], im[i+1]
			cr, ci := re[i+2], im[i+2]
			dr, di := re[i+3], im[i+3]
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
		re[0], re[1] = re[0]+re[1], re[0]-re[1]
		im[0], im[1] = im[0]+im[1], im[0]-im[1]
	}
	cosT, sinT := f.cosT, f.sinT
	for size := 8; size <= m; size <<= 1 {
		half := size >> 1
		step := m / size
		for start := 0; start < m; start += size {
			a := re[start : start+size]
			b := im[start : start+size]
			for j := 0; j < half; j++ {
				c, s := cosT[j*step], sinT[j*step]
				ur, ui := a[j+half], b[j+half]
				// multiply by exp(-2πij/size) = c - i s
				tr := ur*c + ui*s
				ti := ui*c - ur*s
				a[j+half], b[j+half] = a[j]-tr, b[j]-ti
				a[j], b[j] = a[j]+tr, b[j]+ti
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
