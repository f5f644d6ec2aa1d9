package data2vec2

import (
	"context"
	"fmt"
	"math"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
)

// Views of a sample's random stream (pipeline.Sample.Rand): the image
// flip and the audio crop. Masks draw from their own streams (MaskKey).
const (
	viewFlip = 1
	viewCrop = 2
)

// batches is the data path of modality: per-sample preparation on the
// workers (images: conversion, flip, patches), batching, then one
// collation stage that crops (audio) or packs (text) the batch and draws
// its masks. Everything random is keyed by the samples' (seed, epoch,
// index).
func batches(ex *pipeline.Stream[data.Example], c *ModelConfig, modality string, batch, workers int) *pipeline.Stream[any] {
	switch modality {
	case data.Image:
		return imageBatches(ex, c, batch, workers)
	case data.Audio:
		return audioBatches(ex, c, batch, workers)
	}
	return textBatches(ex, c, batch)
}

// Patchify converts a normalized C x S x S image (NCHW without N) to
// (S/p)² patches of C·p·p values, channel-major within a patch (the layout
// of a Conv2d weight), appending to dst.
func Patchify(dst, img []float32, channels, size, p int) []float32 {
	g := size / p
	for py := range g {
		for px := range g {
			for ch := range channels {
				for y := range p {
					row := img[(ch*size+py*p+y)*size+px*p:]
					dst = append(dst, row[:p]...)
				}
			}
		}
	}
	return dst
}

// imagePatches turns one image into the model's patches (normalized, and
// flipped horizontally when flip).
func imagePatches(img *augment.Image, c *ImageConfig, flip bool) ([]float32, error) {
	x, _, err := train.ImageInput([]*augment.Image{img}, c.Channels, c.ImageSize, c.Normalize)
	if err != nil {
		return nil, err
	}
	if flip {
		s := c.ImageSize
		for r := 0; r < c.Channels*s; r++ {
			row := x[r*s : (r+1)*s]
			for i, j := 0, s-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
	return Patchify(make([]float32, 0, len(x)), x, c.Channels, c.ImageSize, c.Patch), nil
}

func maskKeys[T any](b pipeline.Batch[T]) []MaskKey {
	keys := make([]MaskKey, len(b.Samples))
	for i, s := range b.Samples {
		keys[i] = MaskKey{Seed: s.Seed, Epoch: uint64(s.Epoch), Index: uint64(s.Index)}
	}
	return keys
}

func imageBatches(ex *pipeline.Stream[data.Example], c *ModelConfig, batch, workers int) *pipeline.Stream[any] {
	ic := c.Image
	T, g := c.positions(data.Image)
	patches := pipeline.Map(ex, func(_ context.Context, s pipeline.Sample[data.Example]) ([]float32, error) {
		if s.Value.Image == nil {
			return nil, fmt.Errorf("data2vec2: sample %s has no image", s.Value.Key)
		}
		flip := ic.FlipP > 0 && s.Rand(viewFlip).Float64() < ic.FlipP
		return imagePatches(s.Value.Image, &ic, flip)
	}, pipeline.MapOptions{Name: "patches", Workers: workers})
	bs := pipeline.Batches(patches, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, s pipeline.Sample[pipeline.Batch[[]float32]]) (any, error) {
		mk, err := NewMasker(ic.Mask, T, g, g)
		if err != nil {
			return nil, err
		}
		b := &Batch{B: len(s.Value.Samples), Clones: c.CloneBatch, T: T}
		for _, x := range s.Value.Samples {
			b.Patches = append(b.Patches, x.Value...)
		}
		b.Mask = mk.Batch(maskKeys(s.Value), c.CloneBatch)
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

func audioBatches(ex *pipeline.Stream[data.Example], c *ModelConfig, batch, workers int) *pipeline.Stream[any] {
	ac := c.Audio
	rf := ac.CNN.ReceptiveField()
	waves := pipeline.Map(ex, func(_ context.Context, s pipeline.Sample[data.Example]) ([]float32, error) {
		if len(s.Value.Wave) < rf {
			return nil, fmt.Errorf("data2vec2: %s: %d samples, fewer than the CNN's receptive field %d", s.Value.Key, len(s.Value.Wave), rf)
		}
		return s.Value.Wave, nil
	}, pipeline.MapOptions{Name: "waves", Workers: workers})
	bs := pipeline.Batches(waves, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, s pipeline.Sample[pipeline.Batch[[]float32]]) (any, error) {
		L := ac.MaxSamples
		for _, x := range s.Value.Samples {
			L = min(L, len(x.Value))
		}
		T := ac.CNN.Frames(L)
		mk, err := NewMasker(ac.Mask, T, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("data2vec2: a batch cropped to %d samples (%d frames): %w", L, T, err)
		}
		b := &Batch{B: len(s.Value.Samples), Clones: c.CloneBatch, T: T, L: L}
		for _, x := range s.Value.Samples {
			w := x.Value
			off := 0
			if len(w) > L {
				off = x.Rand(viewCrop).IntN(len(w) - L + 1)
			}
			start := len(b.Wave)
			b.Wave = append(b.Wave, w[off:off+L]...)
			if ac.Normalize {
				normalizeWave(b.Wave[start:])
			}
		}
		b.Mask = mk.Batch(maskKeys(s.Value), c.CloneBatch)
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

// normalizeWave scales x to zero mean and unit variance in place
// (torch.nn.functional.layer_norm over the crop, eps 1e-5, as fairseq's
// normalize).
func normalizeWave(x []float32) {
	var m, v float64
	for _, s := range x {
		m += float64(s)
	}
	m /= float64(len(x))
	for _, s := range x {
		v += (float64(s) - m) * (float64(s) - m)
	}
	inv := 1 / math.Sqrt(v/float64(len(x))+1e-5)
	for i, s := range x {
		x[i] = float32((float64(s) - m) * inv)
	}
}

// Pack concatenates docs and cuts rows rows of seqLen tokens from the
// result, starting over from the first document when they run out
// (fairseq's sample_break_mode none over one batch).
func Pack(docs [][]int32, rows, seqLen int) []int64 {
	out := make([]int64, 0, rows*seqLen)
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	if total == 0 {
		return nil
	}
	for len(out) < rows*seqLen {
		for _, d := range docs {
			for _, t := range d {
				if len(out) == rows*seqLen {
					return out
				}
				out = append(out, int64(t))
			}
		}
	}
	return out
}

func textBatches(ex *pipeline.Stream[data.Example], c *ModelConfig, batch int) *pipeline.Stream[any] {
	tc := c.Text
	bs := pipeline.Batches(ex, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, s pipeline.Sample[pipeline.Batch[data.Example]]) (any, error) {
		mk, err := NewMasker(tc.Mask, tc.SeqLen, 0, 0)
		if err != nil {
			return nil, err
		}
		docs := make([][]int32, len(s.Value.Samples))
		for i, x := range s.Value.Samples {
			docs[i] = x.Value.Tokens
			for _, t := range x.Value.Tokens {
				if t < 0 || int(t) >= tc.Vocab {
					return nil, fmt.Errorf("data2vec2: %s: token %d outside the vocabulary of %d", x.Value.Key, t, tc.Vocab)
				}
			}
		}
		n := len(docs)
		ids := Pack(docs, n, tc.SeqLen)
		if ids == nil {
			return nil, fmt.Errorf("data2vec2: batch %d of epoch %d has no tokens", s.Index, s.Epoch)
		}
		// Rows are not samples: key row i's masks by the batch's first
		// sample (its global index, unique across ranks) and i.
		first := s.Value.Samples[0]
		keys := make([]MaskKey, n)
		for i := range keys {
			keys[i] = MaskKey{Seed: first.Seed, Epoch: uint64(first.Epoch), Index: uint64(first.Index*n + i)}
		}
		return &Batch{B: n, Clones: c.CloneBatch, T: tc.SeqLen, IDs: ids, Mask: mk.Batch(keys, c.CloneBatch)}, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}
