package simsiam

import (
	"fmt"
	"strings"

	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Config holds SimSiam's own hyperparameters.
type Config struct {
	ProjHidden int64 `yaml:"proj_hidden" json:"proj_hidden"` // projector hidden width (2048)
	ProjOut    int64 `yaml:"proj_out" json:"proj_out"`       // projection width (2048)
	PredHidden int64 `yaml:"pred_hidden" json:"pred_hidden"` // predictor bottleneck (512)
	// FixPredictorLR keeps the predictor at the base learning rate while
	// the rest follows the schedule (Step's predLR).
	FixPredictorLR bool `yaml:"fix_predictor_lr" json:"fix_predictor_lr"`
}

// DefaultConfig is solo-learn's CIFAR recipe with the paper's fixed
// predictor learning rate.
func DefaultConfig() Config {
	return Config{ProjHidden: 2048, ProjOut: 2048, PredHidden: 512, FixPredictorLR: true}
}

// Validate checks ranges.
func (c Config) Validate() error {
	if c.ProjHidden <= 0 || c.ProjOut <= 0 || c.PredHidden <= 0 {
		return fmt.Errorf("simsiam: proj_hidden %d, proj_out %d and pred_hidden %d must be > 0", c.ProjHidden, c.ProjOut, c.PredHidden)
	}
	return nil
}

// Model is the encoder (backbone and projector) and the predictor in one
// parameter set.
type Model struct {
	Params    *nn.Params
	Backbone  nn.Backbone
	Projector *sslkit.MLP
	Predictor *sslkit.MLP
	Cfg       Config
	// Reduce, when set, averages gradients across ranks between backward
	// and the update (train.StepInfo.Reduce).
	Reduce func(grads []op.Tensor) error
	// ClipGradNorm clips the global gradient norm (after averaging across
	// ranks) before the update, as torch.nn.utils.clip_grad_norm_ (0:
	// off).
	ClipGradNorm float64
	// BF16 runs matrix products and convolutions in bfloat16 (CUDA
	// autocast, op.Tape.BF16).
	BF16 bool
}

// New adds the projector (projector.0 Linear, .1 BatchNorm, .3, .4, .6,
// .7 BatchNorm without affine; linear layers without bias, as the paper's
// biases before BatchNorm have no effect) and the predictor (predictor.0
// Linear without bias, .1 BatchNorm, .3 Linear) to p, where the
// backbone's tensors already are.
func New(p *nn.Params, bb nn.Backbone, cfg Config) (m *Model, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	defer op.Catch(&err)
	m = &Model{Params: p, Backbone: bb, Cfg: cfg}
	m.Projector = sslkit.NewMLP(p, "projector", sslkit.MLPSpec{
		Dims: []int64{bb.Dim(), cfg.ProjHidden, cfg.ProjHidden, cfg.ProjOut}, BN: true, LastBN: true})
	m.Predictor = sslkit.NewMLP(p, "predictor", sslkit.MLPSpec{
		Dims: []int64{cfg.ProjOut, cfg.PredHidden, cfg.ProjOut}, BN: true, LastBias: true})
	return m, nil
}

// IsPredictor reports whether a parameter belongs to the predictor.
func IsPredictor(name string) bool { return strings.HasPrefix(name, "predictor.") }

// Loss is the symmetric negative cosine similarity
// -cos(p1, sg(z2))/2 - cos(p2, sg(z1))/2, each term averaged over the
// batch (rows of B x d tensors).
func Loss(tp *op.Tape, p1, p2, z1, z2 op.Tensor) op.Tensor {
	d := func(p, z op.Tensor) op.Tensor {
		c := tp.SumDims(tp.Mul(tp.L2Normalize(p, 1e-12), tp.L2Normalize(tp.Detach(z), 1e-12)), false, 1)
		return tp.MulScalar(tp.Mean(c), -0.5)
	}
	return tp.Add(d(p1, z2), d(p2, z1))
}

// ZStd is the collapse monitor of the paper (section 4.1): the standard
// deviation over the batch (unbiased) of the L2-normalized projections
// z (B x d), averaged over channels; about 1/√d when healthy, 0 when
// collapsed.
func ZStd(tp *op.Tape, z op.Tensor) op.Tensor {
	zn := tp.L2Normalize(z, 1e-12)
	c := tp.Sub(zn, tp.MeanDims(zn, true, 0))
	B := float64(op.Shape(z)[0])
	v := tp.MulScalar(tp.MeanDims(tp.Mul(c, c), false, 0), B/(B-1))
	return tp.Mean(tp.Sqrt(v))
}

// Stats of one step.
type Stats struct {
	Loss     float64 // in [-1, 1]; -1 when predictions match
	ZStd     float64 // ZStd of the first view's projections
	GradNorm float64 // global gradient norm (after averaging across ranks)
	// Skipped reports a non-finite gradient norm: no update was made.
	Skipped bool
}

// Step runs one training step on the two views (each B x C x H x W,
// caller-owned): encoder and predictor on each view, the loss, backward,
// and one update by opt (SGD in the recipe), the encoder with learning
// rate lr and the predictor with predLR (Config.FixPredictorLR: the base
// rate; 0 or lr: the same as the encoder). For the step it sets
// opt.LRScale (restored afterwards).
func (m *Model) Step(opt *nn.Optimizer, views []op.Tensor, lr, predLR float64) (st Stats, err error) {
	if len(views) != 2 {
		return st, fmt.Errorf("simsiam: step: %d views, want 2", len(views))
	}
	defer op.Catch(&err)
	var tp op.Tape
	tp.BF16 = m.BF16
	defer tp.Drop()
	var z, p [2]op.Tensor
	for i, v := range views {
		z[i] = m.Projector.Forward(&tp, m.Backbone.Forward(&tp, v, true), true)
		p[i] = m.Predictor.Forward(&tp, z[i], true)
	}
	loss := Loss(&tp, p[0], p[1], z[0], z[1])
	zstd := func() op.Tensor {
		restore := op.NoGrad()
		defer restore()
		return ZStd(&tp, z[0])
	}()
	params := m.Params.Trainable()
	grads, norm, vals, _ := nn.Backward(&tp, params, loss, loss, zstd)
	restore := op.NoGrad()
	defer restore()
	norm = sslkit.ReduceGrads(&tp, grads, m.Reduce, norm)
	st = Stats{Loss: vals[0], ZStd: vals[1], GradNorm: norm, Skipped: !op.Finite(norm)}
	if st.Skipped {
		return st, nil
	}
	nn.ClipGrads(grads, norm, m.ClipGradNorm)
	if predLR <= 0 || predLR == lr {
		opt.Step(&tp, params, grads, lr)
		return st, nil
	}
	// One update at the predictor's rate, the encoder's scaled to lr
	// (a scale relative to lr would fail at lr = 0 during warm-up).
	prev := opt.LRScale
	defer func() { opt.LRScale = prev }()
	opt.LRScale = func(name string) float64 {
		if IsPredictor(name) {
			return 1
		}
		return lr / predLR
	}
	opt.Step(&tp, params, grads, predLR)
	return st, nil
}
