//go:build cgo

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/train"
)

// The libtorch half of `sslpipe eval`: embeds the probe sets with the run's
// trained encoder and with the same architecture randomly initialized.

func init() {
	register(&command{Name: "eval", Summary: "probe a run's encoder (kNN, linear) against random init and raw pixels", Run: runEvalCmd})
	encoderFeatures = trainEncoderFeatures
}

func trainEncoderFeatures(ctx context.Context, env *cmdEnv, o *evalOptions, trainSet, testSet *datasets.Set) ([]featureSet, runInfo, error) {
	eo := train.EncoderOptions{Network: o.Network, Device: o.Device, Batch: o.Batch}
	enc, err := train.OpenEncoder(o.Run, eo)
	if err != nil {
		return nil, runInfo{}, fmt.Errorf("eval: %w", err)
	}
	defer enc.Close()
	in := enc.Input()
	info := runInfo{Method: enc.Config.Method, Device: enc.Config.Device, Channels: in.Channels, Size: in.Size}
	var sets []featureSet
	fs, err := encoderSet(ctx, env, o, enc, "trained", fmt.Sprintf("trained (%s)", o.Network), trainSet, testSet)
	if err != nil {
		return nil, info, err
	}
	sets = append(sets, fs)
	if !o.NoRandom {
		rnd, err := train.RandomEncoder(o.Run, eo)
		if err != nil {
			return nil, info, fmt.Errorf("eval: %w", err)
		}
		defer rnd.Close()
		fs, err := encoderSet(ctx, env, o, rnd, "random_init", "random init", trainSet, testSet)
		if err != nil {
			return nil, info, err
		}
		sets = append(sets, fs)
	}
	return sets, info, nil
}

func encoderSet(ctx context.Context, env *cmdEnv, o *evalOptions, enc *train.Encoder, name, label string, trainSet, testSet *datasets.Set) (featureSet, error) {
	t0 := time.Now()
	o.progress(env, "embedding with the %s encoder (%d-d)", label, enc.Dim())
	tr, err := embedSet(ctx, enc, trainSet, o.Workers)
	if err != nil {
		return featureSet{}, err
	}
	te, err := embedSet(ctx, enc, testSet, o.Workers)
	if err != nil {
		return featureSet{}, err
	}
	return featureSet{Name: name, Label: label, Train: tr, Test: te, Seconds: time.Since(t0).Seconds()}, nil
}

// embedChunk bounds the images converted to float32 at once.
const embedChunk = 2048

// embedSet embeds every example of s: in-memory images as they are (the
// encoder resizes and converts channels), image files decoded and resized
// to the encoder's input.
func embedSet(ctx context.Context, enc *train.Encoder, s *datasets.Set, workers int) (*eval.Matrix, error) {
	in := enc.Input()
	g := s.Images
	if g == nil {
		var err error
		if g, err = datasets.LoadImages(s, in.Size, in.Channels, workers); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
	}
	d := enc.Dim()
	out := eval.NewMatrix(g.N, d)
	for lo := 0; lo < g.N; lo += embedChunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+embedChunk, g.N)
		imgs := make([]*augment.Image, hi-lo)
		for i := range imgs {
			imgs[i] = &augment.Image{W: g.W, H: g.H, C: g.C, Pix: g.Image(lo + i)}
		}
		f, err := enc.EmbedImages(imgs)
		if err != nil {
			return nil, fmt.Errorf("eval: %s: %w", s.Name, err)
		}
		if len(f) != len(imgs)*d {
			return nil, fmt.Errorf("eval: encoder returned %d values for %d images of %d dims", len(f), len(imgs), d)
		}
		copy(out.Data[lo*d:], f)
	}
	return out, nil
}
