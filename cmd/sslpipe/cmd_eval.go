//go:build cgo

package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sslpipe/sslpipe/train"
)

// The libtorch half of `sslpipe eval`: embeds the probe sets with the run's
// trained encoder and with the same architecture randomly initialized,
// through the run's method's registration.

func init() {
	register(&command{Name: "eval", Summary: "probe any run's encoder (kNN, linear) on labelled data against random init and a baseline", Run: runEvalCmd})
	encoderFeatures = trainEncoderFeatures
}

// openRun reads a run folder's config and its method.
func openRun(dir string) (*train.Method, *train.RunInfo, error) {
	train.TuneAllocator()
	cfg, err := train.LoadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return nil, nil, err
	}
	m, err := train.Lookup(cfg.Method)
	if err != nil {
		return nil, nil, err
	}
	if m.Encoder == nil {
		return nil, nil, fmt.Errorf("method %s has no encoder to probe", m.Name)
	}
	return m, &train.RunInfo{Dir: dir, Config: cfg}, nil
}

func trainEncoderFeatures(ctx context.Context, env *cmdEnv, o *evalOptions, trainSet, testSet *labelledSet) ([]featureSet, runInfo, error) {
	m, run, err := openRun(o.Run)
	if err != nil {
		return nil, runInfo{}, fmt.Errorf("eval: %w", err)
	}
	info := runInfo{Method: m.Name, Device: run.Config.Device}
	eo := train.EncoderOptions{Network: o.Network, Device: o.Device, Batch: o.Batch, Layer: o.Layer}
	enc, err := m.Encoder(run, eo)
	if err != nil {
		return nil, info, trainUsage(fmt.Errorf("eval: %w", err))
	}
	defer enc.Close()
	label := "trained"
	if o.Network != "" {
		label = fmt.Sprintf("trained (%s)", o.Network)
	}
	fs, err := encoderSet(ctx, env, o, enc, "trained", label, trainSet, testSet)
	if err != nil {
		return nil, info, err
	}
	sets := []featureSet{fs}
	if !o.NoRandom {
		eo.Random = true
		for i := range max(o.RandomSeeds, 1) {
			// The run's architecture with its seed, or with the seeds
			// after it (--random-seeds).
			r := *run
			r.Config.Seed = run.Config.Seed + uint64(i)
			fs, err := randomSet(ctx, env, o, m, &r, eo, trainSet, testSet)
			if err != nil {
				return nil, info, err
			}
			if o.RandomSeeds > 1 {
				seed := r.Config.Seed
				fs.InitSeed = &seed
			}
			sets = append(sets, fs)
		}
	}
	return sets, info, nil
}

// randomSet embeds the probe sets with run's architecture randomly
// initialized from run.Config.Seed.
func randomSet(ctx context.Context, env *cmdEnv, o *evalOptions, m *train.Method, run *train.RunInfo, eo train.EncoderOptions, trainSet, testSet *labelledSet) (featureSet, error) {
	rnd, err := m.Encoder(run, eo)
	if err != nil {
		return featureSet{}, fmt.Errorf("eval: %w", err)
	}
	defer rnd.Close()
	return encoderSet(ctx, env, o, rnd, "random_init", "random init", trainSet, testSet)
}

func encoderSet(ctx context.Context, env *cmdEnv, o *evalOptions, enc train.Embedder, name, label string, trainSet, testSet *labelledSet) (featureSet, error) {
	t0 := time.Now()
	o.progress(env, "embedding with the %s encoder (%d-d)", label, enc.Dim())
	tr, err := train.EmbedAll(enc, trainSet.Examples, o.Batch)
	if err != nil {
		return featureSet{}, fmt.Errorf("eval: %s: %w", trainSet.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return featureSet{}, err
	}
	te, err := train.EmbedAll(enc, testSet.Examples, o.Batch)
	if err != nil {
		return featureSet{}, fmt.Errorf("eval: %s: %w", testSet.Name, err)
	}
	return featureSet{Name: name, Label: label, Train: tr, Test: te, Seconds: time.Since(t0).Seconds()}, nil
}
