package augment

import (
	"fmt"
	"math/rand/v2"
)

// BlockMask2D describes data2vec 2.0's patch masks (fairseq's
// compute_block_mask_2d with require_same_masks, the overlapping-block
// path): square blocks of Length x Length patches are centred on
// int(N·(q + ProbAdjust)/Length²) positions drawn uniformly with
// replacement from the N = Rows·Cols grid (blocks are cut at the border),
// where q is Prob, or 1 - Prob with Inverse; the marked set is then
// brought to exactly int(N·q) patches by unmarking (or marking) patches
// chosen uniformly without replacement. Without Inverse the marked patches
// are the masked ones; with Inverse (data2vec 2.0 images: Prob 0.8,
// Length 3, ProbAdjust 0.07) the blocks are the patches the student keeps,
// and the rest is masked. Every mask of a spec masks the same number of
// patches (Count), so the kept patches of a batch gather into a dense
// tensor.
type BlockMask2D struct {
	Rows       int     `yaml:"rows" json:"rows"`
	Cols       int     `yaml:"cols" json:"cols"`
	Prob       float64 `yaml:"prob" json:"prob"`               // mask_prob: fraction masked
	Length     int     `yaml:"length" json:"length"`           // mask_length: block side (> 1)
	ProbAdjust float64 `yaml:"prob_adjust" json:"prob_adjust"` // mask_prob_adjust: extra blocks drawn, overlaps make up for
	Inverse    bool    `yaml:"inverse" json:"inverse"`         // inverse_mask: blocks are kept, not masked
}

// Validate checks the spec.
func (s BlockMask2D) Validate() error {
	switch {
	case s.Rows <= 0 || s.Cols <= 0 || s.Rows*s.Cols > 1<<20:
		return fmt.Errorf("augment: block mask grid %dx%d", s.Rows, s.Cols)
	case !(s.Prob >= 0 && s.Prob <= 1):
		return fmt.Errorf("augment: block mask prob %v outside [0, 1]", s.Prob)
	case s.Length < 2:
		return fmt.Errorf("augment: block mask length %d < 2", s.Length)
	case !(s.ProbAdjust >= 0 && s.ProbAdjust <= 1):
		return fmt.Errorf("augment: block mask prob_adjust %v outside [0, 1]", s.ProbAdjust)
	}
	if c := s.Count(); c >= s.Rows*s.Cols && s.Rows*s.Cols > 0 {
		return fmt.Errorf("augment: block mask prob %v masks all %d patches", s.Prob, c)
	}
	return nil
}

// marked is the probability of the marked (block) set: q in the type's
// description.
func (s BlockMask2D) marked() float64 {
	if s.Inverse {
		return 1 - s.Prob
	}
	return s.Prob
}

// Count is the number of masked patches of every mask.
func (s BlockMask2D) Count() int {
	n := s.Rows * s.Cols
	t := int(float64(n) * s.marked())
	if s.Inverse {
		return n - t
	}
	return t
}

// Generate draws one mask from r (true: masked). The spec must be valid.
func (s BlockMask2D) Generate(r *rand.Rand) Mask {
	n := s.Rows * s.Cols
	q := s.marked()
	m := Mask{Rows: s.Rows, Cols: s.Cols, Bits: make([]bool, n)}
	// fairseq: int(L * ((mask_prob + mask_prob_adjust) / mask_length**2) * (1 + mask_dropout)), mask_dropout 0.
	centers := int(float64(n) * ((q + s.ProbAdjust) / float64(s.Length*s.Length)) * 1)
	off := s.Length / 2
	for range centers {
		c := r.IntN(n)
		cr, cc := c/s.Cols, c%s.Cols
		for i := range s.Length {
			row := min(max(cr+i-off, 0), s.Rows-1)
			for j := range s.Length {
				col := min(max(cc+j-off, 0), s.Cols-1)
				m.Bits[row*s.Cols+col] = true
			}
		}
	}
	target := int(float64(n) * q)
	count := m.Count()
	if count != target {
		// Unmark surplus patches among the marked ones, or mark missing
		// ones among the others, uniformly without replacement.
		want := count > target
		var pool []int
		for i, b := range m.Bits {
			if b == want {
				pool = append(pool, i)
			}
		}
		k := count - target
		if k < 0 {
			k = -k
		}
		for i := 0; i < k; i++ {
			j := i + r.IntN(len(pool)-i)
			pool[i], pool[j] = pool[j], pool[i]
			m.Bits[pool[i]] = !want
		}
	}
	if s.Inverse {
		for i := range m.Bits {
			m.Bits[i] = !m.Bits[i]
		}
	}
	return m
}
