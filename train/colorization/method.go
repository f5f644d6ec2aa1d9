package colorization

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
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

// trainer is the method's train.Trainer: the network and its optimizer
// (sslkit.NetState: State, Load, Close, ReplicatedTensors).
type trainer struct {
	sslkit.NetState
	cfg  *train.Config
	bins *augment.ABBins
	w    *Weights
	n    *net
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
	return &trainer{NetState: sslkit.NetState{Params: n.p, Opt: opt}, cfg: c, bins: bins, w: w, n: n, dev: env.Device, bf16: c.BF16 && env.Device.IsCuda()}, nil
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
	r, err := step(t.n, t.Opt, t.bf16, settings(t.cfg).SkipNonFinite, b, s.LR, t.cfg.Optim.ClipGradNorm, s.Reduce)
	if err != nil {
		return train.StepResult{}, err
	}
	return train.StepResult{Loss: r.loss, Skipped: r.skipped,
		Metrics: map[string]float64{"ce": r.ce, "bin_acc": r.acc, "grad_norm": r.gradNorm}}, nil
}

// Embedder is the current backbone (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &sslkit.Encoder{Backbone: t.n.bb, MakeInput: lightnessBatch(settings(t.cfg).Size), Dev: t.dev, Method: "colorization"}
}

// openEncoder loads a run's backbone from its newest checkpoint or builds
// it with the run's initial weights (o.Random).
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	c := &run.Config
	return sslkit.OpenEncoder(run, o, sslkit.EncoderSpec{Method: "colorization", Arch: model(c).Arch, MakeInput: lightnessBatch(settings(c).Size),
		Networks: map[string]string{"student": sslkit.NetPrefix}, Default: "student"})
}

// lightnessBatch makes the encoder's input: the lightness of whole
// images resized bilinearly to s x s (N x 1 x s x s).
func lightnessBatch(s int) func([]data.Example) ([]float32, [4]int, error) {
	return func(ex []data.Example) ([]float32, [4]int, error) {
		x := make([]float32, len(ex)*s*s)
		for i := range ex {
			m := ex[i].Image
			if m == nil {
				return nil, [4]int{}, fmt.Errorf("colorization: example %s has no image", ex[i].Key)
			}
			if m.W != s || m.H != s {
				r := &augment.Image{}
				augment.Resize(r, m, s, s, augment.Bilinear, nil)
				m = r
			}
			lightnessInput(x[i*s*s:(i+1)*s*s], m)
		}
		return x, [4]int{len(ex), 1, s, s}, nil
	}
}
