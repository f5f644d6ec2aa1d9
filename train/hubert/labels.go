package hubert

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/sslpipe/sslpipe/audio"
)

// LabelOptions configure MFCCLabels and LayerLabels.
type LabelOptions struct {
	K         int     // clusters (100 for MFCC, 500 for a model layer)
	Fraction  float64 // of the train frames the k-means is fitted on (HuBERT: ~0.1; 0 means 1)
	MaxFrames int     // cap on fitted frames (0: 200,000)
	Seed      uint64
	// KMeans, when set, is an existing codebook to assign with instead of
	// fitting one; its feature type must match.
	KMeans string
	// Progress receives a line per stage (nil: none).
	Progress func(format string, a ...any)
}

func (o *LabelOptions) defaults() {
	if o.Fraction <= 0 || o.Fraction > 1 {
		o.Fraction = 1
	}
	if o.MaxFrames <= 0 {
		o.MaxFrames = 200000
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
}

// MFCCFeatureType names iteration-1 features in codebooks and labels.json.
const MFCCFeatureType = "mfcc+deltas"

// MFCC computes HuBERT's iteration-1 features of a 16 kHz wave: 13 Kaldi
// MFCCs (torchaudio.compliance.kaldi.mfcc defaults, use_energy false) plus
// deltas and delta-deltas (window 2), 39 values per 10 ms frame.
func MFCC(ext *audio.Extractor, wave []float32) (audio.Matrix, error) {
	m, err := ext.Compute(audio.Matrix{}, wave, nil)
	if err != nil {
		return m, err
	}
	return audio.Deltas(audio.Matrix{}, m, 2, 2), nil
}

// featureFn computes one utterance's frame features.
type featureFn func(path string, wave []float32) (audio.Matrix, error)

// MFCCLabels fits k-means on the MFCC + delta features of the train split
// of the pretraining folder root and writes the labels of every split to
// the labels folder out (100 Hz labels; see WriteLabels).
func MFCCLabels(ctx context.Context, root, out string, o LabelOptions) (*LabelsMeta, error) {
	ext, err := audio.NewExtractor(audio.DefaultOptions(audio.MFCC))
	if err != nil {
		return nil, err
	}
	f := func(path string, w []float32) (audio.Matrix, error) {
		m, err := MFCC(ext, w)
		if err != nil {
			return m, fmt.Errorf("%w: %s: %v", ErrData, path, err)
		}
		return m, nil
	}
	return makeLabels(ctx, root, out, MFCCFeatureType, 100, f, o)
}

func makeLabels(ctx context.Context, root, out, ftype string, rate float64, feat featureFn, o LabelOptions) (*LabelsMeta, error) {
	o.defaults()
	start := time.Now()
	train, valid, err := Splits(root)
	if err != nil {
		return nil, err
	}
	rf := 400
	feats := map[string]map[string]audio.Matrix{"train": {}, "valid": {}}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6b6d))
	sampler := audio.NewFrameSampler(rng, o.Fraction, o.MaxFrames)
	var n int
	for _, split := range []struct {
		name  string
		files []string
	}{{"train", train}, {"valid", valid}} {
		for _, f := range split.files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p := filepath.Join(root, filepath.FromSlash(f))
			w, err := LoadWave(p, rf)
			if err != nil {
				return nil, err
			}
			m, err := feat(p, w)
			if err != nil {
				return nil, err
			}
			if m.Rows == 0 {
				return nil, fmt.Errorf("%w: %s: no feature frames", ErrData, p)
			}
			feats[split.name][f] = m
			if split.name == "train" {
				if err := sampler.Add(m); err != nil {
					return nil, fmt.Errorf("%w: %s: %v", ErrData, p, err)
				}
			}
			n++
		}
	}
	o.Progress("features of %d utterances (%s) in %.1f s", n, ftype, time.Since(start).Seconds())
	var km *audio.KMeans
	if o.KMeans != "" {
		if km, err = audio.LoadKMeans(o.KMeans); err != nil {
			return nil, err
		}
		if km.Meta.FeatureType != ftype {
			return nil, fmt.Errorf("%w: %s is a codebook for %q features, not %q", ErrData, o.KMeans, km.Meta.FeatureType, ftype)
		}
		if km.Meta.LabelRate != 0 && km.Meta.LabelRate != rate {
			return nil, fmt.Errorf("%w: %s was fitted on %g Hz features, these are %g Hz", ErrData, o.KMeans, km.Meta.LabelRate, rate)
		}
	} else {
		data := sampler.Frames()
		t0 := time.Now()
		km, err = audio.FitKMeans(rng, data, audio.KMeansConfig{K: o.K, NInit: 3, MaxEpochs: 30},
			audio.KMeansMeta{FeatureType: ftype, Dim: data.Cols, K: o.K, LabelRate: rate, Fraction: o.Fraction, Seed: o.Seed,
				SourceHash: audio.SourceHash(train)})
		if err != nil {
			return nil, err
		}
		o.Progress("k-means k=%d on %d frames x %d dims in %.1f s (inertia %.4g)", o.K, data.Rows, data.Cols, time.Since(t0).Seconds(), km.Meta.Inertia)
	}
	labels := map[string]map[string][]int32{}
	for split, ms := range feats {
		if len(ms) == 0 {
			continue
		}
		labels[split] = map[string][]int32{}
		for f, m := range ms {
			if m.Cols != km.Meta.Dim {
				return nil, fmt.Errorf("%w: %s: %d-dim features but the codebook has %d", ErrData, f, m.Cols, km.Meta.Dim)
			}
			l, err := km.Assign(m, nil)
			if err != nil {
				return nil, err
			}
			labels[split][f] = l
		}
	}
	meta := LabelsMeta{K: km.Meta.K, LabelRate: rate, FeatureType: ftype, Data: root, Inertia: km.Meta.Inertia}
	if err := WriteLabels(out, meta, km, labels); err != nil {
		return nil, err
	}
	m, err := ReadLabelsMeta(out)
	if err != nil {
		return nil, err
	}
	m.Seconds = time.Since(start).Seconds()
	return m, nil
}
