package simclr

import (
	"fmt"
	"math"

	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Config holds SimCLR's own hyperparameters.
type Config struct {
	ProjHidden  int64   `yaml:"proj_hidden" json:"proj_hidden"` // projector hidden width (2048)
	ProjOut     int64   `yaml:"proj_out" json:"proj_out"`       // embedding width (256; 128 in the paper)
	Temperature float64 `yaml:"temperature" json:"temperature"` // NT-Xent temperature (0.2; 0.5 in the paper's CIFAR runs)
	// NoBN leaves the projector's BatchNorm out (Linear-ReLU-Linear, the
	// paper's g(h)). BatchNorm statistics are per rank in a data-parallel
	// run, so only without it do W processes x B/W compute one process x
	// B's update (the equivalence tests use it).
	NoBN bool `yaml:"no_bn,omitempty" json:"no_bn,omitempty"`
}

// DefaultConfig is solo-learn's CIFAR recipe.
func DefaultConfig() Config { return Config{ProjHidden: 2048, ProjOut: 256, Temperature: 0.2} }

// Validate checks ranges.
func (c Config) Validate() error {
	if c.ProjHidden <= 0 || c.ProjOut <= 0 || !(c.Temperature > 0) {
		return fmt.Errorf("simclr: proj_hidden %d, proj_out %d and temperature %v must be > 0", c.ProjHidden, c.ProjOut, c.Temperature)
	}
	return nil
}

// Gather collects z (this rank's rows) from every rank in rank order with
// the gradient flowing back to this rank's slice, and returns them with
// this rank's index. Nil means one process.
type Gather func(tp *op.Tape, z op.Tensor) (all op.Tensor, rank int)

// Model is a backbone and SimCLR's projector in one parameter set.
type Model struct {
	Params    *nn.Params
	Backbone  nn.Backbone
	Projector *sslkit.MLP
	Cfg       Config
	// Gather, when set, supplies negatives from every rank.
	Gather Gather
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

// New adds the projector (tensors projector.0, .1, .3) to p, where the
// backbone's tensors already are.
func New(p *nn.Params, bb nn.Backbone, cfg Config) (m *Model, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	defer op.Catch(&err)
	proj := sslkit.NewMLP(p, "projector", sslkit.MLPSpec{
		Dims: []int64{bb.Dim(), cfg.ProjHidden, cfg.ProjOut}, Bias: true, LastBias: true, BN: !cfg.NoBN})
	return &Model{Params: p, Backbone: bb, Projector: proj, Cfg: cfg}, nil
}

// Embed is the projector's output for images x (B x C x H x W).
func (m *Model) Embed(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	return sslkit.Embed(tp, m.Backbone, m.Projector, x, train)
}

// NTXent is the normalized temperature-scaled cross-entropy of SimCLR
// over 2n views. z holds this rank's embeddings of both views (2n x d;
// rows i and n+i are the views of sample i); all holds every rank's z
// concatenated in rank order (W·2n x d; all = z on one process) and rank
// is this rank's place in it. Each row i of z is an anchor whose positive
// is its sample's other view and whose negatives are all the other rows
// of all except itself (2Wn-2 of them): with s the cosine similarity,
//
//	loss_i = -log exp(s(i, pos)/T) / Σ_{k ≠ i} exp(s(i, k)/T)
//
// and the result is the mean over the 2n local anchors (with gathered
// negatives, the mean over ranks is the loss of the whole batch). acc is
// the fraction of anchors whose positive scores highest.
func NTXent(tp *op.Tape, z, all op.Tensor, rank int, temperature float64) (loss, acc op.Tensor) {
	s, sa := op.Shape(z), op.Shape(all)
	rows, cols := s[0], sa[0]
	if rows%2 != 0 || rows == 0 || cols%rows != 0 || int64(rank+1)*rows > cols {
		op.Fail(fmt.Errorf("simclr: nt-xent: %d local rows (two views of n) and %d gathered at rank %d", rows, cols, rank))
	}
	n, off := rows/2, int64(rank)*rows
	self := make([]bool, rows*cols)
	pos := make([]int64, rows)
	for i := range rows {
		self[i*cols+off+i] = true
		pos[i] = off + (i+n)%rows
	}
	dev := op.DeviceOf(z)
	logits := selfMaskedLogits(tp, z, all, self, temperature)
	target := tp.Int64(pos, dev, rows)
	loss = tp.CrossEntropy(logits, target)
	acc = tp.MulScalar(tp.CountEqual(tp.Argmax(logits, 1), target), 1/float64(rows))
	return loss, acc
}

// NTXentViews is NT-Xent over V >= 2 views per sample (multi-crop):
// z holds this rank's embeddings view by view (V·n x d; row v·n+i is view
// v of sample i), all every rank's z in rank order (W·V·n x d) and rank
// this rank's place in it. Each row of z is an anchor; its positives are
// the V-1 other views of its sample, its negatives every other row of all
// but itself. The loss is the mean over anchors and their positives of
// -log softmax (SupCon's L_out with the sample as its class; Khosla et al.
// 2020, eq. 2):
//
//	loss_a = -1/(V-1) Σ_{p ∈ P(a)} log exp(s(a, p)/T) / Σ_{k ≠ a} exp(s(a, k)/T)
//
// With V = 2 it is NTXent. acc is the fraction of anchors whose most
// similar row is one of their positives.
func NTXentViews(tp *op.Tape, z, all op.Tensor, rank, views int, temperature float64) (loss, acc op.Tensor) {
	s, sa := op.Shape(z), op.Shape(all)
	rows, cols, v := s[0], sa[0], int64(views)
	if v < 2 || rows == 0 || rows%v != 0 || cols%rows != 0 || int64(rank+1)*rows > cols {
		op.Fail(fmt.Errorf("simclr: nt-xent: %d local rows (%d views of n) and %d gathered at rank %d", rows, views, cols, rank))
	}
	n, off := rows/v, int64(rank)*rows
	self := make([]bool, rows*cols)
	pos := make([]bool, rows*cols)
	sample := make([]int64, cols) // sample id of every gathered row
	for j := range cols {
		sample[j] = (j/rows)*n + j%rows%n
	}
	anchor := make([]int64, rows)
	for a := range rows {
		anchor[a] = sample[off+a]
		self[a*cols+off+a] = true
		for u := range v {
			if j := off + u*n + a%n; j != off+a {
				pos[a*cols+j] = true
			}
		}
	}
	dev := op.DeviceOf(z)
	logits := selfMaskedLogits(tp, z, all, self, temperature)
	logp := tp.LogSoftmax(logits, 1)
	zero := tp.Float32([]float32{0}, dev, 1)
	loss = tp.MulScalar(tp.Sum(tp.Where(tp.Bool(pos, dev, rows, cols), logp, zero)), -1/float64(rows*(v-1)))
	best := tp.IndexSelect(tp.Int64(sample, dev, cols), 0, tp.Argmax(logits, 1))
	acc = tp.MulScalar(tp.CountEqual(best, tp.Int64(anchor, dev, rows)), 1/float64(rows))
	return loss, acc
}

// selfMaskedLogits is the cosine similarity of z's rows (rows x d) with
// all's (cols x d) over temperature, -inf where self (rows x cols, row
// major) is set: each anchor's own column.
func selfMaskedLogits(tp *op.Tape, z, all op.Tensor, self []bool, temperature float64) op.Tensor {
	rows, cols, dev := op.Shape(z)[0], op.Shape(all)[0], op.DeviceOf(z)
	zn, an := tp.L2Normalize(z, 1e-12), tp.L2Normalize(all, 1e-12)
	logits := tp.MulScalar(tp.Matmul(zn, tp.Transpose(an, 0, 1)), 1/temperature)
	negInf := tp.Float32([]float32{float32(math.Inf(-1))}, dev, 1)
	return tp.Where(tp.Bool(self, dev, rows, cols), negInf, logits)
}

// Stats of one step.
type Stats struct {
	Loss float64
	// Acc is the fraction of anchors whose positive is the most similar
	// view (a collapse monitor: it falls to ~1/(2N-1) on collapse).
	Acc      float64
	GradNorm float64 // global gradient norm (after averaging across ranks)
	// Skipped reports a non-finite gradient norm: no update was made.
	Skipped bool
}

// Step runs one training step on the views (each B x C x H x W,
// caller-owned; two, or more for multi-crop, whose sizes may differ):
// each view through the backbone and projector in turn (as solo-learn
// does; BatchNorm statistics per view), NT-Xent over the V·B embeddings
// (NTXent for two views, NTXentViews for more), backward and one update
// of the trainable parameters by opt (LARS in the recipe) with learning
// rate lr. Errors come from libtorch.
func (m *Model) Step(opt *nn.Optimizer, views []op.Tensor, lr float64) (st Stats, err error) {
	if len(views) < 2 {
		return st, fmt.Errorf("simclr: step: %d views, want at least 2", len(views))
	}
	defer op.Catch(&err)
	var tp op.Tape
	tp.BF16 = m.BF16
	defer tp.Drop()
	zs := make([]op.Tensor, len(views))
	for i, v := range views {
		zs[i] = m.Embed(&tp, v, true)
	}
	z := tp.Cat(zs, 0)
	all, rank := z, 0
	if m.Gather != nil {
		all, rank = m.Gather(&tp, z)
	}
	var loss, acc op.Tensor
	if len(views) == 2 {
		loss, acc = NTXent(&tp, z, all, rank, m.Cfg.Temperature)
	} else {
		loss, acc = NTXentViews(&tp, z, all, rank, len(views), m.Cfg.Temperature)
	}
	params := m.Params.Trainable()
	grads, norm, vals, _ := nn.Backward(&tp, params, loss, loss, acc)
	restore := op.NoGrad()
	defer restore()
	norm = sslkit.ReduceGrads(&tp, grads, m.Reduce, norm)
	st = Stats{Loss: vals[0], Acc: vals[1], GradNorm: norm, Skipped: !op.Finite(norm)}
	if !st.Skipped {
		nn.ClipGrads(grads, norm, m.ClipGradNorm)
		opt.Step(&tp, params, grads, lr)
	}
	return st, nil
}
