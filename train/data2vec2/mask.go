package data2vec2

import (
	"fmt"
	"math/rand/v2"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
)

// MaskKey names one sample's masks: the run seed, the epoch (or any
// counter the trainer advances so that a sample seen again gets new
// masks) and the sample's index in its source. Clone c of the sample
// draws from pipeline.SampleRand(Seed^maskSalt, Epoch, Index, c), so a
// mask depends on nothing else: not the batch it lands in, the worker
// that made it or whether the run was resumed.
type MaskKey struct {
	Seed, Epoch, Index uint64
}

// maskSalt separates the mask streams from other per-sample streams of the
// same (seed, epoch, index, view) (crops, flips).
const maskSalt = 0x6d61736b32 // "mask2"

// Masker draws the student's masks for sequences of T positions (tokens,
// patches on a Rows x Cols grid, or frames). Every mask it draws has the
// same number of masked positions (Masked), so the kept positions of a
// batch gather into a dense B·clones x (T - Masked) tensor. Safe for
// concurrent use.
type Masker struct {
	cfg        MaskConfig
	T          int
	rows, cols int
	masked     int
	block      augment.BlockMask2D
	span       audio.MaskConfig
}

// NewMasker returns the masker of cfg for T positions; block masks need
// the patch grid (rows x cols = T; 0, 0 otherwise).
func NewMasker(cfg MaskConfig, T, rows, cols int) (*Masker, error) {
	if T < 2 {
		return nil, fmt.Errorf("data2vec2: mask over %d positions", T)
	}
	m := &Masker{cfg: cfg, T: T, rows: rows, cols: cols}
	switch cfg.Kind {
	case "random":
		if !(cfg.Prob > 0 && cfg.Prob < 1) {
			return nil, fmt.Errorf("data2vec2: random mask prob %v outside (0, 1)", cfg.Prob)
		}
		// fairseq random_masking: len_keep = int(T·(1 - p)).
		m.masked = T - int(float64(T)*(1-cfg.Prob))
	case "block":
		if rows*cols != T {
			return nil, fmt.Errorf("data2vec2: block mask grid %d x %d for %d positions", rows, cols, T)
		}
		m.block = augment.BlockMask2D{Rows: rows, Cols: cols, Prob: cfg.Prob, Length: cfg.Length, ProbAdjust: cfg.ProbAdjust, Inverse: cfg.Inverse}
		if err := m.block.Validate(); err != nil {
			return nil, fmt.Errorf("data2vec2: %w", err)
		}
		m.masked = m.block.Count()
	case "span":
		m.span = audio.MaskConfig{Prob: cfg.Prob, Length: cfg.Length, MinMasks: cfg.MinMasks}
		n, err := audio.ExpectedSpanCount(T, m.span)
		if err != nil {
			return nil, fmt.Errorf("data2vec2: %w", err)
		}
		m.masked = n
	default:
		return nil, fmt.Errorf("data2vec2: mask kind %q (random, block, span)", cfg.Kind)
	}
	if m.masked < 1 || m.masked >= T {
		return nil, fmt.Errorf("data2vec2: %s mask of %d positions masks %d", cfg.Kind, T, m.masked)
	}
	return m, nil
}

// Masked is the number of masked positions of every mask.
func (m *Masker) Masked() int { return m.masked }

// Positions is T.
func (m *Masker) Positions() int { return m.T }

// Draw returns one mask (true: masked) drawn from r.
func (m *Masker) Draw(r *rand.Rand) []bool {
	switch m.cfg.Kind {
	case "block":
		return m.block.Generate(r).Bits
	case "span":
		mk, err := audio.SpanMaskCount(r, m.T, m.masked, m.span)
		if err != nil { // the config was checked by NewMasker
			panic(err)
		}
		return mk
	}
	mk := make([]bool, m.T)
	for _, i := range r.Perm(m.T)[:m.masked] {
		mk[i] = true
	}
	return mk
}

// Sample returns the mask of clone c of the sample key names.
func (m *Masker) Sample(key MaskKey, c int) []bool {
	return m.Draw(pipeline.SampleRand(key.Seed^maskSalt, key.Epoch, key.Index, uint64(c)))
}

// Batch returns the masks of clones copies of each sample, row-major
// len(keys)·clones x T: row b·clones + c is clone c of sample b (the
// student's batch order: each sample's clones are adjacent).
func (m *Masker) Batch(keys []MaskKey, clones int) []bool {
	out := make([]bool, 0, len(keys)*clones*m.T)
	for _, k := range keys {
		for c := range clones {
			out = append(out, m.Sample(k, c)...)
		}
	}
	return out
}
