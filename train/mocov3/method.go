package mocov3

import (
	"context"

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
		Name:          "mocov3",
		Summary:       "MoCo v3: contrast predicted queries with a momentum encoder's keys of the other view (images; ViT, ResNet or ConvNet)",
		Modalities:    []string{data.Image},
		Defaults:      defaults,
		Presets:       presets,
		DefaultPreset: map[string]string{"": "default"},
		Validate:      validate,
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// trainer is MoCo v3's train.Trainer: the query (base) encoder with its
// predictor and optimizer, and the momentum encoder (sslkit.NetState:
// State, Load, Close, ReplicatedTensors; the encoders under "base." and
// "momentum.").
type trainer struct {
	sslkit.NetState
	cfg  *train.Config
	m    *Model
	dev  gotch.Device
	rank int
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		return nil, err
	}
	arch := model(c).Arch
	bb := func(p *nn.Params, momentum bool) (nn.Backbone, error) {
		return nn.NewBackbone(p, sslkit.BackbonePrefix, arch)
	}
	m, err := func() (m *Model, err error) {
		defer op.LockThread()()
		defer op.Catch(&err)
		return New(bb, config(c), c.Seed, env.Device)
	}()
	if err != nil {
		return nil, err
	}
	m.ClipGradNorm = c.Optim.ClipGradNorm
	m.BF16 = c.BF16 && env.Device.IsCuda()
	st := sslkit.NetState{Params: m.Base, Opt: opt, Prefix: "base.", Teacher: m.Momentum, TeacherPrefix: "momentum."}
	return &trainer{NetState: st, cfg: c, m: m, dev: env.Device, rank: env.Rank}, nil
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
	t.m.Reduce, t.m.Gather = s.Reduce, sslkit.Gather(s.AllGather, t.rank)
	mom := settings(t.cfg).Momentum.At(s.Step, s.Total)
	st, err := t.m.Step(t.Opt, vs, s.LR, mom)
	if err != nil {
		return train.StepResult{}, err
	}
	return train.StepResult{Loss: st.Loss, Skipped: st.Skipped,
		Metrics: map[string]float64{"acc": st.Acc, "grad_norm": st.GradNorm, "momentum": mom}}, nil
}

// Embedder is the current query encoder's backbone (the online monitor's
// view).
func (t *trainer) Embedder() train.Embedder {
	return &sslkit.Encoder{Backbone: t.m.BaseBackbone, In: sslkit.InputOf(model(t.cfg).Arch, settings(t.cfg).Augment), Dev: t.dev, Method: "mocov3"}
}

// openEncoder is the run's query-encoder backbone (what MoCo v3's
// main_lincls.py evaluates), or the momentum encoder's with network
// "teacher".
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	c := &run.Config
	return sslkit.OpenEncoder(run, o, sslkit.EncoderSpec{Method: "mocov3", Arch: model(c).Arch,
		In: sslkit.InputOf(model(c).Arch, settings(c).Augment), Networks: map[string]string{"student": "base.", "teacher": "momentum."}, Default: "student"})
}
