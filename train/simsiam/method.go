package simsiam

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
		Name:          "simsiam",
		Summary:       "SimSiam: predict the stop-gradient projection of the other view (images; ResNet, ConvNet or ViT)",
		Modalities:    []string{data.Image},
		Defaults:      defaults,
		Presets:       presets,
		DefaultPreset: map[string]string{"": "default"},
		Validate:      validate,
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// trainer is SimSiam's train.Trainer: one network (backbone.*,
// projector.*, predictor.*) and its
// optimizer (sslkit.NetState: State, Load, Close, ReplicatedTensors; the
// network under "model.").
type trainer struct {
	sslkit.NetState
	cfg *train.Config
	m   *Model
	dev gotch.Device
}

// build makes the network of c on dev with the run's initial weights.
func build(c *train.Config, dev gotch.Device) (*Model, error) {
	return sslkit.NewNet(c.Seed, dev, model(c).Arch, func(p *nn.Params, bb nn.Backbone) (*Model, error) {
		return New(p, bb, config(c))
	})
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		return nil, err
	}
	m, err := build(c, env.Device)
	if err != nil {
		return nil, err
	}
	m.ClipGradNorm = c.Optim.ClipGradNorm
	m.BF16 = c.BF16 && env.Device.IsCuda()
	return &trainer{NetState: sslkit.NetState{Params: m.Params, Opt: opt, Prefix: "model."}, cfg: c, m: m, dev: env.Device}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return train.ViewBatches(ex, settings(t.cfg).Augment, batch, workers)
}

func (t *trainer) Step(_ context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	vs, err := sslkit.DeviceViews(batch.(*train.Views), t.dev)
	if err != nil {
		return train.StepResult{}, err
	}
	defer sslkit.FreeAll(vs)
	t.m.Reduce = s.Reduce
	predLR := s.LR
	if settings(t.cfg).FixPredictorLR {
		predLR = t.cfg.LR()
	}
	st, err := t.m.Step(t.Opt, vs, s.LR, predLR)
	if err != nil {
		return train.StepResult{}, err
	}
	return train.StepResult{Loss: st.Loss, Skipped: st.Skipped, Metrics: map[string]float64{"z_std": st.ZStd, "grad_norm": st.GradNorm}}, nil
}

// Embedder is the current backbone (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &sslkit.Encoder{Backbone: t.m.Backbone, In: sslkit.InputOf(model(t.cfg).Arch, settings(t.cfg).Augment), Dev: t.dev, Method: "simsiam"}
}

// openEncoder is the run's backbone (eval, embed).
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	c := &run.Config
	return sslkit.OpenEncoder(run, o, sslkit.EncoderSpec{Method: "simsiam", Arch: model(c).Arch,
		In: sslkit.InputOf(model(c).Arch, settings(c).Augment), Networks: map[string]string{"student": "model."}, Default: "student"})
}
