package sslkit

import (
	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// StepOptions are what a one-network training step (TrainStep) takes
// besides the network, the optimizer and the batch.
type StepOptions struct {
	// BF16 runs the forward pass under bfloat16 autocast (op.Tape.BF16).
	BF16 bool
	// SkipNonFinite skips the update (Stepped.Skipped) when the loss or
	// the gradient norm is NaN or Inf.
	SkipNonFinite bool
	// LR is the learning rate of the update, Clip the bound of the
	// gradients' global norm (0: no clipping).
	LR, Clip float64
	// Reduce averages the gradients across data-parallel ranks
	// (train.StepInfo.Reduce; nil in one process).
	Reduce func([]op.Tensor) error
}

// Stepped is what TrainStep reports.
type Stepped struct {
	// Vals are the values of the tensors the loss function returned, the
	// loss first.
	Vals []float64
	// GradNorm is the gradients' global norm after the reduction across
	// ranks, before clipping.
	GradNorm float64
	Skipped  bool
}

// TrainStep is one optimization step of the network p (the pretext
// methods', SOP's) on a locked OS thread: loss builds on the tape the
// loss, followed by any further one-element tensors to read in the same
// device synchronization; then back-propagation into p's trainable
// tensors, the gradients' reduction across ranks (ReduceGrads), a skip
// when o.SkipNonFinite and the loss or the reduced norm is not finite,
// clipping at o.Clip and one update of opt at o.LR. The tape's
// temporaries are freed on return; loss may raise libtorch errors (see
// op.Catch).
func TrainStep(p *nn.Params, opt *nn.Optimizer, o StepOptions, loss func(tp *op.Tape) []op.Tensor) (r Stepped, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	var tp op.Tape
	tp.BF16 = o.BF16
	defer tp.Drop()
	ts := loss(&tp)
	params := p.Trainable()
	grads, norm, vals, _ := nn.Backward(&tp, params, ts[0], ts...)
	restore := op.NoGrad()
	defer restore()
	r.Vals, r.GradNorm = vals, ReduceGrads(&tp, grads, o.Reduce, norm)
	if o.SkipNonFinite && !(op.Finite(r.GradNorm) && op.Finite(vals[0])) {
		r.Skipped = true
		return r, nil
	}
	nn.ClipGrads(grads, r.GradNorm, o.Clip)
	opt.Step(&tp, params, grads, o.LR)
	return r, nil
}

// ClassifierStep is TrainStep for a classifier: the mean cross-entropy
// of the logits (N x classes, float32) that forward builds against the
// labels y (N, int64); it returns the loss, the fraction of the N
// predictions (argmax) that are right, the reduced gradient norm and
// whether the update was skipped.
func ClassifierStep(p *nn.Params, opt *nn.Optimizer, o StepOptions, y op.Tensor, forward func(tp *op.Tape) op.Tensor) (loss, acc, gradNorm float64, skipped bool, err error) {
	var n float64
	r, err := TrainStep(p, opt, o, func(tp *op.Tape) []op.Tensor {
		logits := forward(tp)
		n = float64(op.Shape(y)[0])
		return []op.Tensor{tp.CrossEntropy(logits, y), tp.CountEqual(tp.Argmax(logits, 1), y)}
	})
	if err != nil {
		return 0, 0, 0, false, err
	}
	return r.Vals[0], r.Vals[1] / n, r.GradNorm, r.Skipped, nil
}

// LabeledToDevice copies a batch of inputs (float32, of shape shape) and
// their class labels (int64) to dev; the caller frees both tensors.
func LabeledToDevice(x []float32, shape [4]int, labels []int64, dev gotch.Device) (xt, yt op.Tensor, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	xt = tp.Keep(tp.To(tp.Float32(x, gotch.CPU, int64(shape[0]), int64(shape[1]), int64(shape[2]), int64(shape[3])), dev))
	yt = tp.Keep(tp.To(tp.Int64(labels, gotch.CPU, int64(len(labels))), dev))
	return xt, yt, nil
}
