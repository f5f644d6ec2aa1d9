package jigsaw

import (
	"context"
	"path/filepath"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func init() {
	train.Register(&train.Method{
		Name:          "jigsaw",
		Summary:       "jigsaw puzzles: classify the permutation of shuffled tiles, each through a shared backbone (images; ResNet, ConvNet or ViT)",
		Modalities:    []string{data.Image},
		Defaults:      defaults,
		Presets:       presets,
		DefaultPreset: map[string]string{"": "default"},
		Validate:      validate,
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// trainer is the method's train.Trainer: the network and its optimizer
// (sslkit.NetState: State, Load, Close, ReplicatedTensors).
type trainer struct {
	sslkit.NetState
	cfg   *train.Config
	perms *augment.PermutationSet
	n     *net
	dev   gotch.Device
	bf16  bool
}

// newTrainer builds the permutation set (written to, or checked against,
// RUN/permutations.json) and the network.
func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	perms, err := runPermutations(c, c.Out, env.Rank == 0)
	if err != nil {
		return nil, err
	}
	env.Logf("jigsaw: %d permutations of %d tiles, minimal Hamming distance %d, mean %.2f (%s)",
		perms.Len(), perms.Size, perms.MinHamming, perms.MeanDist, filepath.Join(c.Out, PermutationsFile))
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		return nil, err
	}
	n, err := newNet(model(c), perms.Size, perms.Len(), c.Seed, env.Device)
	if err != nil {
		return nil, err
	}
	return &trainer{NetState: sslkit.NetState{Params: n.p, Opt: opt}, cfg: c, perms: perms, n: n, dev: env.Device, bf16: c.BF16 && env.Device.IsCuda()}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return batches(ex, settings(t.cfg), t.perms, batch, workers)
}

func (t *trainer) Step(_ context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	b := batch.(*Batch)
	x, y, err := toDevice(b, t.dev)
	if err != nil {
		return train.StepResult{}, err
	}
	defer op.Free(x)
	defer op.Free(y)
	r, err := step(t.n, t.Opt, t.bf16, settings(t.cfg).SkipNonFinite, x, y, s.LR, t.cfg.Optim.ClipGradNorm, s.Reduce)
	if err != nil {
		return train.StepResult{}, err
	}
	return train.StepResult{Loss: r.loss, Skipped: r.skipped,
		Metrics: map[string]float64{"jigsaw_acc": r.acc, "grad_norm": r.gradNorm}}, nil
}

// Embedder is the current backbone (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &sslkit.Encoder{Backbone: t.n.bb, In: settings(t.cfg).Input, Dev: t.dev, Method: "jigsaw"}
}

// openEncoder loads a run's backbone from its newest checkpoint or builds
// it with the run's initial weights (o.Random).
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	c := &run.Config
	return sslkit.OpenEncoder(run, o, sslkit.EncoderSpec{Method: "jigsaw", Arch: model(c).Arch, In: settings(c).Input,
		Networks: map[string]string{"student": sslkit.NetPrefix}, Default: "student"})
}
