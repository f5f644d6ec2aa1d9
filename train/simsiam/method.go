package simsiam

import (
	"context"
	"maps"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
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
// projector.*, predictor.*) and its optimizer.
type trainer struct {
	cfg *train.Config
	m   *Model
	opt *nn.Optimizer
	dev gotch.Device
}

// build makes the network of c on dev with the run's initial weights.
func build(c *train.Config, dev gotch.Device) (m *Model, err error) {
	defer op.LockThread()()
	p := sslkit.NewParams(c.Seed, dev)
	defer func() {
		if err != nil {
			p.Free()
		}
	}()
	bb, err := func() (bb nn.Backbone, err error) {
		defer op.Catch(&err)
		return nn.NewBackbone(p, sslkit.BackbonePrefix, model(c).Arch)
	}()
	if err != nil {
		return nil, err
	}
	return New(p, bb, config(c))
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
	return &trainer{cfg: c, m: m, opt: opt, dev: env.Device}, nil
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
	st, err := t.m.Step(t.opt, vs, s.LR, predLR)
	if err != nil {
		return train.StepResult{}, err
	}
	return train.StepResult{Loss: st.Loss, Skipped: st.Skipped, Metrics: map[string]float64{"z_std": st.ZStd, "grad_norm": st.GradNorm}}, nil
}

// State: the network ("model.") and the optimizer state ("optim.").
func (t *trainer) State() (map[string]train.STensor, int64, error) {
	ts := map[string]train.STensor{}
	if err := t.m.Params.Snapshot(ts, "model."); err != nil {
		return nil, 0, err
	}
	os, err := t.opt.State(t.m.Params, "optim.")
	if err != nil {
		return nil, 0, err
	}
	maps.Copy(ts, os)
	return ts, t.opt.Steps(), nil
}

func (t *trainer) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := t.m.Params.Load(path, ts, "model."); err != nil {
		return err
	}
	return t.opt.SetState(path, t.m.Params, ts, "optim.", st.OptSteps)
}

func (t *trainer) Close() error {
	defer op.LockThread()()
	t.m.Params.Free()
	t.opt.Free()
	return nil
}

// ReplicatedTensors are the network's tensors (rank 0's are broadcast at
// the start of a data-parallel run).
func (t *trainer) ReplicatedTensors() []op.Tensor { return nn.Tensors(t.m.Params.List()) }

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
