package audio

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// Scaling the waveform by g adds 2·ln g to every log-mel energy above the
// floor (the power spectrum scales by g²).
func TestFbankScaleProperty(t *testing.T) {
	wave, _, err := ReadWAV("testdata/utt2.wav", nil)
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := NewExtractor(DefaultOptions(Fbank))
	a, _ := ex.Compute(Matrix{}, wave, nil)
	scaled := make([]float32, len(wave))
	for i, v := range wave {
		scaled[i] = v * 4
	}
	b, _ := ex.Compute(Matrix{}, scaled, nil)
	want := 2 * math.Log(4)
	checked := 0
	for i := range a.Data {
		if a.Data[i] < -10 { // near the epsilon floor the shift is clipped
			continue
		}
		if d := float64(b.Data[i]-a.Data[i]) - want; math.Abs(d) > 1e-4 {
			t.Fatalf("value %d: shift %.6f, want %.6f", i, b.Data[i]-a.Data[i], want)
		}
		checked++
	}
	if checked < len(a.Data)/2 {
		t.Fatalf("only %d values checked", checked)
	}
}

// A pure tone puts the fbank peak in the mel bin whose centre is nearest
// the tone's frequency.
func TestFbankTonePeak(t *testing.T) {
	opt := DefaultOptions(Fbank)
	ex, _ := NewExtractor(opt)
	for _, f := range []float64{300, 1000, 2500, 5000} {
		m, _ := ex.Compute(Matrix{}, tone(16000, f, 0.5, 4000), nil)
		row := m.Row(10)
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		// Centre of bin b: mel_low + (b+1)·delta.
		ml, mh := MelScale(20), MelScale(8000)
		delta := (mh - ml) / 24
		nearest, nd := 0, math.Inf(1)
		for b := 0; b < 23; b++ {
			if d := math.Abs(InverseMelScale(ml+float64(b+1)*delta) - f); d < nd {
				nearest, nd = b, d
			}
		}
		if best != nearest {
			t.Errorf("%.0f Hz: peak in bin %d, nearest centre is bin %d", f, best, nearest)
		}
	}
}

// Deltas of a linear ramp are its slope (away from the replicated edges);
// delta-deltas are zero there.
func TestDeltasRamp(t *testing.T) {
	T, C := 20, 3
	m := Matrix{Data: make([]float32, T*C), Rows: T, Cols: C}
	for i := 0; i < T; i++ {
		for c := 0; c < C; c++ {
			m.Data[i*C+c] = float32(float64(c+1) * 0.5 * float64(i))
		}
	}
	d := Deltas(Matrix{}, m, 2, 2)
	if d.Cols != 9 || d.Rows != T {
		t.Fatalf("shape %dx%d", d.Rows, d.Cols)
	}
	for i := 4; i < T-4; i++ {
		for c := 0; c < C; c++ {
			if got := d.Row(i)[C+c]; math.Abs(float64(got)-float64(c+1)*0.5) > 1e-5 {
				t.Fatalf("frame %d delta %d = %v", i, c, got)
			}
			if got := d.Row(i)[2*C+c]; math.Abs(float64(got)) > 1e-5 {
				t.Fatalf("frame %d delta-delta %d = %v", i, c, got)
			}
		}
	}
	// Edge: frame 0 with replicate padding: (1·(x1-x0) + 2·(x2-x0))/10 = 0.5·slope.
	if got := d.Row(0)[C]; math.Abs(float64(got)-0.25) > 1e-6 {
		t.Fatalf("edge delta %v, want 0.25", got)
	}
	if e := Deltas(Matrix{}, Matrix{Cols: 13}, 2, 2); e.Rows != 0 || e.Cols != 39 {
		t.Fatalf("empty input: %dx%d", e.Rows, e.Cols)
	}
}

func TestCMVN(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := Matrix{Data: make([]float32, 50*4), Rows: 50, Cols: 4}
	for i := range m.Data {
		m.Data[i] = float32(3 + 2*rng.NormFloat64())
	}
	CMVN(m, true)
	for c := 0; c < 4; c++ {
		var s, s2 float64
		for r := 0; r < 50; r++ {
			v := float64(m.Data[r*4+c])
			s += v
			s2 += v * v
		}
		if math.Abs(s/50) > 1e-5 || math.Abs(s2/50-1) > 1e-4 {
			t.Fatalf("column %d: mean %v, var %v", c, s/50, s2/50)
		}
	}
}

// Dither is drawn from the given rng only: the same stream gives the same
// features, another stream different ones, and no stream is an error.
func TestDitherSeeded(t *testing.T) {
	wave, _, _ := ReadWAV("testdata/utt3.wav", nil)
	opt := DefaultOptions(MFCC)
	opt.Dither = 1.0 / 32768
	ex, _ := NewExtractor(opt)
	if _, err := ex.Compute(Matrix{}, wave, nil); !errors.Is(err, ErrNeedRand) {
		t.Fatalf("err = %v", err)
	}
	a, _ := ex.Compute(Matrix{}, wave, rand.New(rand.NewPCG(1, 1)))
	b, _ := ex.Clone().Compute(Matrix{}, wave, rand.New(rand.NewPCG(1, 1)))
	c, _ := ex.Compute(Matrix{}, wave, rand.New(rand.NewPCG(2, 1)))
	same, differ := true, false
	for i := range a.Data {
		same = same && a.Data[i] == b.Data[i]
		differ = differ || a.Data[i] != c.Data[i]
	}
	if !same || !differ {
		t.Fatalf("same seed equal: %v, other seed differs: %v", same, differ)
	}
}

func TestShortInputAndBadOptions(t *testing.T) {
	ex, _ := NewExtractor(DefaultOptions(MFCC))
	for _, n := range []int{0, 1, 399} {
		m, err := ex.Compute(Matrix{}, make([]float32, n), nil)
		if err != nil || m.Rows != 0 || m.Cols != 13 {
			t.Fatalf("%d samples: %dx%d, %v", n, m.Rows, m.Cols, err)
		}
	}
	if m, _ := ex.Compute(Matrix{}, make([]float32, 400), nil); m.Rows != 1 {
		t.Fatalf("400 samples: %d frames", m.Rows)
	}
	// min_duration: input shorter than it gives zero frames.
	o := DefaultOptions(Fbank)
	o.MinDuration = 1.0
	exd, _ := NewExtractor(o)
	if m, _ := exd.Compute(Matrix{}, make([]float32, 15999), nil); m.Rows != 0 {
		t.Fatalf("min_duration: %d frames", m.Rows)
	}
	if m, _ := exd.Compute(Matrix{}, make([]float32, 16000), nil); m.Rows != 98 {
		t.Fatalf("1 s: %d frames", m.Rows)
	}
	bad := []func(*Options){
		func(o *Options) { o.NumMelBins = 3 },
		func(o *Options) { o.NumCeps = 30 },
		func(o *Options) { o.FrameShiftMs = 0 },
		func(o *Options) { o.SampleRate = 0 },
		func(o *Options) { o.Preemphasis = 1.5 },
		func(o *Options) { o.HighFreq = 9000 },
		func(o *Options) { o.Window = 0 },
		func(o *Options) { o.RoundToPowerOfTwo = false; o.FrameLengthMs = 25.0625 },
		func(o *Options) { o.VTLNWarp = 0.9; o.VTLNLow = 10 },
	}
	for i, f := range bad {
		o := DefaultOptions(MFCC)
		f(&o)
		if _, err := NewExtractor(o); err == nil {
			t.Errorf("bad option %d accepted", i)
		}
	}
}
