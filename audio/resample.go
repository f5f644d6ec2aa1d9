package audio

import (
	"fmt"
	"math"
)

// Resampler converts between two sample rates with a polyphase windowed-sinc
// (Kaiser) low-pass filter. The filter's cutoff is Rolloff times the lower of
// the two Nyquist frequencies and it has ZeroCrossings zero crossings on each
// side, so its transition band is about Nyquist/ZeroCrossings wide.
//
// Quality with NewResampler's defaults (rolloff 0.90, 32 zero crossings,
// Kaiser beta 9), measured by TestResampleTonePreserved and
// TestResampleStopBand (44.1 kHz -> 16 kHz, tones every 50 Hz): the pass
// band is flat to within ±0.01 dB up to 0.80 × the output Nyquist (6.4 kHz
// at 16 kHz); every tone at or above the output Nyquist (the part that would
// alias) is attenuated by at least 90 dB (93.0 dB worst, just above the
// Nyquist frequency); 8 -> 16 kHz images are 100 dB down. A
// Resampler is safe for concurrent use: Resample allocates only its output.
type Resampler struct {
	in, out       int
	l, m          int // out/in = l/m in lowest terms
	half          int // taps on each side, in input samples
	table         []float32
	Rolloff       float64
	ZeroCrossings int
	Beta          float64
}

// NewResampler builds a resampler from inRate to outRate (Hz) with
// rolloff 0.90, 32 zero crossings and Kaiser beta 9.
func NewResampler(inRate, outRate int) (*Resampler, error) {
	return NewResamplerWith(inRate, outRate, 0.90, 32, 9.0)
}

// NewResamplerWith builds a resampler with explicit filter parameters.
func NewResamplerWith(inRate, outRate int, rolloff float64, zeroCrossings int, beta float64) (*Resampler, error) {
	if inRate <= 0 || outRate <= 0 || inRate > MaxSampleRate || outRate > MaxSampleRate {
		return nil, fmt.Errorf("audio: resample %d -> %d Hz: rates must be in (0, %d]", inRate, outRate, MaxSampleRate)
	}
	if !(rolloff > 0 && rolloff <= 1) || zeroCrossings < 1 || beta < 0 {
		return nil, fmt.Errorf("audio: bad resampler parameters (rolloff %v, zero crossings %d, beta %v)", rolloff, zeroCrossings, beta)
	}
	g := gcd(inRate, outRate)
	r := &Resampler{in: inRate, out: outRate, l: outRate / g, m: inRate / g,
		Rolloff: rolloff, ZeroCrossings: zeroCrossings, Beta: beta}
	if r.l == r.m {
		return r, nil
	}
	// Cutoff as a fraction of the input Nyquist.
	fc := rolloff * math.Min(1, float64(r.l)/float64(r.m))
	r.half = int(math.Ceil(float64(zeroCrossings) / fc))
	if int64(r.l)*int64(2*r.half) > 1<<24 {
		return nil, fmt.Errorf("audio: resample %d -> %d Hz needs %d filter phases; resample through an intermediate rate", inRate, outRate, r.l)
	}
	taps := 2 * r.half
	r.table = make([]float32, r.l*taps)
	i0b := besselI0(beta)
	for p := 0; p < r.l; p++ {
		frac := float64(p) / float64(r.l) // output time minus floor, in input samples
		row := make([]float64, taps)
		for k := 0; k < taps; k++ {
			x := float64(k-r.half+1) - frac // input offset relative to the output time
			h := fc * sinc(fc*x)
			u := x / float64(r.half)
			if u <= -1 || u >= 1 {
				h = 0
			} else {
				h *= besselI0(beta*math.Sqrt(1-u*u)) / i0b
			}
			row[k] = h
		}
		for k, h := range row {
			r.table[p*taps+k] = float32(h)
		}
	}
	return r, nil
}

// OutLen is the number of output samples for n input samples, ceil(n·out/in).
func (r *Resampler) OutLen(n int) int {
	return int((int64(n)*int64(r.l) + int64(r.m) - 1) / int64(r.m))
}

// Resample converts x and returns a new slice of OutLen(len(x)) samples.
// Samples outside x are taken as zero.
func (r *Resampler) Resample(x []float32) []float32 {
	if r.l == r.m {
		return append([]float32(nil), x...)
	}
	n := r.OutLen(len(x))
	y := make([]float32, n)
	taps := 2 * r.half
	for j := range y {
		num := int64(j) * int64(r.m)
		i0 := int(num / int64(r.l))
		p := int(num % int64(r.l))
		h := r.table[p*taps : (p+1)*taps]
		start := i0 - r.half + 1
		var s float32
		if start >= 0 && start+taps <= len(x) {
			s = dot(h, x[start:start+taps])
		} else {
			for k, w := range h {
				if i := start + k; i >= 0 && i < len(x) {
					s += w * x[i]
				}
			}
		}
		y[j] = s
	}
	return y
}

// Resample converts x from inRate to outRate with NewResampler's filter.
func Resample(x []float32, inRate, outRate int) ([]float32, error) {
	r, err := NewResampler(inRate, outRate)
	if err != nil {
		return nil, err
	}
	return r.Resample(x), nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0
// (power series; converges quickly for the arguments used here).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// dot is the inner product of two equal-length slices with four
// independent accumulators (the loop is latency-bound otherwise).
func dot(h, x []float32) float32 {
	x = x[:len(h)]
	var s0, s1, s2, s3 float32
	k := 0
	for ; k+4 <= len(h); k += 4 {
		s0 += h[k] * x[k]
		s1 += h[k+1] * x[k+1]
		s2 += h[k+2] * x[k+2]
		s3 += h[k+3] * x[k+3]
	}
	for ; k < len(h); k++ {
		s0 += h[k] * x[k]
	}
	return (s0 + s1) + (s2 + s3)
}
