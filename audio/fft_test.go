package audio

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/dsp/fourier"
)

// naiveDFT is the O(n^2) definition, the reference for the fast paths.
func naiveDFT(x []float64) []complex128 {
	n := len(x)
	out := make([]complex128, n/2+1)
	for k := range out {
		var s complex128
		for j, v := range x {
			s += complex(v, 0) * cmplx.Exp(complex(0, -2*math.Pi*float64(k*j)/float64(n)))
		}
		out[k] = s
	}
	return out
}

func TestRealFFTMatchesDFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 4, 8, 16, 64, 256, 512, 1024, 6, 320, 400} {
		f, err := newRealFFT(n)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		want := naiveDFT(x)
		got := make([]float64, n/2+1)
		f.power(got, x, false)
		mag := make([]float64, n/2+1)
		f.power(mag, x, true)
		for k := range want {
			p := real(want[k])*real(want[k]) + imag(want[k])*imag(want[k])
			if math.Abs(got[k]-p) > 1e-9*(1+p) {
				t.Fatalf("n=%d k=%d power %g want %g", n, k, got[k], p)
			}
			if math.Abs(mag[k]-math.Sqrt(p)) > 1e-9*(1+p) {
				t.Fatalf("n=%d k=%d magnitude %g want %g", n, k, mag[k], math.Sqrt(p))
			}
		}
	}
	if _, err := newRealFFT(7); err == nil {
		t.Error("odd length accepted")
	}
}

func BenchmarkRealFFT512(b *testing.B) {
	f, _ := newRealFFT(512)
	x := make([]float64, 512)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	out := make([]float64, 257)
	b.ReportAllocs()
	for b.Loop() {
		f.power(out, x, false)
	}
}

func BenchmarkGonumFFT512(b *testing.B) {
	f := fourier.NewFFT(512)
	x := make([]float64, 512)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	c := make([]complex128, 257)
	out := make([]float64, 257)
	b.ReportAllocs()
	for b.Loop() {
		c = f.Coefficients(c, x)
		for k, v := range c {
			out[k] = real(v)*real(v) + imag(v)*imag(v)
		}
	}
}
