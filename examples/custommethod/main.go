// Command custommethod registers its own self-supervised method with
// sslpipe's trainer and trains it through the same loop as the built-in
// methods: run folder, metrics, checkpoints, exact resume, the online
// monitor, and `sslpipe eval`-style probing through its encoder.
//
// The method is a denoising autoencoder on images: the encoder (a small
// MLP) maps an image with Gaussian noise to a code, the decoder maps the
// code back, and the loss is the squared error against the clean image.
//
//	go run ./examples/custommethod -out /tmp/dae -steps 40
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Model is the method's model block: image side and code size.
type Model struct {
	Size   int   `yaml:"size"`
	Hidden int64 `yaml:"hidden"`
	Code   int64 `yaml:"code"`
}

// Settings is the method's own block.
type Settings struct {
	Noise float64 `yaml:"noise"` // std of the input noise, in normalized units
}

func defaults() train.Config {
	return train.Config{
		Seed: 1, Device: "cpu", Threads: 1,
		Data:       train.DataConfig{Spec: "fashion-mnist:train", Modality: data.Image, Batch: 64, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model:      &Model{Size: 28, Hidden: 256, Code: 32},
		Optim:      train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		Schedule:   train.ScheduleConfig{Steps: 500, WarmupSteps: 20, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 100, Keep: 2},
		Log:        train.LogConfig{Every: 10},
		Monitor:    train.MonitorConfig{Train: "fashion-mnist:train", Test: "fashion-mnist:test", NTrain: 2000, NTest: 500, K: 20, T: 0.1},
		Settings:   &Settings{Noise: 0.5},
	}
}

func init() {
	train.Register(&train.Method{
		Name:          "dae",
		Summary:       "denoising autoencoder (an example method registered from outside sslpipe)",
		Modalities:    []string{data.Image},
		Defaults:      defaults,
		Presets:       []train.Preset{{Name: "smoke", Summary: "tiny", Source: "this example", Apply: func(c *train.Config) { c.Model.(*Model).Hidden = 64 }}},
		DefaultPreset: map[string]string{"": "smoke"},
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// net is encoder + decoder.
type net struct {
	p                      *nn.Params
	enc1, enc2, dec1, dec2 *nn.Linear
	in                     int64
}

func newNet(m *Model, seed uint64, dev gotch.Device) (n *net, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	in := int64(m.Size * m.Size)
	p := nn.NewParams(seed, dev)
	return &net{p: p, in: in,
		enc1: nn.NewLinear(p, "enc.0", in, m.Hidden), enc2: nn.NewLinear(p, "enc.2", m.Hidden, m.Code),
		dec1: nn.NewLinear(p, "dec.0", m.Code, m.Hidden), dec2: nn.NewLinear(p, "dec.2", m.Hidden, in)}, nil
}

func (n *net) encode(tp *op.Tape, x op.Tensor) op.Tensor {
	return n.enc2.Forward(tp, tp.Relu(n.enc1.Forward(tp, x)))
}

// batch is what the pipeline hands to Step: clean and noisy images.
type batch struct {
	clean, noisy []float32
	n            int
}

type trainer struct {
	cfg *train.Config
	n   *net
	opt *nn.Optimizer
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	n, err := newNet(env.Config.Model.(*Model), env.Config.Seed, env.Device)
	if err != nil {
		return nil, err
	}
	opt, err := nn.NewOptimizer(env.Config.Optim)
	if err != nil {
		return nil, err
	}
	return &trainer{cfg: env.Config, n: n, opt: opt}, nil
}

// pixels converts an example to gray size x size values in [-1, 1].
func pixels(img *augment.Image, size int) ([]float32, error) {
	x, _, err := train.ImageInput([]*augment.Image{img}, 1, size, augment.Normalize{Mean: []float64{0.5}, Std: []float64{0.5}})
	return x, err
}

// Batches: per sample, the clean pixels and a noisy copy whose noise is
// drawn from the sample's own random stream (so batches do not depend on
// workers or resume); then batches of batch samples.
func (t *trainer) Batches(ex *pipeline.Stream[data.Example], size, workers int) *pipeline.Stream[any] {
	m, s := t.cfg.Model.(*Model), t.cfg.Settings.(*Settings)
	pairs := pipeline.Map(ex, func(_ context.Context, smp pipeline.Sample[data.Example]) ([2][]float32, error) {
		clean, err := pixels(smp.Value.Image, m.Size)
		if err != nil {
			return [2][]float32{}, err
		}
		rng := smp.Rand(0)
		noisy := make([]float32, len(clean))
		for i, v := range clean {
			noisy[i] = v + float32(s.Noise*rng.NormFloat64())
		}
		return [2][]float32{clean, noisy}, nil
	}, pipeline.MapOptions{Name: "noise", Workers: workers})
	bs := pipeline.Batches(pairs, pipeline.BatchOptions{Size: size, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, smp pipeline.Sample[pipeline.Batch[[2][]float32]]) (any, error) {
		b := &batch{n: len(smp.Value.Samples)}
		for _, x := range smp.Value.Samples {
			b.clean = append(b.clean, x.Value[0]...)
			b.noisy = append(b.noisy, x.Value[1]...)
		}
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

func (t *trainer) Step(_ context.Context, bv any, s train.StepInfo) (res train.StepResult, err error) {
	defer op.Catch(&err)
	b := bv.(*batch)
	var tp op.Tape
	defer tp.Drop()
	dev := t.n.p.Device()
	clean := tp.Float32(b.clean, dev, int64(b.n), t.n.in)
	noisy := tp.Float32(b.noisy, dev, int64(b.n), t.n.in)
	rec := t.n.dec2.Forward(&tp, tp.Relu(t.n.dec1.Forward(&tp, t.n.encode(&tp, noisy))))
	d := tp.Sub(rec, clean)
	loss := tp.Mean(tp.Mul(d, d))
	params := t.n.p.Trainable()
	grads, norm, vals, ok := nn.Backward(&tp, params, loss, loss)
	if s.Reduce != nil {
		if err := s.Reduce(grads); err != nil {
			return res, err
		}
	}
	if !ok {
		return train.StepResult{Loss: vals[0], Skipped: true}, nil
	}
	restore := op.NoGrad()
	t.opt.Step(&tp, params, grads, s.LR)
	restore()
	return train.StepResult{Loss: vals[0], Metrics: map[string]float64{"grad_norm": norm}}, nil
}

func (t *trainer) State() (map[string]train.STensor, int64, error) {
	ts, err := t.n.p.Tensors("")
	if err != nil {
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
	if err := t.n.p.Load(path, ts, ""); err != nil {
		return err
	}
	return t.opt.SetState(path, t.n.p, ts, "optim.", st.OptSteps)
}

func (t *trainer) Close() error {
	t.n.p.Free()
	t.opt.Free()
	return nil
}

// Embedder makes the online kNN monitor work for this method too.
func (t *trainer) Embedder() train.Embedder {
	return &encoder{n: t.n, size: t.cfg.Model.(*Model).Size, borrowed: true}
}

// encoder embeds images with the code layer.
type encoder struct {
	n        *net
	size     int
	borrowed bool
}

func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	m := run.Config.Model.(*Model)
	n, err := newNet(m, run.Config.Seed, gotch.CPU)
	if err != nil {
		return nil, err
	}
	if !o.Random {
		path, err := train.LatestCheckpoint(run.Dir)
		if err != nil {
			return nil, err
		}
		ts, _, err := train.ReadCheckpoint(path)
		if err != nil {
			return nil, err
		}
		if err := n.p.Load(path, ts, ""); err != nil {
			return nil, err
		}
	}
	return &encoder{n: n, size: m.Size}, nil
}

func (e *encoder) Dim() int { return int(op.Shape(e.n.enc2.W)[0]) }

func (e *encoder) Close() error {
	if !e.borrowed {
		e.n.p.Free()
	}
	return nil
}

func (e *encoder) Embed(ex []data.Example) (out [][]float32, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	var tp op.Tape
	defer tp.Drop()
	var x []float32
	for _, s := range ex {
		p, err := pixels(s.Image, e.size)
		if err != nil {
			return nil, err
		}
		x = append(x, p...)
	}
	f := op.ToFloat32(e.n.encode(&tp, tp.Float32(x, e.n.p.Device(), int64(len(ex)), e.n.in)))
	d := e.Dim()
	for i := range ex {
		out = append(out, f[i*d:(i+1)*d])
	}
	return out, nil
}

// run trains the method for steps steps into out, then once more after a
// resume to twice as many, and probes the encoder against random init.
func run(ctx context.Context, out string, steps int64) error {
	cfg, err := train.PresetConfig("dae", "smoke")
	if err != nil {
		return err
	}
	cfg.Out = out
	cfg.Schedule.Steps = 2 * steps
	cfg.Checkpoint.Every = steps
	if _, err := train.Run(ctx, cfg, train.RunOptions{StopAfter: steps, Progress: os.Stderr}); err != nil {
		return err
	}
	res, err := train.Run(ctx, cfg, train.RunOptions{Resume: true, Progress: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Printf("trained %d steps (resumed at %d), final loss %.4f\n", res.Steps, res.Start, res.FinalLoss)
	m, _ := train.Lookup("dae")
	info := &train.RunInfo{Dir: out, Config: cfg}
	trained, err := m.Encoder(info, train.EncoderOptions{})
	if err != nil {
		return err
	}
	defer trained.Close()
	random, err := m.Encoder(info, train.EncoderOptions{Random: true})
	if err != nil {
		return err
	}
	defer random.Close()
	ds, err := data.Open("fashion-mnist:test", data.Options{})
	if err != nil {
		return err
	}
	defer ds.Close()
	ex, err := ds.Collect(ctx, 1000)
	if err != nil {
		return err
	}
	y := make([]int, len(ex))
	for i := range ex {
		y[i] = ex[i].Class
	}
	for _, e := range []struct {
		name string
		e    train.Embedder
	}{{"trained", trained}, {"random init", random}} {
		acc, err := train.KNNTop1(e.e, ex[:800], ex[800:], y[:800], y[800:], 20, 0.1)
		if err != nil {
			return err
		}
		fmt.Printf("%s encoder: kNN top-1 %.1f%% (800 / 200 Fashion-MNIST test images)\n", e.name, 100*acc)
	}
	return nil
}

func main() {
	out := flag.String("out", "runs/example-dae", "run folder")
	steps := flag.Int64("steps", 100, "steps before the resume (the run trains twice as many)")
	flag.Parse()
	if err := run(context.Background(), *out, *steps); err != nil {
		log.Fatal(err)
	}
}
