package data2vec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train/data"
)

// The data path of each modality: a per-sample stage on the pipeline's
// workers and a collation stage that makes a *Batch. Every random draw
// (flip, patch mask, crop offset, span and token masks) comes from the
// sample's own stream (pipeline.Sample.Rand(0), keyed by seed, epoch and
// sample index), so batches do not depend on worker counts or on where a
// run was resumed.

// batcher makes the batches of one modality.
type batcher struct {
	modality string
	m        ModelConfig
	s        Settings
	masker   *text.Masker // text
}

func newBatcher(modality string, m ModelConfig, s Settings, tok *text.Tokenizer) (*batcher, error) {
	b := &batcher{modality: modality, m: m, s: s}
	if modality == data.Text {
		if tok == nil {
			return nil, fmt.Errorf("%w: text data without a tokenizer", ErrData)
		}
		var err error
		if b.masker, err = newMasker(tok.VocabSize(), tok.Specials().Mask, tok.SpecialIDs(), m.Mask); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// batches is Trainer.Batches.
func (b *batcher) batches(examples *pipeline.Stream[data.Example], size, workers int) *pipeline.Stream[any] {
	switch b.modality {
	case data.Image:
		var scratch sync.Pool
		items := pipeline.Map(examples, func(_ context.Context, s pipeline.Sample[data.Example]) (imageItem, error) {
			sc, _ := scratch.Get().(*augment.Scratch)
			if sc == nil {
				sc = new(augment.Scratch)
			}
			defer scratch.Put(sc)
			return b.image(s, sc)
		}, pipeline.MapOptions{Name: "patches", Workers: workers})
		return collate(items, size, b.imageBatch)
	case data.Text:
		items := pipeline.Map(examples, func(_ context.Context, s pipeline.Sample[data.Example]) ([]int32, error) {
			return b.tokens(s.Value)
		}, pipeline.MapOptions{Name: "tokens", Workers: workers})
		return collate(items, size, b.textBatch)
	default:
		items := pipeline.Map(examples, func(_ context.Context, s pipeline.Sample[data.Example]) ([]float32, error) {
			return b.wave(s.Value)
		}, pipeline.MapOptions{Name: "wave", Workers: workers})
		return collate(items, size, b.audioBatch)
	}
}

// collate groups items into batches of size (the epoch's last partial
// batch dropped) and turns each into a *Batch on one goroutine.
func collate[T any](items *pipeline.Stream[T], size int, f func([]pipeline.Sample[T]) (*Batch, error)) *pipeline.Stream[any] {
	bs := pipeline.Batches(items, pipeline.BatchOptions{Size: size, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, s pipeline.Sample[pipeline.Batch[T]]) (any, error) {
		return f(s.Value.Samples)
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

// imageItem is one image's patches and mask.
type imageItem struct {
	patches []float32
	mask    []bool
}

// image converts a sample to the model's input (channels, size), mirrors
// it with probability FlipP, normalizes and patchifies it, and draws its
// patch mask.
func (b *batcher) image(s pipeline.Sample[data.Example], sc *augment.Scratch) (imageItem, error) {
	img := s.Value.Image
	if img == nil {
		return imageItem{}, fmt.Errorf("%w: sample %s has no image", ErrData, s.Value.Key)
	}
	r := s.Rand(0)
	flip := r.Float64() < b.s.FlipP
	p, err := imagePatches(nil, img, &b.m, b.s.Normalize, flip, sc)
	if err != nil {
		return imageItem{}, fmt.Errorf("%s: %w", s.Value.Key, err)
	}
	return imageItem{patches: p, mask: b.m.maskSpec().Generate(r).Bits}, nil
}

func (b *batcher) imageBatch(items []pipeline.Sample[imageItem]) (*Batch, error) {
	g := b.m.ImageSize / b.m.Patch
	out := &Batch{B: len(items), T: g * g, Train: true}
	for _, it := range items {
		out.Patches = append(out.Patches, it.Value.patches...)
		out.Mask = append(out.Mask, it.Value.mask...)
	}
	return out, nil
}

// imagePatches appends img as the model's patches: converted to
// m.Channels (gray <-> RGB) and resized to m.ImageSize (bilinear) when it
// differs, mirrored when flip (in place when img is already the model's
// input: callers that keep their examples pass flip false), normalized,
// then cut into (ImageSize/Patch)² rows of Channels·Patch·Patch values,
// channel-major within a patch (the layout of a Conv2d weight).
func imagePatches(dst []float32, img *augment.Image, m *ModelConfig, norm augment.Normalize, flip bool, sc *augment.Scratch) ([]float32, error) {
	c := img
	if c.C != m.Channels {
		if c.C != 1 && c.C != 3 {
			return dst, fmt.Errorf("%w: image has %d channels (want 1 or 3)", ErrData, c.C)
		}
		d := &augment.Image{}
		if m.Channels == 3 {
			augment.GrayToRGB(d, c)
		} else {
			augment.ToGray(d, c)
		}
		c = d
	}
	S := m.ImageSize
	if c.W != S || c.H != S {
		if c.W < 1 || c.H < 1 {
			return dst, fmt.Errorf("%w: empty %dx%d image", ErrData, c.W, c.H)
		}
		d := &augment.Image{}
		augment.Resize(d, c, S, S, augment.Bilinear, sc)
		c = d
	}
	if flip {
		augment.HFlip(c)
	}
	chw := make([]float32, m.Channels*S*S)
	norm.ToCHW(chw, c)
	return patchify(dst, chw, S, m.Channels, m.Patch), nil
}

// patchify appends a C x S x S image (float32, channels first) as
// (S/p)² patches of C·p·p values, channel-major within a patch.
func patchify(dst, chw []float32, S, C, p int) []float32 {
	g := S / p
	for py := 0; py < g; py++ {
		for px := 0; px < g; px++ {
			for c := 0; c < C; c++ {
				for y := 0; y < p; y++ {
					row := chw[c*S*S+(py*p+y)*S+px*p:]
					dst = append(dst, row[:p]...)
				}
			}
		}
	}
	return dst
}

// tokens checks a text example's ids.
func (b *batcher) tokens(ex data.Example) ([]int32, error) {
	return checkTokens(ex, b.m.Vocab)
}

func checkTokens(ex data.Example, vocab int) ([]int32, error) {
	if len(ex.Tokens) == 0 {
		return nil, fmt.Errorf("%w: sample %s has no tokens", ErrData, ex.Key)
	}
	for _, id := range ex.Tokens {
		if id < 0 || int(id) >= vocab {
			return nil, fmt.Errorf("%w: sample %s: token id %d outside the vocabulary of %d (another tokenizer?)", ErrData, ex.Key, id, vocab)
		}
	}
	return ex.Tokens, nil
}

// textBatch cuts every sequence to the batch's shortest length (at most
// SeqLen) at a random offset, then masks it (span or BERT). Preprocessed
// text has sequences of one length; raw text folders give one example per
// line or fortune, and a batch of them is as long as its shortest.
func (b *batcher) textBatch(items []pipeline.Sample[[]int32]) (*Batch, error) {
	T := b.m.SeqLen
	for _, it := range items {
		T = min(T, len(it.Value))
	}
	out := &Batch{B: len(items), T: T, Train: true}
	masked := 0
	for _, it := range items {
		ids := it.Value
		r := it.Rand(0)
		if len(ids) > T {
			off := r.IntN(len(ids) - T + 1)
			ids = ids[off : off+T]
		}
		in, mk := maskTokens(b.masker, b.m.Mask.Kind, ids, r)
		for i, id := range ids {
			out.IDs = append(out.IDs, int64(id))
			if mk[i] {
				masked++
			}
		}
		out.Input = append(out.Input, in...)
		out.Mask = append(out.Mask, mk...)
	}
	if masked == 0 {
		return nil, fmt.Errorf("%w: a batch of %d sequences of %d tokens has no masked position (sequences too short)", ErrData, out.B, T)
	}
	return out, nil
}

// newMasker makes the text masker of mask: span (text.Masker.Span with
// mask.Prob and mask.Length, 80/10/10) or bert (text.Masker.MLM with
// mask.Prob).
func newMasker(vocab int, maskID int32, special []int32, mask MaskConfig) (*text.Masker, error) {
	o := text.MaskOptions{Prob: mask.Prob, SpanProb: mask.Prob, SpanLength: mask.Length}
	if mask.Kind == "span" {
		o.Prob = 0.15
	}
	return text.NewMaskerIDs(vocab, maskID, special, o)
}

// maskTokens masks one sequence: the student's input and the positions in
// the loss.
func maskTokens(mk *text.Masker, kind string, ids []int32, r *rand.Rand) (input []int64, mask []bool) {
	var ms text.Masked
	if kind == "bert" {
		ms = mk.MLM(ids, r)
	} else {
		ms = mk.Span(ids, r)
	}
	input = make([]int64, len(ids))
	mask = make([]bool, len(ids))
	for i := range ids {
		input[i] = int64(ms.Inputs[i])
		mask[i] = ms.Labels[i] != text.IgnoreLabel
	}
	return input, mask
}

// wave checks an audio example: 16 kHz, at least the CNN's receptive
// field.
func (b *batcher) wave(ex data.Example) ([]float32, error) {
	return checkWave(ex, b.m.CNN.ReceptiveField())
}

func checkWave(ex data.Example, minSamples int) ([]float32, error) {
	if ex.Rate != SampleRate {
		return nil, fmt.Errorf("%w: sample %s is at %d Hz, want %d", ErrData, ex.Key, ex.Rate, SampleRate)
	}
	if len(ex.Wave) < minSamples {
		return nil, fmt.Errorf("%w: sample %s has %d samples, fewer than the CNN's receptive field %d", ErrData, ex.Key, len(ex.Wave), minSamples)
	}
	return ex.Wave, nil
}

// audioBatch crops the waves to a common length (the shortest, at most
// MaxSamples) at random offsets and draws span masks over the CNN frames
// (audio.SpanMaskBatch, every row the same count).
func (b *batcher) audioBatch(items []pipeline.Sample[[]float32]) (*Batch, error) {
	L := b.m.MaxSamples
	for _, it := range items {
		L = min(L, len(it.Value))
	}
	T := b.m.CNN.Frames(L)
	if T <= 0 {
		return nil, fmt.Errorf("%w: a crop of %d samples gives no frames", ErrData, L)
	}
	out := &Batch{B: len(items), T: T, L: L, Train: true}
	rngs := make([]*rand.Rand, len(items))
	lengths := make([]int, len(items))
	for k, it := range items {
		w := it.Value
		r := it.Rand(0)
		off := 0
		if len(w) > L {
			off = r.IntN(len(w) - L + 1)
		}
		out.Wave = append(out.Wave, w[off:off+L]...)
		rngs[k], lengths[k] = r, T
	}
	masks, err := audio.SpanMaskBatch(rngs, lengths, T, b.m.Mask.audioMask())
	if err != nil {
		return nil, err
	}
	for _, mk := range masks {
		out.Mask = append(out.Mask, mk...)
	}
	return out, nil
}
