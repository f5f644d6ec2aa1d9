package simsiam

import (
	"fmt"
	"strings"

	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/transformer"
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
	Params    *sslkit.Params
	Backbone  sslkit.Backbone
	Projector *sslkit.MLP
	Predictor *sslkit.MLP
	Cfg       Config
}

// New adds the projector (projector.0 Linear, .1 BatchNorm, .3, .4, .6,
// .7 BatchNorm without affine; linear layers without bias, as the paper's
// biases before BatchNorm have no effect) and the predictor (predictor.0
// Linear without bias, .1 BatchNorm, .3 Linear) to p, where the
// backbone's tensors already are.
func New(p *sslkit.Params, bb sslkit.Backbone, cfg Config) (m *Model, err error) {
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
	Loss float64 // in [-1, 1]; -1 when predictions match
	ZStd float64 // ZStd of the first view's projections
}

// Step runs one training step on the two views (each B x C x H x W,
// caller-owned): encoder and predictor on each view, the loss, backward,
// and one SGD update, the encoder with learning rate lr and the predictor
// with predLR (Config.FixPredictorLR: the base rate; otherwise pass lr).
func (m *Model) Step(opt *sslkit.SGD, views []op.Tensor, lr, predLR float64) (st Stats, err error) {
	if len(views) != 2 {
		return st, fmt.Errorf("simsiam: step: %d views, want 2", len(views))
	}
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	var z, p [2]op.Tensor
	for i, v := range views {
		z[i] = m.Projector.Forward(&tp, m.Backbone.Forward(&tp, v, true), true)
		p[i] = m.Predictor.Forward(&tp, z[i], true)
	}
	loss := Loss(&tp, p[0], p[1], z[0], z[1])
	params := m.Params.Trainable()
	grads := sslkit.Backward(&tp, params, loss)
	restore := op.NoGrad()
	defer restore()
	vals := op.ReadScalars(&tp, loss, ZStd(&tp, z[0]))
	var enc, pred []*transformer.Param
	var encG, predG []op.Tensor
	for i, q := range params {
		if IsPredictor(q.Name) {
			pred, predG = append(pred, q), append(predG, grads[i])
		} else {
			enc, encG = append(enc, q), append(encG, grads[i])
		}
	}
	opt.Step(&tp, enc, encG, lr)
	opt.Step(&tp, pred, predG, predLR)
	return Stats{Loss: vals[0], ZStd: vals[1]}, nil
}
