package op

import (
	"math"
	"sync/atomic"

	lib "github.com/sugarme/gotch/libtch"
)

// Multi-tensor ("foreach") updates. On a GPU a 100-tensor model's AdamW,
// gradient clip and EMA update cost about ten kernel launches per tensor
// when written per tensor, more than the step's matrix products at small
// sizes; libtorch's _foreach ops do each with a few launches for the whole
// list. The shim compiles them (internal/shim's extras); where the loaded
// libtorch lacks one, the per-tensor form runs instead (same arithmetic up
// to rounding).

// foreachOp remembers that the loaded libtorch lacks one foreach op (its
// shim function is the silent stub), so later calls go straight to the
// per-tensor form.
type foreachOp struct{ missing atomic.Bool }

var (
	foreachOffAll                                 atomic.Bool
	opMul, opEMA, opAdamW, opSGD, opNorm, opClear foreachOp
)

// DisableForeach switches the multi-tensor updates off (true) or back on
// (tests compare the two forms).
func DisableForeach(off bool) { foreachOffAll.Store(off) }

// ForeachAvailable reports whether every multi-tensor op has run (or not
// been tried yet) in this process: false once one was found missing.
func ForeachAvailable() bool {
	for _, o := range []*foreachOp{&opMul, &opEMA, &opAdamW, &opSGD, &opNorm, &opClear} {
		if !o.use() {
			return false
		}
	}
	return true
}

// ForeachAdamW applies one AdamW update to parameters p with gradients g
// and moments m, v (bias corrections bc1, bc2; see the shim's
// sslpipe_foreach_adamw) and reports whether it ran: false, having changed
// nothing, where the loaded libtorch lacks a foreach op (the caller runs
// the per-tensor form).
func ForeachAdamW(p, g, m, v []Tensor, lr, beta1, beta2, eps, wd, bc1, bc2 float64) bool {
	if len(p) == 0 {
		return true
	}
	return opAdamW.use() && opAdamW.ran(lib.SslpipeForeachAdamW(p, g, m, v, lr, beta1, beta2, eps, wd, bc1, bc2))
}

func (o *foreachOp) use() bool { return !foreachOffAll.Load() && !o.missing.Load() }

// ran interprets a shim foreach call's result: true when it ran; false
// when the op is missing (the caller falls back); a libtorch error is
// raised.
func (o *foreachOp) ran(rc int) bool {
	switch rc {
	case 1:
		return true
	case 0:
		o.missing.Store(true)
		return false
	default:
		Check()
		Fail(errForeach)
		return false
	}
}

var errForeach = ForeachError("libtorch foreach op failed")

// ForeachError is an inconsistency in a multi-tensor update.
type ForeachError string

func (e ForeachError) Error() string { return string(e) }

// ForeachSGD applies one SGD-with-momentum update (torch.optim.SGD's
// multi-tensor form: d = g + wd·p; buf = momentum·buf + d; p -= lr·buf;
// buf unused when momentum is 0) and reports whether it ran: false, having
// changed nothing, where the loaded libtorch lacks a foreach op.
func ForeachSGD(p, g, buf []Tensor, lr, momentum, wd float64) bool {
	if len(p) == 0 {
		return true
	}
	return opSGD.use() && opSGD.ran(lib.SslpipeForeachSGD(p, g, buf, lr, momentum, wd))
}

// ForeachMulScalar is x *= s for every tensor of xs.
func ForeachMulScalar(xs []Tensor, s float64) {
	if len(xs) == 0 {
		return
	}
	if opMul.use() && opMul.ran(lib.SslpipeForeachMulScalar(xs, s)) {
		return
	}
	for _, x := range xs {
		MulScalarInPlace(x, s)
	}
}

// ForeachEMA is dst_i = tau·dst_i + (1-tau)·src_i (EMA teachers).
func ForeachEMA(dst, src []Tensor, tau float64) {
	if len(dst) != len(src) {
		Fail(ForeachError("ForeachEMA: lists of different lengths"))
	}
	if len(dst) == 0 {
		return
	}
	if opEMA.use() && opEMA.ran(lib.SslpipeForeachEMA(dst, src, tau)) {
		return
	}
	for i := range dst {
		LerpInPlace(dst[i], src[i], 1-tau)
	}
}

// ClearGrads sets the gradients of xs to undefined, as PyTorch's
// zero_grad(set_to_none=True): the next backward allocates fresh ones, and
// a tensor that gets none is skipped by the optimizer. Where the shim
// lacks it the gradients are zeroed instead.
func ClearGrads(xs []Tensor) {
	if opClear.use() && opClear.ran(lib.SslpipeClearGrads(xs)) {
		return
	}
	for _, x := range xs {
		ZeroGrad(x)
	}
}

// TotalNorm is the 2-norm of all tensors together (xs not empty), a
// one-element tensor on their device owned by tp: no host synchronization.
func TotalNorm(tp *Tape, xs []Tensor) Tensor {
	if opNorm.use() {
		var out Tensor
		if opNorm.ran(lib.SslpipeTotalNorm(xs, &out)) {
			return tp.Own(out)
		}
	}
	sq := make([]Tensor, len(xs))
	for i, g := range xs {
		sq[i] = tp.Reshape(tp.Sum(tp.Mul(g, g)), 1)
	}
	return tp.Sqrt(tp.Sum(tp.Cat(sq, 0)))
}

// ClipFactor is the factor ClipGradNorm scales gradients by for a norm:
// max/(norm+1e-6) when norm > max > 0, else 1 (torch's clip_grad_norm_).
func ClipFactor(norm, max float64) float64 {
	if max > 0 && norm > max {
		return max / (norm + 1e-6)
	}
	return 1
}

// Finite reports whether v is neither NaN nor infinite.
func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
