package colorization

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"

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
		Name:          "colorization",
		Summary:       "colorful colorization: predict each pixel's quantized ab colour from the lightness, class-rebalanced (colour images; ResNet, ConvNet or ViT)",
		Modalities:    []string{data.Image},
		Defaults:      defaults,
		Presets:       presets,
		DefaultPreset: map[string]string{"": "default"},
		Validate:      validate,
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// trainer is the method's train.Trainer.
type trainer struct {
	cfg  *train.Config
	bins *augment.ABBins
	w    *Weights
	n    *net
	opt  *nn.Optimizer
	dev  gotch.Device
	bf16 bool
}

// newTrainer runs the rebalancing pass (written to, or checked against,
// RUN/colorization.json) and builds the network.
func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	s := settings(c)
	bins, err := binsFor(s)
	if err != nil {
		return nil, err
	}
	w, err := runWeights(context.Background(), env.Data, c, env.Rank == 0)
	if err != nil {
		return nil, err
	}
	if w.UsedBins() <= 1 {
		env.Logf("colorization: warning: every pixel of the %d images of the rebalancing pass falls in one ab bin (gray data?): the colour targets carry no information", w.Images)
	} else {
		env.Logf("colorization: %d of %d ab bins seen in %d images (rebalancing weights in %s)", w.UsedBins(), bins.Len(), w.Images, filepath.Join(c.Out, WeightsFile))
	}
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		return nil, err
	}
	n, err := newNet(model(c), s.Size/s.Downsample, bins.Len(), c.Seed, env.Device)
	if err != nil {
		return nil, err
	}
	return &trainer{cfg: c, bins: bins, w: w, n: n, opt: opt, dev: env.Device, bf16: c.BF16 && env.Device.IsCuda()}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return batches(ex, settings(t.cfg), t.bins, t.w.Rebalancing.Weights, batch, workers)
}

func (t *trainer) Step(_ context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	b, err := toDevice(batch.(*Batch), t.dev)
	if err != nil {
		return train.StepResult{}, err
	}
	defer b.free()
	r, err := step(t.n, t.opt, t.bf16, settings(t.cfg).SkipNonFinite, b, s.LR, t.cfg.Optim.ClipGradNorm, s.Reduce)
	if err != nil {
		return train.StepResult{}, err
	}
	return train.StepResult{Loss: r.loss, Skipped: r.skipped,
		Metrics: map[string]float64{"ce": r.ce, "bin_acc": r.acc, "grad_norm": r.gradNorm}}, nil
}

// State: the network ("net.") and the optimizer state
// ("optim.<param>.<slot>").
func (t *trainer) State() (map[string]train.STensor, int64, error) {
	ts := map[string]train.STensor{}
	if err := t.n.p.Snapshot(ts, "net."); err != nil {
		return nil, 0, err
	}
	os, err := t.opt.State(t.n.p, "optim.")
	if err != nil {
		return nil, 0, err
	}
	maps.Copy(ts, os)
	return ts, t.opt.Steps(), nil
}

func (t *trainer) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := t.n.p.Load(path, ts, "net."); err != nil {
		return err
	}
	return t.opt.SetState(path, t.n.p, ts, "optim.", st.OptSteps)
}

func (t *trainer) Close() error {
	defer op.LockThread()()
	t.n.p.Free()
	t.opt.Free()
	return nil
}

// ReplicatedTensors are the network's tensors (rank 0's are broadcast at
// the start of a data-parallel run).
func (t *trainer) ReplicatedTensors() []op.Tensor { return nn.Tensors(t.n.p.List()) }

// Embedder is the current backbone (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &encoder{n: t.n, size: settings(t.cfg).Size, dev: t.dev, borrowed: true}
}

// isBackbone selects the backbone's tensors.
func isBackbone(q *nn.Param) bool { return strings.HasPrefix(q.Name, "backbone.") }

// openEncoder loads a run's backbone from its newest checkpoint or builds
// it with the run's initial weights (o.Random).
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	defer op.LockThread()()
	c := &run.Config
	if o.Network != "" && o.Network != "student" {
		return nil, fmt.Errorf("colorization: network %q: the method has one network (student)", o.Network)
	}
	dev, err := train.ParseDevice(orCPU(o.Device))
	if err != nil {
		return nil, err
	}
	s := settings(c)
	bins, err := binsFor(s)
	if err != nil {
		return nil, err
	}
	n, err := newNet(model(c), s.Size/s.Downsample, bins.Len(), c.Seed, dev)
	if err != nil {
		return nil, err
	}
	e := &encoder{n: n, size: s.Size, dev: dev, batch: o.Batch}
	if o.Random {
		return e, nil
	}
	path, err := train.LatestCheckpoint(run.Dir)
	if err == nil {
		var ts map[string]train.STensor
		if ts, _, err = train.ReadCheckpoint(path); err == nil {
			err = n.p.LoadOnly(path, ts, "net.", isBackbone)
		}
	}
	if err != nil {
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

// encoder maps images to the backbone features of their lightness (the
// whole image resized to the input size) in evaluation mode.
type encoder struct {
	n        *net
	size     int
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

func (e *encoder) Embed(ex []data.Example) ([][]float32, error) {
	if e.n == nil {
		return nil, fmt.Errorf("colorization: encoder is closed")
	}
	s := e.size
	x := make([]float32, len(ex)*s*s)
	for i := range ex {
		m := ex[i].Image
		if m == nil {
			return nil, fmt.Errorf("colorization: example %s has no image", ex[i].Key)
		}
		if m.W != s || m.H != s {
			r := &augment.Image{}
			augment.Resize(r, m, s, s, augment.Bilinear, nil)
			m = r
		}
		lightnessInput(x[i*s*s:(i+1)*s*s], m)
	}
	return nn.EmbedNCHW(e.n.bb, e.dev, x, [4]int{len(ex), 1, s, s}, e.batch)
}
