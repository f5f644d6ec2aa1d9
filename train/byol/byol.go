// Package byol is BYOL (Grill et al. 2020, "Bootstrap your own latent") on
// sslpipe's shared trainer: an online network (backbone, projector,
// predictor) learns to predict an EMA target's projection of another view
// of the same image. It registers the method "byol" (images).
//
// The loss per view pair is 2 - 2·cos(q(z1), sg(z'2)), summed over both
// view orders; the target's decay follows a cosine schedule from
// settings.tau.base to 1. Backbone parameters use torchvision's ResNet
// names, so an exported ResNet-18 (RUN/export/backbone-teacher.safetensors)
// loads into torchvision.models.resnet18() with load_state_dict(...,
// strict=False).
package byol

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// net is a backbone plus projector and, for the online network, the
// predictor, with tensor names backbone.*, projector.*, predictor.*.
type net struct {
	p    *nn.Params
	bb   nn.Backbone
	proj *nn.MLP
	pred *nn.MLP
}

// newNet builds the network; the seed fixes the initial weights, so an
// online and a target network built with the same seed start equal.
func newNet(m *Model, withPredictor bool, seed uint64, dev gotch.Device) (n *net, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	p := nn.NewParamsStream(seed, nn.ConvStream, dev)
	n = &net{p: p}
	defer func() {
		if err != nil {
			p.Free()
		}
	}()
	if n.bb, err = nn.NewBackbone(p, "backbone.", m.Arch); err != nil {
		return nil, err
	}
	if m.Heads.Hidden <= 0 || m.Heads.Out <= 0 {
		return nil, fmt.Errorf("byol: heads need positive hidden and out sizes, got %+v", m.Heads)
	}
	n.proj = nn.NewMLP(p, "projector", n.bb.Dim(), m.Heads.Hidden, m.Heads.Out)
	if withPredictor {
		n.pred = nn.NewMLP(p, "predictor", m.Heads.Out, m.Heads.Hidden, m.Heads.Out)
	}
	return n, nil
}

// isBackbone selects the backbone's tensors.
func isBackbone(q *nn.Param) bool { return strings.HasPrefix(q.Name, "backbone.") }

// byol is the online network and the EMA target.
type byol struct {
	online, target *net
	opt            *nn.Optimizer
	dev            gotch.Device
	bf16           bool
	skipNonFinite  bool
}

func newBYOL(m *Model, optim train.OptimConfig, seed uint64, dev gotch.Device, bf16, skip bool) (*byol, error) {
	opt, err := nn.NewOptimizer(optim)
	if err != nil {
		return nil, err
	}
	on, err := newNet(m, true, seed, dev)
	if err != nil {
		return nil, err
	}
	tg, err := newNet(m, false, seed, dev)
	if err != nil {
		on.p.Free()
		return nil, err
	}
	return &byol{online: on, target: tg, opt: opt, dev: dev, bf16: bf16 && dev.IsCuda(), skipNonFinite: skip}, nil
}

func (b *byol) free() {
	b.online.p.Free()
	b.target.p.Free()
	b.opt.Free()
}

// pairLoss is mean over the batch of 2 - 2 cos(p, z).
func pairLoss(tp *op.Tape, p, z op.Tensor) op.Tensor {
	cos := tp.SumDims(tp.Mul(tp.L2Normalize(p, 1e-12), tp.L2Normalize(z, 1e-12)), false, 1)
	return tp.Mean(tp.AddScalar(tp.MulScalar(cos, -2), 2))
}

// forwardLoss computes BYOL's symmetric loss
//
//	L = mean(2 - 2cos(q(z1), sg(z'2))) + mean(2 - 2cos(q(z2), sg(z'1)))
//
// with z = projector(backbone(view)) of the online network, q the
// predictor and z' the target's projection. Each view is a separate
// forward pass (BatchNorm statistics per view, as in the reference). It
// returns the loss and the online backbone features of view 1.
func (b *byol) forwardLoss(tp *op.Tape, v1, v2 op.Tensor) (loss, feat op.Tensor) {
	y1 := b.online.bb.Forward(tp, v1, true)
	y2 := b.online.bb.Forward(tp, v2, true)
	p1 := b.online.pred.Forward(tp, b.online.proj.Forward(tp, y1, true), true)
	p2 := b.online.pred.Forward(tp, b.online.proj.Forward(tp, y2, true), true)
	restore := op.NoGrad()
	t1 := b.target.proj.Forward(tp, b.target.bb.Forward(tp, v1, true), true)
	t2 := b.target.proj.Forward(tp, b.target.bb.Forward(tp, v2, true), true)
	restore()
	t1, t2 = tp.Detach(t1), tp.Detach(t2)
	return tp.Add(pairLoss(tp, p1, t2), pairLoss(tp, p2, t1)), y1
}

// stepResult is what one optimization step reports.
type stepResult struct {
	loss     float64
	gradNorm float64
	skipped  bool // non-finite loss or gradient: no update was applied
	feat     []float32
	featDim  int
}

// step runs forward, backward, the optimizer update (learning rate lr)
// and the EMA update (tau) on one batch already on the device. reduce,
// when set, averages the gradients across ranks before the update. With
// wantFeat it also returns the online backbone features of view 1.
func (b *byol) step(v1, v2 op.Tensor, lr, tau, clip float64, reduce func([]op.Tensor) error, wantFeat bool) (r stepResult, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	var tp op.Tape
	tp.BF16 = b.bf16
	defer tp.Drop()
	loss, feat := b.forwardLoss(&tp, v1, v2)
	params := b.online.p.Trainable()
	grads, norm, vals, ok := nn.Backward(&tp, params, loss, loss)
	r.loss, r.gradNorm = vals[0], norm
	if reduce != nil {
		if err := reduce(grads); err != nil {
			return r, err
		}
		if norm, err = globalNorm(&tp, grads); err != nil {
			return r, err
		}
		r.gradNorm, ok = norm, op.Finite(norm)
	}
	if !b.skipNonFinite || ok && op.Finite(r.loss) {
		restore := op.NoGrad()
		nn.ClipGrads(grads, norm, clip)
		b.opt.Step(&tp, params, grads, lr)
		err := nn.EMA(&tp, b.target.p, b.online.p, tau)
		restore()
		if err != nil {
			return r, err
		}
	} else {
		r.skipped = true
	}
	if wantFeat {
		s := op.Shape(feat)
		r.feat, r.featDim = op.ToFloat32(feat), int(s[1])
	}
	return r, nil
}

// globalNorm is the norm of every gradient together (after averaging).
func globalNorm(tp *op.Tape, grads []op.Tensor) (n float64, err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	var present []op.Tensor
	for _, g := range grads {
		if g != nil {
			present = append(present, g)
		}
	}
	if len(present) == 0 {
		return 0, nil
	}
	return op.ReadScalars(tp, op.TotalNorm(tp, present))[0], nil
}

// toDevice copies a batch view to the model's device (caller frees).
func (b *byol) toDevice(data []float32, sh [4]int) (t op.Tensor, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	c, err := op.FromFloat32(data, gotch.CPU, int64(sh[0]), int64(sh[1]), int64(sh[2]), int64(sh[3]))
	if err != nil {
		return nil, err
	}
	if b.dev == gotch.CPU {
		return c, nil
	}
	defer op.Free(c)
	var tp op.Tape
	out := tp.To(c, b.dev)
	tp.Keep(out)
	tp.Drop()
	return out, nil
}

// EmbStd is the collapse monitor: the mean over dimensions of the
// per-dimension std of L2-normalized features (n x d). A healthy
// representation is near 1/sqrt(d); a collapsed one near 0.
func EmbStd(feat []float32, d int) float64 {
	n := len(feat) / d
	if n < 2 {
		return 0
	}
	norm := make([]float64, len(feat))
	for i := 0; i < n; i++ {
		var s float64
		for j := 0; j < d; j++ {
			v := float64(feat[i*d+j])
			s += v * v
		}
		s = math.Max(math.Sqrt(s), 1e-12)
		for j := 0; j < d; j++ {
			norm[i*d+j] = float64(feat[i*d+j]) / s
		}
	}
	var tot float64
	for j := 0; j < d; j++ {
		var m, m2 float64
		for i := 0; i < n; i++ {
			m += norm[i*d+j]
		}
		m /= float64(n)
		for i := 0; i < n; i++ {
			x := norm[i*d+j] - m
			m2 += x * x
		}
		tot += math.Sqrt(m2 / float64(n-1))
	}
	return tot / float64(d)
}
