package train

import (
	"math"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// byol is the online network (backbone, projector, predictor) and the EMA
// target (backbone, projector).
type byol struct {
	online, target *net
	opt            *optimizer
	dev            gotch.Device
	bf16           bool
}

func newBYOL(c *Config, dev gotch.Device) (*byol, error) {
	on, err := newNet(c.Arch, c.Heads, true, c.Seed, dev)
	if err != nil {
		return nil, err
	}
	tg, err := newNet(c.Arch, c.Heads, false, c.Seed, dev)
	if err != nil {
		on.mod.Free()
		return nil, err
	}
	return &byol{online: on, target: tg, opt: newOptimizer(c.Optim), dev: dev, bf16: c.BF16 && dev.IsCuda()}, nil
}

func (b *byol) free() {
	b.online.mod.Free()
	b.target.mod.Free()
	b.opt.free()
}

// normalize is F.normalize(x, dim=1): x / max(||x||, 1e-12).
func normalize(tp *tape, x tensor) tensor {
	n := tp.Sqrt(tp.SumDims(tp.Mul(x, x), true, 1))
	return tp.Div(x, tp.ClampMin(n, 1e-12))
}

// pairLoss is mean over the batch of 2 - 2 cos(p, z).
func pairLoss(tp *tape, p, z tensor) tensor {
	cos := tp.SumDims(tp.Mul(normalize(tp, p), normalize(tp, z)), false, 1)
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
func (b *byol) forwardLoss(tp *tape, v1, v2 tensor) (loss, feat tensor) {
	y1 := b.online.bb.forward(tp, v1, true)
	y2 := b.online.bb.forward(tp, v2, true)
	p1 := b.online.pred.forward(tp, b.online.proj.forward(tp, y1, true), true)
	p2 := b.online.pred.forward(tp, b.online.proj.forward(tp, y2, true), true)
	restore := op.NoGrad()
	t1 := b.target.proj.forward(tp, b.target.bb.forward(tp, v1, true), true)
	t2 := b.target.proj.forward(tp, b.target.bb.forward(tp, v2, true), true)
	restore()
	t1, t2 = tp.Detach(t1), tp.Detach(t2)
	return tp.Add(pairLoss(tp, p1, t2), pairLoss(tp, p2, t1)), y1
}

// stepResult is what one optimization step reports.
type stepResult struct {
	loss    float64
	skipped bool // non-finite loss or gradient: no update was applied
	feat    []float32
	featDim int
}

// step runs forward, backward, the optimizer update (learning rate lr)
// and the EMA update (tau) on one batch already on the device. With
// wantFeat it also returns the online backbone features of view 1.
func (b *byol) step(v1, v2 tensor, lr, tau, clip float64, wantFeat bool) (r stepResult, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	var tp tape
	tp.BF16 = b.bf16
	defer tp.Drop()
	loss, feat := b.forwardLoss(&tp, v1, v2)
	op.Backward(loss)
	params := b.online.mod.Params()
	grads := make([]tensor, len(params))
	for i, p := range params {
		grads[i] = tp.Grad(p.t)
	}
	restore := op.NoGrad()
	defer restore()
	finite := true
	if b.opt.cfg.SkipNonFinite {
		// Reading the loss synchronizes the device before the update.
		r.loss = op.Scalar(loss)
		finite = !math.IsNaN(r.loss) && !math.IsInf(r.loss, 0)
	}
	if finite && clip > 0 {
		var sq tensor
		for _, g := range grads {
			if g != nil {
				s := tp.Sum(tp.Mul(g, g))
				if sq == nil {
					sq = s
				} else {
					sq = tp.Add(sq, s)
				}
			}
		}
		norm := math.Sqrt(op.Scalar(sq))
		finite = !math.IsNaN(norm) && !math.IsInf(norm, 0)
		if !b.opt.cfg.SkipNonFinite {
			finite = true // clip only; non-finite updates are not skipped
		}
		if coef := clip / (norm + 1e-6); finite && coef < 1 {
			for _, g := range grads {
				if g != nil {
					op.MulScalarInPlace(g, coef)
				}
			}
		}
	}
	if finite {
		b.opt.step(&tp, params, grads, lr)
		if err := emaUpdate(&tp, b.target.mod, b.online.mod, tau); err != nil {
			return r, err
		}
	} else {
		r.skipped = true
	}
	if !b.opt.cfg.SkipNonFinite {
		r.loss = op.Scalar(loss) // after the update: the device queue stays full
	}
	for _, g := range grads {
		if g != nil {
			op.ZeroInPlace(g)
		}
	}
	if wantFeat {
		s := op.Shape(feat)
		r.feat, r.featDim = op.ToFloat32(feat), int(s[1])
	}
	return r, nil
}

// toDevice copies a batch view to the model's device (caller frees).
func (b *byol) toDevice(data []float32, sh [4]int) (t tensor, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	c, err := fromFloat32CPU(data, int64(sh[0]), int64(sh[1]), int64(sh[2]), int64(sh[3]))
	if err != nil {
		return nil, err
	}
	if b.dev == gotch.CPU {
		return c, nil
	}
	defer op.Free(c)
	var out tensor
	libTo(&out, c, b.dev)
	return out, nil
}

// embStd is the collapse monitor: the mean over dimensions of the
// per-dimension std of L2-normalized features (n x d). A healthy
// representation is near 1/sqrt(d); a collapsed one near 0.
func embStd(feat []float32, d int) float64 {
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
