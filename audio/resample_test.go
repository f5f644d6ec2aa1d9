package audio

import (
	"math"
	"testing"
)

func tone(rate int, freq, amp float64, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return x
}

// fitTone returns the amplitude of the best fit at freq over y[lo:hi] and
// the RMS of what the fit leaves.
func fitTone(y []float32, rate int, freq float64, lo, hi int) (amp, resid float64) {
	var a, b float64
	for i := lo; i < hi; i++ {
		w := 2 * math.Pi * freq * float64(i) / float64(rate)
		a += float64(y[i]) * math.Sin(w)
		b += float64(y[i]) * math.Cos(w)
	}
	n := float64(hi - lo)
	a, b = 2*a/n, 2*b/n
	var r float64
	for i := lo; i < hi; i++ {
		w := 2 * math.Pi * freq * float64(i) / float64(rate)
		d := float64(y[i]) - a*math.Sin(w) - b*math.Cos(w)
		r += d * d
	}
	return math.Hypot(a, b), math.Sqrt(r / n)
}

func rms(y []float32, lo, hi int) float64 {
	var s float64
	for _, v := range y[lo:hi] {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(hi-lo))
}

// A pass-band tone keeps its frequency and amplitude.
func TestResampleTonePreserved(t *testing.T) {
	for _, c := range []struct {
		in, out int
		freq    float64
	}{{44100, 16000, 1000}, {48000, 16000, 6400}, {8000, 16000, 3000}, {22050, 16000, 440}, {16000, 22050, 6400}} {
		x := tone(c.in, c.freq, 0.5, c.in) // one second
		y, err := Resample(x, c.in, c.out)
		if err != nil {
			t.Fatal(err)
		}
		if len(y) != c.out {
			t.Fatalf("%d -> %d: %d samples", c.in, c.out, len(y))
		}
		lo, hi := c.out/10, c.out-c.out/10 // away from the zero-padded edges
		amp, resid := fitTone(y, c.out, c.freq, lo, hi)
		gainDB := 20 * math.Log10(amp/0.5)
		residDB := 20 * math.Log10(resid/(0.5/math.Sqrt2))
		t.Logf("%d -> %d Hz, %.0f Hz tone: gain %.4f dB, residual %.1f dB", c.in, c.out, c.freq, gainDB, residDB)
		if math.Abs(gainDB) > 0.01 || residDB > -70 {
			t.Errorf("%d -> %d Hz, %.0f Hz: gain %.4f dB, residual %.1f dB", c.in, c.out, c.freq, gainDB, residDB)
		}
	}
}

// The pass band is flat within ±0.01 dB from 100 Hz to 0.8 x the output
// Nyquist (44.1 -> 16 kHz, tones every 100 Hz).
func TestResamplePassBand(t *testing.T) {
	step := 100.0
	if testing.Short() {
		step = 700
	}
	worst := 0.0
	r, _ := NewResampler(44100, 16000)
	for f := 100.0; f <= 6400; f += step {
		y := r.Resample(tone(44100, f, 0.5, 44100))
		amp, _ := fitTone(y, 16000, f, 1600, len(y)-1600)
		worst = math.Max(worst, math.Abs(20*math.Log10(amp/0.5)))
	}
	t.Logf("largest pass-band gain error to 6.4 kHz: %.4f dB", worst)
	if worst > 0.01 {
		t.Fatalf("pass-band gain error %.4f dB", worst)
	}
}

// Tones at and above the output Nyquist (which would alias) are attenuated
// by at least 90 dB; upsampling images are removed likewise.
func TestResampleStopBand(t *testing.T) {
	worst := math.Inf(-1)
	step := 50.0 // the worst case sits just above 8 kHz: sweep finely
	if testing.Short() {
		step = 500
	}
	for f := 8000.0; f < 22050; f += step {
		x := tone(44100, f, 0.5, 44100/2)
		y, _ := Resample(x, 44100, 16000)
		att := 20 * math.Log10(rms(y, 1600, len(y)-1600)/(0.5/math.Sqrt2))
		worst = math.Max(worst, att)
		if att > -90 {
			t.Errorf("%.0f Hz tone: only %.1f dB down after 44.1 -> 16 kHz", f, -att)
		}
	}
	// Upsampling 8 -> 16 kHz: a 3 kHz tone must not leave an image at 5 kHz.
	y, _ := Resample(tone(8000, 3000, 0.5, 8000), 8000, 16000)
	amp, _ := fitTone(y, 16000, 5000, 1600, 14400)
	img := 20 * math.Log10(amp/0.5)
	t.Logf("44.1 -> 16 kHz: worst stop-band level %.1f dB; 8 -> 16 kHz image %.1f dB", worst, img)
	if img > -90 {
		t.Errorf("image at 5 kHz only %.1f dB down", -img)
	}
}

func TestResampleIdentityAndErrors(t *testing.T) {
	x := []float32{1, 2, 3}
	y, _ := Resample(x, 16000, 16000)
	if len(y) != 3 || y[2] != 3 || &y[0] == &x[0] {
		t.Fatal("identity resample must copy")
	}
	if _, err := Resample(x, 0, 16000); err == nil {
		t.Fatal("zero rate accepted")
	}
	if y, _ := Resample(nil, 44100, 16000); len(y) != 0 {
		t.Fatal("empty input")
	}
}

func BenchmarkResample44100to16000(b *testing.B) {
	r, _ := NewResampler(44100, 16000)
	x := tone(44100, 440, 0.5, 44100)
	b.ReportAllocs()
	b.SetBytes(int64(len(x) * 4))
	for b.Loop() {
		r.Resample(x)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "audio_s/s")
}
