package audio

import (
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzExtractor drives NewExtractor with arbitrary option values and
// signal lengths: it must either reject the options or produce
// NumFrames(n) x Dim finite values, never panic.
func FuzzExtractor(f *testing.F) {
	f.Add(uint8(1), 25.0, 10.0, uint8(23), uint8(13), 20.0, 0.0, 0.97, true, true, false, 1.0, uint16(4000), uint64(1))
	f.Add(uint8(2), 20.0, 12.5, uint8(80), uint8(13), 60.0, -400.0, 0.0, false, false, true, 0.9, uint16(401), uint64(2))
	f.Add(uint8(3), 30.0, 7.0, uint8(40), uint8(40), 0.0, 7999.0, 1.0, true, false, true, 1.1, uint16(0), uint64(3))
	f.Fuzz(func(t *testing.T, win uint8, length, shift float64, bins, ceps uint8, low, high, pre float64,
		snip, pow2, energy bool, warp float64, n uint16, seed uint64) {
		if math.IsNaN(length) || math.IsNaN(shift) || math.IsNaN(low) || math.IsNaN(high) || math.IsNaN(pre) || math.IsNaN(warp) || length > 200 || length < -200 {
			return
		}
		kind := Fbank
		if seed%2 == 1 {
			kind = MFCC
		}
		o := DefaultOptions(kind)
		o.Window = WindowType(win % 6) // 0 is invalid on purpose
		o.FrameLengthMs, o.FrameShiftMs = length, shift
		o.NumMelBins, o.NumCeps = int(bins), int(ceps)
		o.LowFreq, o.HighFreq, o.Preemphasis = low, high, pre
		o.SnipEdges, o.RoundToPowerOfTwo, o.UseEnergy = snip, pow2, energy
		o.HTKCompat = seed%3 == 0
		o.VTLNWarp = warp
		o.Float32Window = seed%5 != 0
		ex, err := NewExtractor(o)
		if err != nil {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 7))
		wave := make([]float32, n)
		for i := range wave {
			wave[i] = float32(rng.NormFloat64() * 0.1)
		}
		m, err := ex.Compute(Matrix{}, wave, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Rows != ex.NumFrames(len(wave)) || m.Cols != ex.Dim() || len(m.Data) != m.Rows*m.Cols {
			t.Fatalf("shape %dx%d for %d samples", m.Rows, m.Cols, n)
		}
		for i, v := range m.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("value %d is %v (options %+v)", i, v, o)
			}
		}
	})
}
