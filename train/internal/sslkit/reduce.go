package sslkit

import (
	"github.com/sslpipe/sslpipe/train/op"
)

// ReduceGrads averages grads across data-parallel ranks with reduce (the
// core's train.StepInfo.Reduce) and returns their global norm afterwards;
// with a nil reduce it returns localNorm. Every rank must call it each
// step, whatever its own gradients (the reduction is a collective), and
// decide to skip a non-finite step from the returned norm, which all
// ranks share. Runs under op.NoGrad; raises libtorch errors for op.Catch.
func ReduceGrads(tp *op.Tape, grads []op.Tensor, reduce func([]op.Tensor) error, localNorm float64) float64 {
	if reduce == nil {
		return localNorm
	}
	if err := reduce(grads); err != nil {
		op.Fail(err)
	}
	var present []op.Tensor
	for _, g := range grads {
		if g != nil {
			present = append(present, g)
		}
	}
	if len(present) == 0 {
		return 0
	}
	return op.ReadScalars(tp, op.TotalNorm(tp, present))[0]
}
