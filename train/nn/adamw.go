package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// AdamWConfig is torch.optim.AdamW's hyperparameters (the learning rate
// is given per step).
type AdamWConfig struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// ExcludeNoDecay exempts parameters marked NoDecay (biases, norms,
	// embeddings) from weight decay.
	ExcludeNoDecay bool
	// LRScale, when set, multiplies the learning rate of the named
	// parameter (HuBERT slows its CNN down this way).
	LRScale func(name string) float64
}

// AdamW is torch.optim.AdamW (single-tensor path) over a parameter list:
// the moments are created at a parameter's first update and kept by name,
// so a checkpoint can save and restore them (State, SetState). As in
// PyTorch, each parameter counts its own updates (state["step"]) for the
// bias corrections: a parameter that got no gradient for a while (DINO's
// frozen last layer, a dropped layer) starts with t = 1 at its first
// update.
type AdamW struct {
	cfg   AdamWConfig
	steps int64
	m, v  map[string]op.Tensor
	t     map[string]int64 // per-parameter update counts
}

// NewAdamW makes an optimizer with no state.
func NewAdamW(cfg AdamWConfig) *AdamW {
	return &AdamW{cfg: cfg, m: map[string]op.Tensor{}, v: map[string]op.Tensor{}, t: map[string]int64{}}
}

// Steps is the number of Step calls (updates applied).
func (o *AdamW) Steps() int64 { return o.steps }

// biasCorrections counts one more update of the named parameter and
// returns its bias corrections 1-β1^t and 1-β2^t.
func (o *AdamW) biasCorrections(name string) (bc1, bc2 float64) {
	o.t[name]++
	t := float64(o.t[name])
	return 1 - math.Pow(o.cfg.Beta1, t), 1 - math.Pow(o.cfg.Beta2, t)
}

// op.Free releases the moments.
func (o *AdamW) Free() {
	for _, t := range o.m {
		op.Free(t)
	}
	for _, t := range o.v {
		op.Free(t)
	}
	o.m, o.v, o.t = map[string]op.Tensor{}, map[string]op.Tensor{}, map[string]int64{}
}

// Step applies one update with learning rate lr to params given their
// gradients (nil: the parameter is skipped). Runs under op.NoGrad; the
// temporaries go on tp.
func (o *AdamW) Step(tp *op.Tape, params []*Param, grads []op.Tensor, lr float64) {
	o.steps++
	c := o.cfg
	if o.stepForeach(tp, params, grads, lr) {
		return
	}
	for i, p := range params {
		g := grads[i]
		if g == nil {
			continue
		}
		bc1, bc2 := o.biasCorrections(p.Name)
		lr := lr
		if c.LRScale != nil {
			lr *= c.LRScale(p.Name)
		}
		if c.WeightDecay > 0 && !(c.ExcludeNoDecay && p.NoDecay) {
			op.MulScalarInPlace(p.T, 1-lr*c.WeightDecay)
		}
		m, ok := o.m[p.Name]
		if !ok {
			m = tp.Keep(tp.ZerosLike(p.T))
			o.m[p.Name] = m
			o.v[p.Name] = tp.Keep(tp.ZerosLike(p.T))
		}
		v := o.v[p.Name]
		// In place, two temporaries per parameter (torch.optim.AdamW's
		// update up to rounding):
		// m = lerp(m, g, 1-b1); v = b2·v + (√(1-b2)·g)²;
		// p += m / ((√v/√bc2 + eps)·(-bc1/lr)).
		op.LerpInPlace(m, g, 1-c.Beta1)
		op.MulScalarInPlace(v, c.Beta2)
		gs := tp.MulScalar(g, math.Sqrt(1-c.Beta2))
		op.AddcmulInPlace(v, gs, gs)
		if lr == 0 {
			continue
		}
		denom := tp.Sqrt(v)
		op.MulScalarInPlace(denom, 1/math.Sqrt(bc2))
		op.AddScalarInPlace(denom, c.Eps)
		op.MulScalarInPlace(denom, -bc1/lr)
		op.AddcdivInPlace(p.T, m, denom)
	}
}

// stepForeach is Step with libtorch's multi-tensor ops: the parameters are
// grouped by learning rate, weight decay and update count, one foreach
// update per group. It returns false (nothing changed, the counts
// included) where the shim lacks the op.
func (o *AdamW) stepForeach(tp *op.Tape, params []*Param, grads []op.Tensor, lr float64) bool {
	c := o.cfg
	type key struct {
		lr, wd float64
		t      int64
	}
	type group struct{ p, g, m, v []op.Tensor }
	groups := map[key]*group{}
	var order []key
	for i, p := range params {
		g := grads[i]
		if g == nil {
			continue
		}
		k := key{lr, c.WeightDecay, o.t[p.Name] + 1}
		if c.LRScale != nil {
			k.lr *= c.LRScale(p.Name)
		}
		if c.ExcludeNoDecay && p.NoDecay {
			k.wd = 0
		}
		m, ok := o.m[p.Name]
		if !ok {
			m = tp.Keep(tp.ZerosLike(p.T))
			o.m[p.Name] = m
			o.v[p.Name] = tp.Keep(tp.ZerosLike(p.T))
		}
		gr := groups[k]
		if gr == nil {
			gr = &group{}
			groups[k] = gr
			order = append(order, k)
		}
		gr.p, gr.g, gr.m, gr.v = append(gr.p, p.T), append(gr.g, g), append(gr.m, m), append(gr.v, o.v[p.Name])
	}
	for i, k := range order {
		gr := groups[k]
		t := float64(k.t)
		bc1, bc2 := 1-math.Pow(c.Beta1, t), 1-math.Pow(c.Beta2, t)
		if !op.ForeachAdamW(gr.p, gr.g, gr.m, gr.v, k.lr, c.Beta1, c.Beta2, c.Eps, k.wd, bc1, bc2) {
			if i > 0 {
				op.Fail(op.ForeachError("AdamW: the foreach update vanished mid-step"))
			}
			return false
		}
	}
	for i, p := range params {
		if grads[i] != nil {
			o.t[p.Name]++
		}
	}
	return true
}

// State copies the moments into checkpoint entries named
// prefix+<param>.exp_avg and prefix+<param>.exp_avg_sq and the update
// count into prefix+<param>.step (int64; PyTorch's state names).
func (o *AdamW) State(params *Params, prefix string) (out map[string]train.STensor, err error) {
	defer op.Catch(&err)
	out = map[string]train.STensor{}
	for _, p := range params.Trainable() {
		if m, ok := o.m[p.Name]; ok {
			out[prefix+p.Name+".exp_avg"] = train.STensor{Shape: slices.Clone(p.Shape), F32: op.ToFloat32(m)}
			out[prefix+p.Name+".exp_avg_sq"] = train.STensor{Shape: slices.Clone(p.Shape), F32: op.ToFloat32(o.v[p.Name])}
			out[prefix+p.Name+".step"] = train.STensor{Shape: []int64{1}, I64: []int64{o.t[p.Name]}}
		}
	}
	return out, nil
}

// SetState replaces the moments and update counts with those State wrote
// and sets the number of Step calls to steps; src names the checkpoint in
// errors. A parameter with a .step entry must have its moments; one
// without is fresh (it had no update yet). Checkpoints written before the
// .step entries have none: there, with steps > 0, every parameter must
// have its moments, and its count is steps.
func (o *AdamW) SetState(src string, params *Params, tensors map[string]train.STensor, prefix string, steps int64) (err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	o.Free()
	perParam := false
	for _, p := range params.Trainable() {
		if _, ok := tensors[prefix+p.Name+".step"]; ok {
			perParam = true
			break
		}
	}
	for _, p := range params.Trainable() {
		t := steps
		if perParam {
			s, ok := tensors[prefix+p.Name+".step"]
			if !ok {
				continue
			}
			if len(s.I64) != 1 || s.I64[0] < 1 {
				o.Free()
				return fmt.Errorf("%s: %w: optimizer state %s.step is not one positive int64", src, train.ErrBadCheckpoint, prefix+p.Name)
			}
			t = s.I64[0]
		}
		var pair [2]op.Tensor
		for i, name := range []string{".exp_avg", ".exp_avg_sq"} {
			s, ok := tensors[prefix+p.Name+name]
			if !ok {
				if t == 0 {
					break
				}
				o.Free()
				return fmt.Errorf("%s: %w: no optimizer state %s", src, train.ErrBadCheckpoint, prefix+p.Name+name)
			}
			if !slices.Equal(s.Shape, p.Shape) || s.F32 == nil {
				o.Free()
				return fmt.Errorf("%s: %w: optimizer state %s has shape %v, want %v", src, train.ErrBadCheckpoint, prefix+p.Name+name, s.Shape, p.Shape)
			}
			t, err := op.FromFloat32(s.F32, params.Device(), p.Shape...)
			if err != nil {
				o.Free()
				return err
			}
			pair[i] = t
		}
		if pair[0] != nil && pair[1] != nil {
			o.m[p.Name], o.v[p.Name], o.t[p.Name] = pair[0], pair[1], t
		}
	}
	o.steps = steps
	return nil
}

// Minimize back-propagates loss into params (their gradients cleared
// first), clips the global gradient norm at clip (0: no clipping) and
// applies one update with learning rate lr. It returns the norm before
// clipping; skipped reports a non-finite norm, in which case nothing is
// updated. Temporaries go on tp.
func (o *AdamW) Minimize(tp *op.Tape, params []*Param, loss op.Tensor, clip, lr float64) (gradNorm float64, skipped bool) {
	gradNorm, _, skipped = o.MinimizeReading(tp, params, loss, clip, lr)
	return gradNorm, skipped
}

// MinimizeReading is Minimize that also reads the one-element tensors stats
// (the loss, monitors) to the host together with the gradient norm: one
// device synchronization per step, after the backward pass is queued,
// instead of one per value. vals holds the stats' values in order.
func (o *AdamW) MinimizeReading(tp *op.Tape, params []*Param, loss op.Tensor, clip, lr float64, stats ...op.Tensor) (gradNorm float64, vals []float64, skipped bool) {
	ts := make([]op.Tensor, len(params))
	for i, p := range params {
		ts[i] = p.T
	}
	op.ClearGrads(ts)
	op.Backward(loss)
	restore := op.NoGrad()
	defer restore()
	grads := make([]op.Tensor, len(params))
	var present []op.Tensor
	for i, p := range params {
		if grads[i] = tp.Grad(p.T); grads[i] != nil {
			present = append(present, grads[i])
		}
	}
	read := slices.Clone(stats)
	if len(present) > 0 {
		read = append(read, op.TotalNorm(tp, present))
	}
	all := op.ReadScalars(tp, read...)
	vals = all[:len(stats)]
	if len(present) > 0 {
		gradNorm = all[len(stats)]
	}
	if !op.Finite(gradNorm) {
		return gradNorm, vals, true
	}
	if f := op.ClipFactor(gradNorm, clip); f != 1 {
		op.ForeachMulScalar(present, f)
	}
	o.Step(tp, params, grads, lr)
	return gradNorm, vals, false
}
