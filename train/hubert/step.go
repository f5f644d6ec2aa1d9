package hubert

import (
	"math"
	"strings"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// StepResult reports one optimizer step.
type StepResult struct {
	Loss, LossM, LossU, FeatPen float64
	CorrectM, CountM            int
	CorrectU, CountU            int
	GradNorm                    float64 // before clipping
	Skipped                     bool    // non-finite loss: no update
}

// AccM is the masked-frame accuracy of the step.
func (r StepResult) AccM() float64 { return ratio(r.CorrectM, r.CountM) }

// AccU is the unmasked-frame accuracy of the step.
func (r StepResult) AccU() float64 { return ratio(r.CorrectU, r.CountU) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Optimizer owns a model's AdamW state.
type Optimizer struct {
	m   *Model
	cfg OptimConfig
	opt *tr.AdamW
}

// NewOptimizer makes fairseq's HuBERT optimizer for m.
func NewOptimizer(m *Model, cfg OptimConfig) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ac := tr.AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay, ExcludeNoDecay: cfg.ExcludeNoDecay}
	if s := cfg.CNNLRScale; s > 0 && s != 1 {
		ac.LRScale = func(name string) float64 {
			if strings.HasPrefix(name, cnnPrefix) {
				return s
			}
			return 1
		}
	}
	return &Optimizer{m: m, cfg: cfg, opt: tr.NewAdamW(ac)}, nil
}

// Free releases the optimizer state.
func (o *Optimizer) Free() { o.opt.Free() }

// Steps is the number of updates applied.
func (o *Optimizer) Steps() int64 { return o.opt.Steps() }

// State returns the AdamW moments as checkpoint entries "optim.<param>.exp_avg"
// and "optim.<param>.exp_avg_sq".
func (o *Optimizer) State() (map[string]train.STensor, error) {
	return o.opt.State(o.m.Params, "optim.")
}

// SetState restores what State returned after steps updates.
func (o *Optimizer) SetState(src string, ts map[string]train.STensor, steps int64) error {
	return o.opt.SetState(src, o.m.Params, ts, "optim.", steps)
}

// Step runs forward and backward on b, clips the gradient norm and applies
// one AdamW update with learning rate lr. A non-finite loss skips the
// update (Skipped). The caller locks the OS thread.
func (o *Optimizer) Step(b *Batch, lr float64) (r StepResult, err error) {
	defer tr.Catch(&err)
	var tp tr.Tape
	defer tp.Drop()
	out := o.m.Loss(&tp, b)
	r.Loss = tr.Scalar(out.Loss)
	r.FeatPen = tr.Scalar(out.FeatPen)
	if out.LossM != nil {
		r.LossM = tr.Scalar(out.LossM)
	}
	if out.LossU != nil {
		r.LossU = tr.Scalar(out.LossU)
	}
	r.CorrectM, r.CountM, r.CorrectU, r.CountU = out.CorrectM, out.CountM, out.CorrectU, out.CountU
	if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
		r.Skipped = true
		return r, nil
	}
	r.GradNorm, r.Skipped = o.opt.Minimize(&tp, o.m.Params.List(), out.Loss, o.cfg.ClipGradNorm, lr)
	return r, nil
}

// Eval runs the model on b without updating it (no dropout unless
// b.Train) and returns the same statistics.
func (m *Model) Eval(b *Batch) (r StepResult, err error) {
	defer tr.Catch(&err)
	restore := tr.NoGrad()
	defer restore()
	var tp tr.Tape
	defer tp.Drop()
	out := m.Loss(&tp, b)
	r.Loss = tr.Scalar(out.Loss)
	r.FeatPen = tr.Scalar(out.FeatPen)
	if out.LossM != nil {
		r.LossM = tr.Scalar(out.LossM)
	}
	if out.LossU != nil {
		r.LossU = tr.Scalar(out.LossU)
	}
	r.CorrectM, r.CountM, r.CorrectU, r.CountU = out.CorrectM, out.CountM, out.CorrectU, out.CountU
	return r, nil
}

// Sync waits for the device's queued work (CUDA); a no-op on the CPU.
func Sync(dev gotch.Device) (err error) {
	if !dev.IsCuda() {
		return nil
	}
	defer tr.Catch(&err)
	lib.AtcSynchronize(int64(dev.Value))
	tr.Check()
	return nil
}
