package audio

import (
	"fmt"
	"math/rand/v2"
)

// RandomCrop returns a window of at most maxLen samples of x starting at a
// uniformly drawn offset (fairseq's crop_to_max_size: start in
// [0, len(x) - maxLen]). The result aliases x; x is returned unchanged when
// it is not longer than maxLen.
func RandomCrop(rng *rand.Rand, x []float32, maxLen int) []float32 {
	if maxLen <= 0 || len(x) <= maxLen {
		return x
	}
	st := rng.IntN(len(x) - maxLen + 1)
	return x[st : st+maxLen]
}

// RandomCropFrames is RandomCrop over the rows of a feature matrix; the
// result aliases m.Data.
func RandomCropFrames(rng *rand.Rand, m Matrix, maxFrames int) Matrix {
	if maxFrames <= 0 || m.Rows <= maxFrames {
		return m
	}
	st := rng.IntN(m.Rows - maxFrames + 1)
	return Matrix{Data: m.Data[st*m.Cols : (st+maxFrames)*m.Cols], Rows: maxFrames, Cols: m.Cols}
}

// Batch is a padded batch of B sequences of T steps of Dim values each
// (Dim is 1 for waveforms), row-major as [B][T][Dim].
type Batch struct {
	Data    []float32
	B, T    int
	Dim     int
	Lengths []int  // valid steps of each row
	Padding []bool // B x T, true at padded steps (fairseq's padding_mask)
}

// CollateOptions control Collate.
type CollateOptions struct {
	// MaxLen crops every sequence longer than MaxLen steps (randomly, from
	// that row's rng); 0 means no limit.
	MaxLen int
	// Pad pads to the longest sequence with PadValue; when false every
	// sequence is randomly cropped to the shortest one instead (fairseq's
	// pad=False), and Padding is all false.
	Pad      bool
	PadValue float32
}

// CollateWaves batches mono waveforms; rngs[i] drives row i's crop and may
// be nil when no crop is needed (an error is returned if one is).
func CollateWaves(rngs []*rand.Rand, waves [][]float32, o CollateOptions) (Batch, error) {
	ms := make([]Matrix, len(waves))
	for i, w := range waves {
		ms[i] = Matrix{Data: w, Rows: len(w), Cols: 1}
	}
	return CollateFrames(rngs, ms, o)
}

// CollateFrames batches feature matrices with equal Cols.
func CollateFrames(rngs []*rand.Rand, ms []Matrix, o CollateOptions) (Batch, error) {
	if len(rngs) != len(ms) {
		return Batch{}, fmt.Errorf("audio: collate: %d rngs for %d rows", len(rngs), len(ms))
	}
	if len(ms) == 0 {
		return Batch{}, nil
	}
	dim := ms[0].Cols
	target := 0
	for i, m := range ms {
		if m.Cols != dim {
			return Batch{}, fmt.Errorf("audio: collate: row %d has %d columns, row 0 has %d", i, m.Cols, dim)
		}
		n := m.Rows
		if o.MaxLen > 0 {
			n = min(n, o.MaxLen)
		}
		if i == 0 || (o.Pad && n > target) || (!o.Pad && n < target) {
			target = n
		}
	}
	b := Batch{B: len(ms), T: target, Dim: dim, Lengths: make([]int, len(ms)),
		Data: make([]float32, len(ms)*target*dim), Padding: make([]bool, len(ms)*target)}
	for i, m := range ms {
		if m.Rows > target {
			if rngs[i] == nil {
				return Batch{}, fmt.Errorf("audio: collate: row %d needs a crop but has no rng", i)
			}
			m = RandomCropFrames(rngs[i], m, target)
		}
		row := b.Data[i*target*dim : (i+1)*target*dim]
		copy(row, m.Data[:m.Rows*dim])
		for j := m.Rows * dim; j < len(row); j++ {
			row[j] = o.PadValue
		}
		b.Lengths[i] = m.Rows
		for t := m.Rows; t < target; t++ {
			b.Padding[i*target+t] = true
		}
	}
	return b, nil
}
