package inpainting

import (
	"context"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

func init() {
	train.Register(&train.Method{
		Name:          "inpainting",
		Summary:       "context encoder: reconstruct the masked pixels of an image from its encoding (images; ResNet, ConvNet or ViT encoder)",
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
	cfg  *train.Config
	n    *net
	dev  gotch.Device
	bf16 bool
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		return nil, err
	}
	n, err := newNet(model(c), settings(c).Input.Channels, c.Seed, env.Device)
	if err != nil {
		return nil, err
	}
	return &trainer{NetState: sslkit.NetState{Params: n.p, Opt: opt}, cfg: c, n: n, dev: env.Device, bf16: c.BF16 && env.Device.IsCuda()}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return batches(ex, settings(t.cfg), batch, workers)
}

func (t *trainer) Step(_ context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	b, err := toDevice(batch.(*Batch), t.dev)
	if err != nil {
		return train.StepResult{}, err
	}
	defer b.free()
	r, err := step(t.n, t.Opt, t.bf16, settings(t.cfg).SkipNonFinite, b, s.LR, t.cfg.Optim.ClipGradNorm, s.Reduce)
	if err != nil {
		return train.StepResult{}, err
	}
	return train.StepResult{Loss: r.loss, Skipped: r.skipped,
		Metrics: map[string]float64{"masked_frac": r.maskFrac, "grad_norm": r.gradNorm}}, nil
}

// Embedder is the current backbone (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &sslkit.Encoder{Backbone: t.n.bb, In: settings(t.cfg).Input, Dev: t.dev, Method: "inpainting"}
}

// openEncoder loads a run's backbone from its newest checkpoint or builds
// it with the run's initial weights (o.Random).
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	c := &run.Config
	return sslkit.OpenEncoder(run, o, sslkit.EncoderSpec{Method: "inpainting", Arch: model(c).Arch, In: settings(c).Input,
		Networks: map[string]string{"student": sslkit.NetPrefix}, Default: "student"})
}
