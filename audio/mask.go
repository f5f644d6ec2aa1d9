package audio

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// SpanLength selects how span lengths are drawn (fairseq mask_type).
type SpanLength int

// Span length distributions.
const (
	Static  SpanLength = iota // every span has Length frames
	Uniform                   // uniform integer in [Other, 2·Length]
	Normal                    // round(N(Length, Other)), at least 1
	Poisson                   // round(Poisson(Length))
)

// MaskConfig holds the parameters of fairseq's compute_mask_indices.
// HuBERT uses {Prob: 0.8, Length: 10, RequireSameMasks: true};
// data2vec audio {Prob: 0.65, Length: 10, RequireSameMasks: true}.
type MaskConfig struct {
	Prob             float64    `yaml:"prob" json:"prob"`                             // mask_prob: about Prob·T/Length spans per sequence of T frames
	Length           int        `yaml:"length" json:"length"`                         // mask_length
	Type             SpanLength `yaml:"type" json:"type"`                             // mask_type (Static)
	Other            float64    `yaml:"other" json:"other"`                           // mask_other: Uniform's low end or Normal's stddev
	MinMasks         int        `yaml:"min_masks" json:"min_masks"`                   // min_masks: at least this many spans
	NoOverlap        bool       `yaml:"no_overlap" json:"no_overlap"`                 // no_overlap: spans never overlap (slower, recursive splitting)
	MinSpace         int        `yaml:"min_space" json:"min_space"`                   // min_space: with NoOverlap, frames kept unmasked between spans
	RequireSameMasks bool       `yaml:"require_same_masks" json:"require_same_masks"` // require_same_masks: SpanMaskBatch gives every row the same count
	Dropout          float64    `yaml:"dropout" json:"dropout"`                       // mask_dropout: fraction of masked frames randomly unmasked afterwards
}

// ErrMaskConfig reports an impossible mask configuration.
var ErrMaskConfig = errors.New("audio: bad mask configuration")

func (c *MaskConfig) validate() error {
	switch {
	case c.Prob < 0 || c.Prob > 1 || math.IsNaN(c.Prob):
		return fmt.Errorf("%w: prob %v outside [0, 1]", ErrMaskConfig, c.Prob)
	case c.Length < 1:
		return fmt.Errorf("%w: length %d < 1", ErrMaskConfig, c.Length)
	case c.MinMasks < 0 || c.MinSpace < 0:
		return fmt.Errorf("%w: negative min_masks or min_space", ErrMaskConfig)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("%w: dropout %v outside [0, 1)", ErrMaskConfig, c.Dropout)
	case c.Type < Static || c.Type > Poisson:
		return fmt.Errorf("%w: span length type %d", ErrMaskConfig, c.Type)
	}
	return nil
}

// spanIndices draws the masked frame indices (sorted, unique) of one
// sequence of sz frames, following compute_mask_indices: the number of spans
// is max(MinMasks, int(Prob·sz/Length + U[0,1))); span starts are drawn
// without replacement from [0, sz - min span length) so spans may overlap
// (unless NoOverlap), and frames past the end are dropped.
func spanIndices(rng *rand.Rand, sz int, c *MaskConfig) []int {
	if sz <= 0 {
		return nil
	}
	num := int(c.Prob*float64(sz)/float64(c.Length) + rng.Float64())
	num = max(num, c.MinMasks)
	if num == 0 {
		return nil
	}
	lengths := make([]int, num)
	sum := 0
	for i := range lengths {
		switch c.Type {
		case Static:
			lengths[i] = c.Length
		case Uniform:
			lo := int(c.Other)
			hi := 2*c.Length + 1
			if hi <= lo {
				hi = lo + 1
			}
			lengths[i] = lo + rng.IntN(hi-lo)
		case Normal:
			lengths[i] = max(1, int(math.Round(float64(c.Length)+rng.NormFloat64()*c.Other)))
		case Poisson:
			lengths[i] = poisson(rng, float64(c.Length))
		}
		sum += lengths[i]
	}
	if sum == 0 {
		lengths[0] = min(c.Length, sz-1)
	}
	var idx []int
	if c.NoOverlap {
		type part struct{ s, e int }
		parts := []part{{0, sz}}
		minLen := slices.Min(lengths)
		sorted := slices.Clone(lengths)
		slices.SortFunc(sorted, func(a, b int) int { return b - a })
		for _, length := range sorted {
			total := 0
			for _, p := range parts {
				if p.e-p.s >= length+c.MinSpace {
					total += p.e - p.s
				}
			}
			if total == 0 {
				break
			}
			// Pick a part with probability proportional to its length.
			r := rng.IntN(total)
			ci := 0
			for i, p := range parts {
				if p.e-p.s >= length+c.MinSpace {
					if r < p.e-p.s {
						ci = i
						break
					}
					r -= p.e - p.s
				}
			}
			p := parts[ci]
			parts = append(parts[:ci], parts[ci+1:]...)
			if p.e-length <= p.s { // a part exactly one span long
				continue
			}
			start := p.s + rng.IntN(p.e-length-p.s)
			for j := 0; j < length; j++ {
				idx = append(idx, start+j)
			}
			if start-p.s-c.MinSpace >= minLen {
				parts = append(parts, part{p.s, start - c.MinSpace + 1})
			}
			// Current fairseq tests the right part with the span length;
			// releases before 2022 used the shortest length there.
			if p.e-start-length-c.MinSpace > minLen {
				parts = append(parts, part{start + length + c.MinSpace, p.e})
			}
		}
	} else {
		minLen := slices.Min(lengths)
		if sz-minLen <= num {
			minLen = sz - num - 1
		}
		n := sz - minLen
		if n < num { // fewer candidate starts than spans: use them all
			num = max(n, 0)
		}
		starts := sampleWithoutReplacement(rng, n, num)
		for j, s := range starts {
			for k := 0; k < lengths[j]; k++ {
				idx = append(idx, s+k)
			}
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	cut := len(idx)
	for cut > 0 && idx[cut-1] >= sz {
		cut--
	}
	return idx[:cut]
}

// sampleWithoutReplacement returns k distinct integers from [0, n) in the
// order drawn (a partial Fisher-Yates shuffle).
func sampleWithoutReplacement(rng *rand.Rand, n, k int) []int {
	if k <= 0 || n <= 0 {
		return nil
	}
	k = min(k, n)
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + rng.IntN(n-i)
		p[i], p[j] = p[j], p[i]
	}
	return p[:k]
}

// poisson draws from Poisson(lambda) (Knuth's method; lambda is a span
// length, small).
func poisson(rng *rand.Rand, lambda float64) int {
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// SpanMask returns the time mask (true = masked) of one sequence of T
// frames, drawn from rng with fairseq compute_mask_indices semantics for a
// batch of one. Derive rng per sample (pipeline.SampleRand) for results that
// do not depend on batching or workers.
func SpanMask(rng *rand.Rand, T int, c MaskConfig) ([]bool, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	mask := make([]bool, T)
	idx := spanIndices(rng, T, &c)
	idx = dropout(rng, idx, c.Dropout)
	for _, i := range idx {
		mask[i] = true
	}
	return mask, nil
}

func dropout(rng *rand.Rand, idx []int, p float64) []int {
	if p <= 0 || len(idx) == 0 {
		return idx
	}
	keep := len(idx) - int(math.RoundToEven(float64(len(idx))*p)) // fairseq: np.rint
	sel := sampleWithoutReplacement(rng, len(idx), keep)
	out := make([]int, len(sel))
	for i, j := range sel {
		out[i] = idx[j]
	}
	slices.Sort(out)
	return out
}

// SpanMaskBatch computes masks for a padded batch: row i has lengths[i]
// valid frames (T is the padded length) and draws from rngs[i]. Padded
// frames are never masked. With RequireSameMasks, rows with more masked
// frames than the smallest row are thinned (uniformly, without replacement,
// from their own rng) to that count, as fairseq does.
//
// Unlike fairseq, which draws one span count for an unpadded batch, each
// row draws its own count from its own stream: a sample's mask then depends
// only on (seed, epoch, index), never on its batch mates, except for the
// equal-count thinning.
func SpanMaskBatch(rngs []*rand.Rand, lengths []int, T int, c MaskConfig) ([][]bool, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if len(rngs) != len(lengths) {
		return nil, fmt.Errorf("%w: %d rngs for %d rows", ErrMaskConfig, len(rngs), len(lengths))
	}
	idxs := make([][]int, len(lengths))
	minN := math.MaxInt
	for i, n := range lengths {
		if n < 0 || n > T {
			return nil, fmt.Errorf("%w: row %d length %d outside [0, %d]", ErrMaskConfig, i, n, T)
		}
		idxs[i] = spanIndices(rngs[i], n, &c)
		minN = min(minN, len(idxs[i]))
	}
	out := make([][]bool, len(lengths))
	for i, idx := range idxs {
		if c.RequireSameMasks && len(idx) > minN {
			sel := sampleWithoutReplacement(rngs[i], len(idx), minN)
			th := make([]int, len(sel))
			for k, j := range sel {
				th[k] = idx[j]
			}
			slices.Sort(th)
			idx = th
		}
		idx = dropout(rngs[i], idx, c.Dropout)
		m := make([]bool, T)
		for _, j := range idx {
			m[j] = true
		}
		out[i] = m
	}
	return out, nil
}

// SpecAugment describes SpecAugment-style masks on a feature matrix (frames
// x dims), with torchaudio's mask_along_axis sampling: each mask has width
// floor(U·MaxWidth) and starts at floor(U·(size - width)).
type SpecAugment struct {
	TimeMasks    int     // number of time masks
	TimeMaxWidth int     // maximum frames per time mask
	TimeMaxFrac  float64 // if > 0, also cap each time mask at this fraction of the frames
	FreqMasks    int     // number of frequency masks
	FreqMaxWidth int     // maximum channels per frequency mask
	Value        float32 // value written into masked cells (0 after CMVN)
}

// Apply masks m in place using rng and returns the masked [start, end)
// frame and channel intervals.
func (s SpecAugment) Apply(rng *rand.Rand, m Matrix) (times, freqs [][2]int) {
	for i := 0; i < s.TimeMasks && m.Rows > 0; i++ {
		maxW := s.TimeMaxWidth
		if s.TimeMaxFrac > 0 {
			maxW = min(maxW, int(s.TimeMaxFrac*float64(m.Rows)))
		}
		w := int(rng.Float64() * float64(maxW))
		w = min(w, m.Rows)
		st := int(rng.Float64() * float64(m.Rows-w))
		for r := st; r < st+w; r++ {
			row := m.Row(r)
			for j := range row {
				row[j] = s.Value
			}
		}
		times = append(times, [2]int{st, st + w})
	}
	for i := 0; i < s.FreqMasks && m.Cols > 0; i++ {
		w := min(int(rng.Float64()*float64(s.FreqMaxWidth)), m.Cols)
		st := int(rng.Float64() * float64(m.Cols-w))
		for r := 0; r < m.Rows; r++ {
			row := m.Row(r)
			for j := st; j < st+w; j++ {
				row[j] = s.Value
			}
		}
		freqs = append(freqs, [2]int{st, st + w})
	}
	return times, freqs
}
