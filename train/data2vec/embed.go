package data2vec

import (
	"fmt"
	"slices"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/text"
	tr "github.com/sslpipe/sslpipe/train/transformer"
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
}

func (o EmbedOptions) batch() int {
	if o.Batch <= 0 {
		return 64
	}
	return o.Batch
}

// pooled runs b and returns its mean over positions, B x D.
func (m *Model) pooled(b *Batch, o EmbedOptions) (out [][]float32, err error) {
	defer tr.Catch(&err)
	var tp tr.Tape
	defer tp.Drop()
	x := m.Encode(&tp, b, o.Teacher, o.Layer)
	v := tr.ToFloat32(tp.MeanDims(x, false, 1))
	d := int(m.Cfg.Encoder.Dim)
	for i := 0; i < b.B; i++ {
		out = append(out, v[i*d:(i+1)*d])
	}
	return out, nil
}

// EmbedTexts returns one mean-pooled feature vector per text: encoded with
// [CLS] ... [SEP], cut to the model's SeqLen, batched by equal length
// (no padding: the encoder has no attention mask).
func EmbedTexts(m *Model, tok *text.Tokenizer, texts []string, o EmbedOptions) ([][]float32, error) {
	defer tr.LockThread()()
	ids := make([][]int64, len(texts))
	for i, s := range texts {
		e := tok.Encode(s, true).IDs
		if len(e) > m.Cfg.SeqLen {
			e = append(e[:m.Cfg.SeqLen-1], e[len(e)-1])
		}
		for _, v := range e {
			ids[i] = append(ids[i], int64(v))
		}
	}
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(ids[a]) - len(ids[b]) })
	out := make([][]float32, len(texts))
	for s := 0; s < len(order); {
		e := s + 1
		for e < len(order) && e-s < o.batch() && len(ids[order[e]]) == len(ids[order[s]]) {
			e++
		}
		b := &Batch{B: e - s, T: len(ids[order[s]])}
		for _, i := range order[s:e] {
			b.IDs = append(b.IDs, ids[i]...)
		}
		f, err := m.pooled(b, o)
		if err != nil {
			return nil, err
		}
		for k, i := range order[s:e] {
			out[i] = f[k]
		}
		s = e
	}
	return out, nil
}

// EmbedImages returns one mean-pooled feature vector per image (8-bit,
// the model's size and channels).
func EmbedImages(m *Model, imgs *datasets.Images, o EmbedOptions) ([][]float32, error) {
	defer tr.LockThread()()
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
	defer tr.LockThread()()
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
