package text

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// IgnoreLabel marks positions that do not contribute to the MLM loss (the
// ignore_index of PyTorch's cross-entropy and HF's collators).
const IgnoreLabel = -100

// MaskOptions configures a Masker. Zero fields take the BERT defaults.
type MaskOptions struct {
	// Prob is the probability that a maskable token (MLM), word (WholeWord)
	// is selected. Default 0.15.
	Prob float64
	// MaskFrac and RandomFrac split the selected tokens: MaskFrac become the
	// mask token, RandomFrac a uniformly random non-special token, the rest
	// stay unchanged. Defaults 0.8 and 0.1 (see ExactFractions).
	MaskFrac, RandomFrac float64
	// ExactFractions makes zero MaskFrac/RandomFrac mean zero instead of
	// the defaults (e.g. MaskFrac=1, RandomFrac=0 for "always [MASK]").
	ExactFractions bool
	// SpanProb and SpanLength configure Span (data2vec text / SpanBERT
	// style, fairseq compute_mask_indices). Defaults 0.35 and 4.
	SpanProb   float64
	SpanLength int
}

// Masker applies BERT-style masking to token ids. It is immutable and safe
// for concurrent use; every random draw comes from the *rand.Rand passed in.
type Masker struct {
	opts    MaskOptions
	maskID  int32
	special []bool  // indexed by id
	pool    []int32 // non-special ids for random replacement
}

// Masked is the result of masking one sequence: Inputs is the model input,
// Labels holds the original id at selected positions and IgnoreLabel
// elsewhere.
type Masked struct {
	Inputs []int32
	Labels []int32
}

// NewMasker builds a Masker from a tokenizer: its mask token ([MASK] or
// <mask>) and its special tokens, which are never selected nor used as random
// replacements.
func NewMasker(tok *Tokenizer, opts MaskOptions) (*Masker, error) {
	sp := tok.Specials()
	if sp.Mask < 0 {
		return nil, fmt.Errorf("text: %s: tokenizer has no [MASK] or <mask> token", tok.Name())
	}
	return NewMaskerIDs(tok.VocabSize(), sp.Mask, tok.SpecialIDs(), opts)
}

// NewMaskerIDs builds a Masker from explicit ids.
func NewMaskerIDs(vocabSize int, maskID int32, special []int32, opts MaskOptions) (*Masker, error) {
	if !opts.ExactFractions {
		if opts.MaskFrac == 0 {
			opts.MaskFrac = 0.8
		}
		if opts.RandomFrac == 0 {
			opts.RandomFrac = 0.1
		}
	}
	if opts.Prob == 0 {
		opts.Prob = 0.15
	}
	if opts.SpanProb == 0 {
		opts.SpanProb = 0.35
	}
	if opts.SpanLength == 0 {
		opts.SpanLength = 4
	}
	switch {
	case vocabSize <= 0 || maskID < 0 || int(maskID) >= vocabSize:
		return nil, fmt.Errorf("text: mask id %d outside vocabulary of %d", maskID, vocabSize)
	case opts.Prob < 0 || opts.Prob > 1 || opts.SpanProb < 0 || opts.SpanProb > 1:
		return nil, errors.New("text: masking probability outside [0, 1]")
	case opts.MaskFrac < 0 || opts.RandomFrac < 0 || opts.MaskFrac+opts.RandomFrac > 1+1e-9:
		return nil, errors.New("text: mask and random fractions must be >= 0 and sum to at most 1")
	case opts.SpanLength < 1:
		return nil, errors.New("text: span length must be >= 1")
	}
	m := &Masker{opts: opts, maskID: maskID, special: make([]bool, vocabSize)}
	m.special[maskID] = true
	for _, id := range special {
		if id >= 0 && int(id) < vocabSize {
			m.special[id] = true
		}
	}
	for id := range vocabSize {
		if !m.special[id] {
			m.pool = append(m.pool, int32(id))
		}
	}
	if len(m.pool) == 0 {
		return nil, errors.New("text: no non-special tokens to draw random replacements from")
	}
	return m, nil
}

// Maskable reports whether id may be selected (not a special token).
func (m *Masker) Maskable(id int32) bool {
	return id >= 0 && (int(id) >= len(m.special) || !m.special[id])
}

func newMasked(ids []int32) Masked {
	out := Masked{Inputs: append([]int32(nil), ids...), Labels: make([]int32, len(ids))}
	for i := range out.Labels {
		out.Labels[i] = IgnoreLabel
	}
	return out
}

// corrupt applies the 80/10/10 rule to selected position i.
func (m *Masker) corrupt(out *Masked, i int, r *rand.Rand) {
	out.Labels[i] = out.Inputs[i]
	u := r.Float64()
	switch {
	case u < m.opts.MaskFrac:
		out.Inputs[i] = m.maskID
	case u < m.opts.MaskFrac+m.opts.RandomFrac:
		out.Inputs[i] = m.pool[r.IntN(len(m.pool))]
	}
}

// MLM is BERT's masked language modelling: each maskable token is selected
// independently with probability Prob; a selected token becomes the mask
// token (MaskFrac), a random non-special token (RandomFrac) or stays (the
// rest). ids is not modified.
func (m *Masker) MLM(ids []int32, r *rand.Rand) Masked {
	out := newMasked(ids)
	for i, id := range ids {
		if m.Maskable(id) && r.Float64() < m.opts.Prob {
			m.corrupt(&out, i, r)
		}
	}
	return out
}

// WholeWord selects words instead of tokens: each word (a maximal run of
// consecutive positions with the same non-negative words[i], e.g.
// Encoding.Words or Sequence.Words) is selected with probability Prob, and
// all its maskable tokens are then corrupted with the 80/10/10 rule.
// Positions with words[i] < 0 are never selected.
func (m *Masker) WholeWord(ids, words []int32, r *rand.Rand) (Masked, error) {
	if len(words) != len(ids) {
		return Masked{}, fmt.Errorf("text: %d word indexes for %d tokens", len(words), len(ids))
	}
	out := newMasked(ids)
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && words[j] == words[i] {
			j++
		}
		if words[i] >= 0 && r.Float64() < m.opts.Prob {
			for k := i; k < j; k++ {
				if m.Maskable(ids[k]) {
					m.corrupt(&out, k, r)
				}
			}
		}
		i = j
	}
	return out, nil
}

// Span masks contiguous spans (SpanBERT / data2vec text, with the semantics
// of fairseq's compute_mask_indices) over the maskable positions: with T
// maskable tokens, int(SpanProb*T/SpanLength + U(0,1)) span starts are drawn
// without replacement, each span covers SpanLength maskable tokens (spans
// may overlap, so the masked fraction is a little under SpanProb), and the
// covered tokens are corrupted with the 80/10/10 rule.
func (m *Masker) Span(ids []int32, r *rand.Rand) Masked {
	out := newMasked(ids)
	pos := make([]int, 0, len(ids))
	for i, id := range ids {
		if m.Maskable(id) {
			pos = append(pos, i)
		}
	}
	T := len(pos)
	if T == 0 {
		return out
	}
	L := min(m.opts.SpanLength, T)
	num := int(math.Floor(m.opts.SpanProb*float64(T)/float64(L) + r.Float64()))
	cands := T - L + 1
	num = min(num, cands)
	if num <= 0 {
		return out
	}
	// Partial Fisher-Yates: num distinct starts in [0, cands).
	starts := make([]int, cands)
	for i := range starts {
		starts[i] = i
	}
	sel := make([]bool, T)
	for k := range num {
		j := k + r.IntN(cands-k)
		starts[k], starts[j] = starts[j], starts[k]
		for q := starts[k]; q < starts[k]+L; q++ {
			sel[q] = true
		}
	}
	for q, s := range sel {
		if s {
			m.corrupt(&out, pos[q], r)
		}
	}
	return out
}
