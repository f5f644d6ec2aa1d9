package byol

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func init() {
	train.Register(&train.Method{
		Name:          "byol",
		Summary:       "BYOL: predict an EMA target's projection of another view (images; ResNet or ConvNet)",
		Modalities:    []string{data.Image},
		Defaults:      defaults,
		Presets:       presets,
		DefaultPreset: map[string]string{"": "default"},
		Validate:      validate,
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// trainer is BYOL's train.Trainer.
type trainer struct {
	cfg     *train.Config
	m       *byol
	lastTau float64
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	s := settings(c)
	b, err := newBYOL(model(c), c.Optim, c.Seed, env.Device, c.BF16, s.SkipNonFinite)
	if err != nil {
		return nil, err
	}
	return &trainer{cfg: c, m: b}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return train.ViewBatches(ex, settings(t.cfg).Augment, batch, workers)
}

func (t *trainer) Step(_ context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	b := batch.(*train.Views)
	v1, err := t.m.toDevice(b.Views[0], b.Shape[0])
	if err != nil {
		return train.StepResult{}, err
	}
	defer op.Free(v1)
	v2, err := t.m.toDevice(b.Views[1], b.Shape[1])
	if err != nil {
		return train.StepResult{}, err
	}
	defer op.Free(v2)
	tau := settings(t.cfg).Tau.At(s.Step, s.Total)
	logNow := t.cfg.Log.Every > 0 && (s.Step+1)%t.cfg.Log.Every == 0
	r, err := t.m.step(v1, v2, s.LR, tau, t.cfg.Optim.ClipGradNorm, s.Reduce, logNow)
	if err != nil {
		return train.StepResult{}, err
	}
	t.lastTau = tau
	met := map[string]float64{"tau": tau, "grad_norm": r.gradNorm}
	if logNow {
		met["emb_std"] = EmbStd(r.feat, r.featDim)
	}
	return train.StepResult{Loss: r.loss, Skipped: r.skipped, Metrics: met}, nil
}

// State: the online network ("online."), the target ("target.") and the
// optimizer state ("optim.<param>.<slot>").
func (t *trainer) State() (map[string]train.STensor, int64, error) {
	ts := map[string]train.STensor{}
	if err := t.m.online.p.Snapshot(ts, "online."); err != nil {
		return nil, 0, err
	}
	if err := t.m.target.p.Snapshot(ts, "target."); err != nil {
		return nil, 0, err
	}
	os, err := t.m.opt.State(t.m.online.p, "optim.")
	if err != nil {
		return nil, 0, err
	}
	maps.Copy(ts, os)
	return ts, t.m.opt.Steps(), nil
}

func (t *trainer) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := t.m.online.p.Load(path, ts, "online."); err != nil {
		return err
	}
	if err := t.m.target.p.Load(path, ts, "target."); err != nil {
		return err
	}
	return t.m.opt.SetState(path, t.m.online.p, ts, "optim.", st.OptSteps)
}

func (t *trainer) Close() error {
	t.m.free()
	return nil
}

// Finish exports the teacher backbone for PyTorch.
func (t *trainer) Finish(dir string, steps int64, interrupted bool) error {
	return exportNet(t.m.target, t.cfg, "teacher", steps, filepath.Join(dir, "export", "backbone-teacher.safetensors"))
}

// ReplicatedTensors are every tensor of both networks (rank 0's are
// broadcast at the start of a data-parallel run).
func (t *trainer) ReplicatedTensors() []op.Tensor {
	return append(nn.Tensors(t.m.online.p.List()), nn.Tensors(t.m.target.p.List())...)
}

// SyncedBuffers are both networks' BatchNorm running statistics, which
// follow rank 0 in a data-parallel run (PyTorch DDP's broadcast_buffers).
func (t *trainer) SyncedBuffers() []op.Tensor {
	var out []op.Tensor
	for _, p := range []*nn.Params{t.m.online.p, t.m.target.p} {
		for _, q := range p.List() {
			if q.Buffer {
				out = append(out, q.T)
			}
		}
	}
	return out
}

// Embedder is the current target backbone (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &encoder{n: t.m.target, in: inputSpec(t.cfg), dev: t.m.dev, borrowed: true}
}

// inputSpec is what the encoder takes: the first view's size and
// normalization.
type input struct {
	channels, size int
	norm           augment.Normalize
}

func inputSpec(c *train.Config) input {
	in := input{channels: model(c).Arch.InChannels}
	if vs := settings(c).Augment.Views; len(vs) > 0 {
		in.size, in.norm = vs[0].Size, vs[0].Normalize
	}
	return in
}

// openEncoder loads a run's backbone (teacher by default) or builds it
// with the run's initial weights.
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	defer op.LockThread()()
	c := &run.Config
	dev, err := train.ParseDevice(orCPU(o.Device))
	if err != nil {
		return nil, err
	}
	n, err := newNet(model(c), false, c.Seed, dev)
	if err != nil {
		return nil, err
	}
	e := &encoder{n: n, in: inputSpec(c), dev: dev, batch: o.Batch}
	if o.Random {
		return e, nil
	}
	prefix := "target."
	switch o.Network {
	case "", "teacher":
	case "student":
		prefix = "online."
	default:
		n.p.Free()
		return nil, fmt.Errorf("byol: network %q: want teacher or student", o.Network)
	}
	path, err := train.LatestCheckpoint(run.Dir)
	if err != nil {
		n.p.Free()
		return nil, err
	}
	ts, _, err := train.ReadCheckpoint(path)
	if err != nil {
		n.p.Free()
		return nil, err
	}
	if err := n.p.LoadOnly(path, ts, prefix, isBackbone); err != nil {
		n.p.Free()
		return nil, err
	}
	return e, nil
}

func orCPU(d string) string {
	if d == "" {
		return "cpu"
	}
	return d
}

// encoder maps images to backbone features in evaluation mode.
type encoder struct {
	n        *net
	in       input
	dev      gotch.Device
	batch    int
	borrowed bool
}

func (e *encoder) Dim() int { return int(e.n.bb.Dim()) }

func (e *encoder) Close() error {
	if !e.borrowed && e.n != nil {
		defer op.LockThread()()
		e.n.p.Free()
		e.n = nil
	}
	return nil
}

func (e *encoder) Embed(ex []data.Example) (out [][]float32, err error) {
	if e.n == nil {
		return nil, fmt.Errorf("byol: encoder is closed")
	}
	imgs := make([]*augment.Image, len(ex))
	for i := range ex {
		imgs[i] = ex[i].Image
	}
	x, shape, err := train.ImageInput(imgs, e.in.channels, e.in.size, e.in.norm)
	if err != nil {
		return nil, err
	}
	return nn.EmbedNCHW(e.n.bb, e.dev, x, shape, e.batch)
}
