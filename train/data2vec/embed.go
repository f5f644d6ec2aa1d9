package data2vec

import (
	"fmt"
	"slices"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train/op"
)

// EmbedOptions choose the features Embed* return.
type EmbedOptions struct {
	// Teacher uses the EMA teacher's encoder (over the student's
	// front-end) instead of the student's.
	Teacher bool
	// Layer is the block whose output is mean-pooled (1-based; 0: the
	// encoder's output; -1: the front end's embeddings).
	Layer int
	// Batch is the number of examples per forward pass (0: 64).
	Batch int
	// Cut (text) keeps only the first SeqLen tokens of each text; by
	// default a longer text is encoded in consecutive windows of SeqLen
	// tokens and pooled over all its tokens.
	Cut bool
}

func (o EmbedOptions) batch() int {
	if o.Batch <= 0 {
		return 64
	}
	return o.Batch
}

// pooled runs b and returns its mean over positions, B x D.
func (m *Model) pooled(b *Batch, o EmbedOptions) (out [][]float32, err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	x := m.Encode(&tp, b, o.Teacher, o.Layer)
	v := op.ToFloat32(tp.MeanDims(x, false, 1))
	d := int(m.Cfg.Encoder.Dim)
	for i := 0; i < b.B; i++ {
		out = append(out, v[i*d:(i+1)*d])
	}
	return out, nil
}

// EmbedTexts returns one mean-pooled feature vector per text, encoded with
// [CLS] ... [SEP]. A text longer than the model's SeqLen is split into
// consecutive windows of SeqLen tokens, each encoded on its own, and the
// feature is the mean over all its tokens (o.Cut: only the first SeqLen
// tokens, [SEP] kept last). Windows are batched by equal length (no
// padding: the encoder has no attention mask).
func EmbedTexts(m *Model, tok *text.Tokenizer, texts []string, o EmbedOptions) ([][]float32, error) {
	defer op.LockThread()()
	type window struct {
		text int
		ids  []int64
	}
	var wins []window
	S := m.Cfg.SeqLen
	for i, s := range texts {
		enc := tok.Encode(s, true).IDs
		e := make([]int64, len(enc))
		for k, v := range enc {
			e[k] = int64(v)
		}
		if o.Cut && len(e) > S {
			e = append(e[:S-1], e[len(e)-1])
		}
		for len(e) > S {
			wins = append(wins, window{i, e[:S]})
			e = e[S:]
		}
		wins = append(wins, window{i, e})
	}
	slices.SortStableFunc(wins, func(a, b window) int { return len(a.ids) - len(b.ids) })
	d := int(m.Cfg.Encoder.Dim)
	sum := make([][]float64, len(texts))
	count := make([]int, len(texts))
	for s := 0; s < len(wins); {
		e := s + 1
		for e < len(wins) && e-s < o.batch() && len(wins[e].ids) == len(wins[s].ids) {
			e++
		}
		b := &Batch{B: e - s, T: len(wins[s].ids)}
		for _, w := range wins[s:e] {
			b.IDs = append(b.IDs, w.ids...)
		}
		f, err := m.pooled(b, o)
		if err != nil {
			return nil, err
		}
		for k, w := range wins[s:e] {
			if sum[w.text] == nil {
				sum[w.text] = make([]float64, d)
			}
			n := len(w.ids)
			for j, v := range f[k] {
				sum[w.text][j] += float64(v) * float64(n)
			}
			count[w.text] += n
		}
		s = e
	}
	out := make([][]float32, len(texts))
	for i := range texts {
		out[i] = make([]float32, d)
		for j, v := range sum[i] {
			out[i][j] = float32(v / float64(count[i]))
		}
	}
	return out, nil
}

// EmbedImages returns one mean-pooled feature vector per image (8-bit,
// the model's size and channels).
func EmbedImages(m *Model, imgs *datasets.Images, o EmbedOptions) ([][]float32, error) {
	defer op.LockThread()()
	if imgs.H != m.Cfg.ImageSize || imgs.W != m.Cfg.ImageSize || imgs.C != m.Cfg.Channels {
		return nil, fmt.Errorf("%w: images are %dx%dx%d, model wants %dx%d with %d channels", ErrData, imgs.H, imgs.W, imgs.C, m.Cfg.ImageSize, m.Cfg.ImageSize, m.Cfg.Channels)
	}
	var out [][]float32
	for s := 0; s < imgs.N; s += o.batch() {
		var idx []int
		for i := s; i < min(imgs.N, s+o.batch()); i++ {
			idx = append(idx, i)
		}
		f, err := m.pooled(ImageBatch(imgs, idx, m.Cfg), o)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// EmbedWaves returns one mean-pooled feature vector per waveform (16 kHz,
// cut to maxSamples when > 0), one utterance per forward pass.
func EmbedWaves(m *Model, waves [][]float32, maxSamples int, o EmbedOptions) ([][]float32, error) {
	defer op.LockThread()()
	rf := m.Cfg.CNN.ReceptiveField()
	out := make([][]float32, 0, len(waves))
	for i, w := range waves {
		if maxSamples > 0 && len(w) > maxSamples {
			w = w[:maxSamples]
		}
		if len(w) < rf {
			return nil, fmt.Errorf("%w: wave %d has %d samples, fewer than the receptive field %d", ErrData, i, len(w), rf)
		}
		b := &Batch{B: 1, T: m.Cfg.CNN.Frames(len(w)), L: len(w), Wave: w}
		f, err := m.pooled(b, o)
		if err != nil {
			return nil, err
		}
		out = append(out, f[0])
	}
	return out, nil
}
