package mocov3

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Config holds MoCo v3's own hyperparameters.
type Config struct {
	ProjHidden int64 `yaml:"proj_hidden" json:"proj_hidden"` // projector hidden width (4096)
	ProjOut    int64 `yaml:"proj_out" json:"proj_out"`       // embedding width (256)
	PredHidden int64 `yaml:"pred_hidden" json:"pred_hidden"` // predictor hidden width (4096)
	// ProjLayers is 3 for ViTs and 2 for ResNets.
	ProjLayers  int     `yaml:"proj_layers" json:"proj_layers"`
	Temperature float64 `yaml:"temperature" json:"temperature"` // 0.2 (ViT), 1.0 (ResNet, paper)
	// NoBN builds the projector and predictor without BatchNorm (Linear
	// layers with biases and ReLU). BatchNorm statistics are per rank in a
	// data-parallel run, so only without it do W processes x B/W compute
	// one process x B's update (the equivalence tests use it).
	NoBN bool `yaml:"no_bn,omitempty" json:"no_bn,omitempty"`
}

// DefaultConfig is the paper's ViT recipe (main_moco.py with
// --moco-mlp-dim 4096 --moco-dim 256 --moco-t 0.2).
func DefaultConfig() Config {
	return Config{ProjHidden: 4096, ProjOut: 256, PredHidden: 4096, ProjLayers: 3, Temperature: 0.2}
}

// Validate checks ranges.
func (c Config) Validate() error {
	if c.ProjHidden <= 0 || c.ProjOut <= 0 || c.PredHidden <= 0 || c.ProjLayers < 1 || !(c.Temperature > 0) {
		return fmt.Errorf("mocov3: proj_hidden %d, proj_out %d, pred_hidden %d, proj_layers %d and temperature %v must be > 0", c.ProjHidden, c.ProjOut, c.PredHidden, c.ProjLayers, c.Temperature)
	}
	return nil
}

// BackboneFunc builds a backbone's tensors into p (named "backbone.*");
// momentum is set for the key encoder's copy.
type BackboneFunc func(p *nn.Params, momentum bool) (nn.Backbone, error)

// GatherKeys collects k (this rank's keys) from every rank in rank order,
// without gradient, and returns them with this rank's index.
type GatherKeys func(tp *op.Tape, k op.Tensor) (all op.Tensor, rank int)

// Model is the query encoder (Base: backbone, projector, predictor) and
// the momentum encoder (Momentum: backbone and projector, starting as a
// copy of the query encoder's).
type Model struct {
	Cfg                              Config
	Base, Momentum                   *nn.Params
	BaseBackbone, MomentumBackbone   nn.Backbone
	BaseProjector, MomentumProjector *sslkit.MLP
	Predictor                        *sslkit.MLP
	// Gather, when set, supplies every rank's keys as negatives.
	Gather GatherKeys
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

func projector(p *nn.Params, in int64, c Config) *sslkit.MLP {
	dims := []int64{in}
	for range c.ProjLayers - 1 {
		dims = append(dims, c.ProjHidden)
	}
	if c.NoBN {
		return sslkit.NewMLP(p, "projector", sslkit.MLPSpec{Dims: append(dims, c.ProjOut), Bias: true, LastBias: true})
	}
	return sslkit.NewMLP(p, "projector", sslkit.MLPSpec{Dims: append(dims, c.ProjOut), BN: true, LastBN: true})
}

// New builds both encoders on dev from seed: projector.<i> (Linear
// without bias, BatchNorm1d, ReLU; the last BatchNorm without affine) and
// predictor.<i> (2 layers, no final BatchNorm), as MoCo v3's _build_mlp.
func New(newBackbone BackboneFunc, cfg Config, seed uint64, dev gotch.Device) (m *Model, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m = &Model{Cfg: cfg, Base: sslkit.NewParams(seed, dev), Momentum: sslkit.NewParams(seed, dev)}
	defer func() {
		if err != nil {
			m.Free()
			m = nil
		}
	}()
	if m.BaseBackbone, err = newBackbone(m.Base, false); err != nil {
		return nil, err
	}
	if m.MomentumBackbone, err = newBackbone(m.Momentum, true); err != nil {
		return nil, err
	}
	defer op.Catch(&err)
	m.BaseProjector = projector(m.Base, m.BaseBackbone.Dim(), cfg)
	pred := sslkit.MLPSpec{Dims: []int64{cfg.ProjOut, cfg.PredHidden, cfg.ProjOut}, BN: !cfg.NoBN, Bias: cfg.NoBN, LastBias: cfg.NoBN}
	m.Predictor = sslkit.NewMLP(m.Base, "predictor", pred)
	m.MomentumProjector = projector(m.Momentum, m.MomentumBackbone.Dim(), cfg)
	return m, m.SyncMomentum()
}

// SyncMomentum copies the query encoder's backbone and projector into
// the momentum encoder.
func (m *Model) SyncMomentum() error {
	ts, err := m.Base.Tensors("")
	if err != nil {
		return err
	}
	return m.Momentum.Load("base", ts, "")
}

// Free releases both encoders.
func (m *Model) Free() {
	m.Base.Free()
	m.Momentum.Free()
}

// IsPredictor reports whether a query-encoder parameter is the
// predictor's.
func IsPredictor(name string) bool { return strings.HasPrefix(name, "predictor.") }

// Contrastive is MoCo v3's InfoNCE term 2τ·CE(q·kᵀ/τ, labels) for this
// rank's queries q (N x d) against every rank's keys all (W·N x d, in rank
// order; all = k on one process), the positive of query i being key
// rank·N + i; q and keys are L2-normalized here. It also returns the
// fraction of queries whose positive scores highest.
func Contrastive(tp *op.Tape, q, all op.Tensor, rank int, temperature float64) (loss, acc op.Tensor) {
	N, M := op.Shape(q)[0], op.Shape(all)[0]
	if N == 0 || M%N != 0 || int64(rank+1)*N > M {
		op.Fail(fmt.Errorf("mocov3: contrastive: %d queries and %d keys at rank %d", N, M, rank))
	}
	labels := make([]int64, N)
	for i := range labels {
		labels[i] = int64(rank)*N + int64(i)
	}
	logits := tp.MulScalar(tp.Matmul(tp.L2Normalize(q, 1e-12), tp.Transpose(tp.L2Normalize(all, 1e-12), 0, 1)), 1/temperature)
	target := tp.Int64(labels, op.DeviceOf(q), N)
	loss = tp.MulScalar(tp.CrossEntropy(logits, target), 2*temperature)
	acc = tp.MulScalar(tp.CountEqual(tp.Argmax(logits, 1), target), 1/float64(N))
	return loss, acc
}

// Stats of one step.
type Stats struct {
	Loss float64
	// Acc is the mean over both terms of the fraction of queries whose
	// key is the most similar.
	Acc      float64
	GradNorm float64 // global gradient norm (after averaging across ranks)
	// Skipped reports a non-finite gradient norm: the query encoder was
	// not updated (the momentum encoder was, before the keys).
	Skipped bool
}

// Step runs one training step on the two views (each B x C x H x W,
// caller-owned) as MoCo v3's main_moco.py does: the queries of both
// views; the momentum encoder's EMA update with momentum (from the query
// encoder's current weights); the keys of both views without gradient
// (BatchNorm with batch statistics); the symmetric loss; backward and one
// update of the query encoder by opt with learning rate lr.
func (m *Model) Step(opt *nn.Optimizer, views []op.Tensor, lr, momentum float64) (st Stats, err error) {
	if len(views) != 2 {
		return st, fmt.Errorf("mocov3: step: %d views, want 2", len(views))
	}
	defer op.Catch(&err)
	var tp op.Tape
	tp.BF16 = m.BF16
	defer tp.Drop()
	var q, k [2]op.Tensor
	for i, v := range views {
		q[i] = m.Predictor.Forward(&tp, m.BaseProjector.Forward(&tp, m.BaseBackbone.Forward(&tp, v, true), true), true)
	}
	func() {
		restore := op.NoGrad()
		defer restore()
		if err := nn.EMA(&tp, m.Momentum, m.Base, momentum); err != nil {
			op.Fail(err)
		}
		for i, v := range views {
			k[i] = m.MomentumProjector.Forward(&tp, m.MomentumBackbone.Forward(&tp, v, true), true)
		}
	}()
	ctr := func(q, k op.Tensor) (op.Tensor, op.Tensor) {
		all, rank := k, 0
		if m.Gather != nil {
			all, rank = m.Gather(&tp, k)
		}
		return Contrastive(&tp, q, all, rank, m.Cfg.Temperature)
	}
	l1, a1 := ctr(q[0], k[1])
	l2, a2 := ctr(q[1], k[0])
	loss := tp.Add(l1, l2)
	acc := tp.MulScalar(tp.Add(a1, a2), 0.5)
	params := m.Base.Trainable()
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
