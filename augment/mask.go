package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// MaskSpec describes patch masks for masked image modelling.
//
// Kind "block" is BEiT's / data2vec's block-wise MaskingGenerator: blocks
// of at least MinPatches patches with aspect ratio log-uniform in
// [MinAspect, 1/MinAspect] are added (up to 10 attempts each) until
// int(Ratio * Rows * Cols) patches are masked or no block fits.
// Kind "random" is MAE's random masking: exactly
// Rows*Cols - int(Rows*Cols*(1-Ratio)) patches, uniformly without
// replacement.
type MaskSpec struct {
	Kind       string  `yaml:"kind" json:"kind"`
	Rows       int     `yaml:"rows" json:"rows"`
	Cols       int     `yaml:"cols" json:"cols"`
	Ratio      float64 `yaml:"ratio" json:"ratio"`
	MinPatches int     `yaml:"min_patches" json:"min_patches"` // block: default 16
	MaxPatches int     `yaml:"max_patches" json:"max_patches"` // block: 0 = no limit
	MinAspect  float64 `yaml:"min_aspect" json:"min_aspect"`   // block: default 0.3
}

// Mask is a Rows x Cols boolean grid, row-major; true means masked.
type Mask struct {
	Rows, Cols int
	Bits       []bool
}

// Count is the number of masked patches.
func (m Mask) Count() int {
	n := 0
	for _, b := range m.Bits {
		if b {
			n++
		}
	}
	return n
}

// Validate checks the spec.
func (s MaskSpec) Validate() error {
	if s.Kind != "block" && s.Kind != "random" {
		return fmt.Errorf("augment: mask kind %q (block, random)", s.Kind)
	}
	if s.Rows <= 0 || s.Cols <= 0 || s.Rows*s.Cols > 1<<20 {
		return fmt.Errorf("augment: mask grid %dx%d", s.Rows, s.Cols)
	}
	if !(s.Ratio >= 0 && s.Ratio <= 1) {
		return fmt.Errorf("augment: mask ratio %v outside [0, 1]", s.Ratio)
	}
	if s.MinAspect < 0 || s.MinAspect > 1 {
		return fmt.Errorf("augment: mask min_aspect %v outside (0, 1]", s.MinAspect)
	}
	return nil
}

// Generate draws one mask from r.
func (s MaskSpec) Generate(r *rand.Rand) Mask {
	m := Mask{Rows: s.Rows, Cols: s.Cols, Bits: make([]bool, s.Rows*s.Cols)}
	n := s.Rows * s.Cols
	if s.Kind == "random" {
		masked := n - int(float64(n)*(1-s.Ratio))
		perm := r.Perm(n)
		for _, i := range perm[:masked] {
			m.Bits[i] = true
		}
		return m
	}
	target := int(s.Ratio * float64(n))
	minP := s.MinPatches
	if minP <= 0 {
		minP = 16
	}
	maxP := s.MaxPatches
	if maxP <= 0 {
		maxP = target
	}
	minA := s.MinAspect
	if minA <= 0 {
		minA = 0.3
	}
	la0, la1 := math.Log(minA), math.Log(1/minA)
	count := 0
	for count < target {
		delta := s.block(r, m, min(target-count, maxP), minP, la0, la1)
		if delta == 0 {
			break
		}
		count += delta
	}
	return m
}

func (s MaskSpec) block(r *rand.Rand, m Mask, maxMask, minP int, la0, la1 float64) int {
	delta := 0
	for range 10 {
		area := uniform(r, float64(minP), float64(maxMask))
		ar := math.Exp(uniform(r, la0, la1))
		h := int(math.RoundToEven(math.Sqrt(area * ar)))
		w := int(math.RoundToEven(math.Sqrt(area / ar)))
		if w < s.Cols && h < s.Rows {
			top := r.IntN(s.Rows - h + 1)
			left := r.IntN(s.Cols - w + 1)
			already := 0
			for i := top; i < top+h; i++ {
				for j := left; j < left+w; j++ {
					if m.Bits[i*s.Cols+j] {
						already++
					}
				}
			}
			if fresh := h*w - already; fresh > 0 && fresh <= maxMask {
				for i := top; i < top+h; i++ {
					for j := left; j < left+w; j++ {
						if !m.Bits[i*s.Cols+j] {
							m.Bits[i*s.Cols+j] = true
							delta++
						}
					}
				}
			}
			if delta > 0 {
				break
			}
		}
	}
	return delta
}

// PackMasks copies the masks (all the same grid) into one contiguous
// row-major []bool of shape {N, Rows, Cols}, reusing dst when large enough.
func PackMasks(dst []bool, masks []Mask) ([]bool, [3]int, error) {
	if len(masks) == 0 {
		return dst[:0], [3]int{}, nil
	}
	r, c := masks[0].Rows, masks[0].Cols
	n := r * c
	if cap(dst) < n*len(masks) {
		dst = make([]bool, n*len(masks))
	}
	dst = dst[:n*len(masks)]
	for i, m := range masks {
		if m.Rows != r || m.Cols != c || len(m.Bits) != n {
			return dst, [3]int{}, fmt.Errorf("augment: PackMasks: mask %d is %dx%d, mask 0 is %dx%d", i, m.Rows, m.Cols, r, c)
		}
		copy(dst[i*n:], m.Bits)
	}
	return dst, [3]int{len(masks), r, c}, nil
}
