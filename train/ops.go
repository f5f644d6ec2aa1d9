package train

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// This file is the package's only door to libtorch. It calls gotch's C
// API (libtch) directly instead of gotch's ts wrappers because those leak
// a malloc(0) per op and, for in-place ops, the previous tensor handle:
// tens of kilobytes per training step. Every handle made here is freed by
// its owner: a tape (per step) or a module (parameters, buffers, state).

// tensor is a libtorch tensor handle (a heap-allocated at::Tensor).
type tensor = lib.Ctensor

// torchError carries a libtorch error through a panic inside this package;
// catch turns it back into an error at the API boundary. No other panic is
// recovered.
type torchError struct{ err error }

// catch recovers a torchError and stores it in *err.
func catch(err *error) {
	if r := recover(); r != nil {
		te, ok := r.(torchError)
		if !ok {
			panic(r)
		}
		if *err == nil {
			*err = fmt.Errorf("train: libtorch: %w", te.err)
		}
	}
}

// check panics with a torchError when libtorch recorded an error.
func check() {
	if err := ts.TorchErr(); err != nil {
		panic(torchError{err})
	}
}

// free releases a handle (nil is ignored).
func free(t tensor) {
	if t != nil {
		lib.AtFree(t)
	}
}

// lockThread pins the calling goroutine to its OS thread (gotch reads a
// thread-local error after each call) and returns the unlock function.
func lockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// tape owns the tensors made during one computation (a training step, an
// evaluation batch) and frees them all in Drop. Its ops panic with a
// torchError on failure; public entry points recover with catch.
type tape struct {
	held []tensor
	// bf16 is autocast to bfloat16 as torch.autocast does it on CUDA:
	// convolutions and linear layers take bfloat16 copies of their inputs
	// and weights and return bfloat16; BatchNorm, ReLU, pooling and adds
	// run on what they get (BatchNorm keeps float32 parameters and
	// statistics); backbone features (the global average pool) and head
	// outputs come back as float32 for the loss.
	bf16 bool
}

func (tp *tape) own(t tensor) tensor {
	check()
	tp.held = append(tp.held, t)
	return t
}

// Drop frees every tensor the tape holds.
func (tp *tape) Drop() {
	for _, t := range tp.held {
		lib.AtFree(t)
	}
	tp.held = tp.held[:0]
}

// inplace checks an in-place op and frees the alias handle it returned.
func inplace(out tensor) {
	check()
	free(out)
}

func i64s(v ...int64) []int64 { return v }

func (tp *tape) toDtype(x tensor, dt gotch.DType) tensor {
	var out tensor
	lib.AtgToDtype(&out, x, int32(dt.CKind()), 0, 0)
	return tp.own(out)
}

func (tp *tape) conv2d(x, w, b tensor, stride, pad int64) tensor {
	var out tensor
	if tp.bf16 {
		xb, wb := tp.toDtype(x, gotch.BFloat16), tp.toDtype(w, gotch.BFloat16)
		var bb tensor
		if b != nil {
			bb = tp.toDtype(b, gotch.BFloat16)
		}
		lib.AtgConv2d(&out, xb, wb, bb, i64s(stride, stride), 2, i64s(pad, pad), 2, i64s(1, 1), 2, 1)
		return tp.own(out)
	}
	lib.AtgConv2d(&out, x, w, b, i64s(stride, stride), 2, i64s(pad, pad), 2, i64s(1, 1), 2, 1)
	return tp.own(out)
}

func (tp *tape) linear(x, w, b tensor) tensor {
	var out tensor
	if tp.bf16 {
		xb, wb := tp.toDtype(x, gotch.BFloat16), tp.toDtype(w, gotch.BFloat16)
		var bb tensor
		if b != nil {
			bb = tp.toDtype(b, gotch.BFloat16)
		}
		lib.AtgLinear(&out, xb, wb, bb)
		return tp.own(out)
	}
	lib.AtgLinear(&out, x, w, b)
	return tp.own(out)
}

// batchNorm is torch.nn.functional.batch_norm: batch statistics (biased
// variance) in training, running statistics updated with momentum and the
// unbiased variance.
func (tp *tape) batchNorm(x, w, b, rm, rv tensor, train bool, momentum, eps float64) tensor {
	var out tensor
	t := int32(0)
	if train {
		t = 1
	}
	lib.AtgBatchNorm(&out, x, w, b, rm, rv, t, momentum, eps, 1)
	return tp.own(out)
}

func (tp *tape) relu(x tensor) tensor {
	var out tensor
	lib.AtgRelu(&out, x)
	return tp.own(out)
}

func (tp *tape) maxPool2d(x tensor, k, s, p int64) tensor {
	var out tensor
	lib.AtgMaxPool2d(&out, x, i64s(k, k), 2, i64s(s, s), 2, i64s(p, p), 2, i64s(1, 1), 2, 0)
	return tp.own(out)
}

// meanDims averages over dims (float32 result).
func (tp *tape) meanDims(x tensor, keep bool, dims ...int64) tensor {
	var out tensor
	k := int32(0)
	if keep {
		k = 1
	}
	lib.AtgMeanDim(&out, x, dims, len(dims), k, int32(gotch.Float.CKind()))
	return tp.own(out)
}

func (tp *tape) sumDims(x tensor, keep bool, dims ...int64) tensor {
	var out tensor
	k := int32(0)
	if keep {
		k = 1
	}
	lib.AtgSumDimIntlist(&out, x, dims, len(dims), k, int32(gotch.Float.CKind()))
	return tp.own(out)
}

func (tp *tape) sumAll(x tensor) tensor {
	var out tensor
	lib.AtgSum(&out, x, int32(gotch.Float.CKind()))
	return tp.own(out)
}

func (tp *tape) mean(x tensor) tensor {
	var out tensor
	lib.AtgMean(&out, x, int32(gotch.Float.CKind()))
	return tp.own(out)
}

func (tp *tape) add(a, b tensor) tensor {
	var out tensor
	lib.AtgAdd(&out, a, b)
	return tp.own(out)
}

func (tp *tape) sub(a, b tensor) tensor {
	var out tensor
	lib.AtgSub(&out, a, b)
	return tp.own(out)
}

func (tp *tape) mul(a, b tensor) tensor {
	var out tensor
	lib.AtgMul(&out, a, b)
	return tp.own(out)
}

func (tp *tape) div(a, b tensor) tensor {
	var out tensor
	lib.AtgDiv(&out, a, b)
	return tp.own(out)
}

func (tp *tape) mulScalar(a tensor, v float64) tensor {
	var out tensor
	s := lib.AtsFloat(v)
	lib.AtgMulScalar(&out, a, s)
	lib.AtsFree(s)
	return tp.own(out)
}

func (tp *tape) addScalar(a tensor, v float64) tensor {
	var out tensor
	s := lib.AtsFloat(v)
	lib.AtgAddScalar(&out, a, s)
	lib.AtsFree(s)
	return tp.own(out)
}

func (tp *tape) clampMin(a tensor, v float64) tensor {
	var out tensor
	s := lib.AtsFloat(v)
	lib.AtgClampMin(&out, a, s)
	lib.AtsFree(s)
	return tp.own(out)
}

func (tp *tape) sqrt(a tensor) tensor {
	var out tensor
	lib.AtgSqrt(&out, a)
	return tp.own(out)
}

func (tp *tape) detach(a tensor) tensor {
	var out tensor
	lib.AtgDetach(&out, a)
	return tp.own(out)
}

func (tp *tape) flatten(a tensor) tensor {
	var out tensor
	lib.AtgFlatten(&out, a, 1, -1)
	return tp.own(out)
}

func (tp *tape) cat(xs []tensor, dim int64) tensor {
	var out tensor
	lib.AtgCat(&out, xs, len(xs), dim)
	return tp.own(out)
}

func (tp *tape) narrow(x tensor, dim, start, length int64) tensor {
	var out tensor
	lib.AtgNarrow(&out, x, dim, start, length)
	return tp.own(out)
}

func (tp *tape) to(x tensor, dev gotch.Device) tensor {
	var out tensor
	lib.AtgTo(&out, x, int32(dev.CInt()))
	return tp.own(out)
}

// grad returns x's gradient (an alias of x.grad) or nil when undefined.
func (tp *tape) grad(x tensor) tensor {
	var out tensor
	lib.AtgGrad(&out, x)
	check()
	if !lib.AtDefined(out) {
		free(out)
		return nil
	}
	tp.held = append(tp.held, out)
	return out
}

// In-place ops (no tape: they return nothing new).

func mulScalar_(x tensor, v float64) {
	var out tensor
	s := lib.AtsFloat(v)
	lib.AtgMulScalar_(&out, x, s)
	lib.AtsFree(s)
	inplace(out)
}

func add_(x, y tensor) {
	var out tensor
	lib.AtgAdd_(&out, x, y)
	inplace(out)
}

func mul_(x, y tensor) {
	var out tensor
	lib.AtgMul_(&out, x, y)
	inplace(out)
}

func zero_(x tensor) {
	var out tensor
	lib.AtgZero_(&out, x)
	inplace(out)
}

func copy_(dst, src tensor) {
	lib.AtCopy_(dst, src)
	check()
}

func requiresGrad_(x tensor, on bool) {
	var out tensor
	r := int32(0)
	if on {
		r = 1
	}
	lib.AtgRequiresGrad_(&out, x, r)
	inplace(out)
}

func backward(loss tensor) {
	lib.AtBackward(loss, 0, 0)
	check()
}

// noGrad disables autograd until the returned function is called.
func noGrad() func() {
	prev := lib.AtGradSetEnabled(0)
	return func() { lib.AtGradSetEnabled(prev) }
}

// shape returns x's sizes.
func shape(x tensor) []int64 {
	n := lib.AtDim(x)
	check()
	s := make([]int64, n)
	if n > 0 {
		lib.AtShape(x, unsafe.Pointer(&s[0]))
		check()
	}
	return s
}

func numel(s []int64) int64 {
	n := int64(1)
	for _, d := range s {
		n *= d
	}
	return n
}

// fromFloat32 copies data into a new float32 CPU tensor (caller owns it).
func fromFloat32(data []float32, dims ...int64) (tensor, error) {
	n := numel(dims)
	if int64(len(data)) != n || n == 0 {
		return nil, fmt.Errorf("train: %d values for shape %v", len(data), dims)
	}
	c := lib.AtTensorOfData(unsafe.Pointer(&data[0]), dims, uint(len(dims)), 4, int(gotch.Float.CKind()))
	if err := ts.TorchErr(); err != nil {
		return nil, err
	}
	return c, nil
}

// fromInt64 copies data into a new int64 CPU tensor.
func fromInt64(data []int64, dims ...int64) (tensor, error) {
	if int64(len(data)) != numel(dims) || len(data) == 0 {
		return nil, fmt.Errorf("train: %d values for shape %v", len(data), dims)
	}
	c := lib.AtTensorOfData(unsafe.Pointer(&data[0]), dims, uint(len(dims)), 8, int(gotch.Int64.CKind()))
	if err := ts.TorchErr(); err != nil {
		return nil, err
	}
	return c, nil
}

// toFloat32 copies a tensor (any device, float dtype) into a Go slice.
func toFloat32(x tensor) []float32 {
	var tp tape
	defer tp.Drop()
	c := tp.toDtype(tp.to(x, gotch.CPU), gotch.Float)
	var cc tensor
	lib.AtgContiguous(&cc, c)
	tp.own(cc)
	n := numel(shape(cc))
	out := make([]float32, n)
	if n > 0 {
		lib.AtCopyData(cc, unsafe.Pointer(&out[0]), uint(n), 4)
		check()
	}
	return out
}

// scalar reads a one-element tensor.
func scalar(x tensor) float64 {
	v := toFloat32(x)
	if len(v) != 1 {
		panic(torchError{errors.New("tensor is not a scalar")})
	}
	return float64(v[0])
}

// libTo moves x to dev into *out (no tape).
func libTo(out *tensor, x tensor, dev gotch.Device) {
	lib.AtgTo(out, x, int32(dev.CInt()))
	check()
}

// keep removes t from the tape so that Drop does not free it; the caller
// owns it.
func (tp *tape) keep(t tensor) tensor {
	for i := len(tp.held) - 1; i >= 0; i-- {
		if tp.held[i] == t {
			tp.held = append(tp.held[:i], tp.held[i+1:]...)
			break
		}
	}
	return t
}

func (tp *tape) adaptiveAvgPool2d(x tensor, p int64) tensor {
	var out tensor
	lib.AtgAdaptiveAvgPool2d(&out, x, i64s(p, p), 2)
	return tp.own(out)
}

func (tp *tape) zerosLike(x tensor) tensor {
	var out tensor
	lib.AtgZerosLike(&out, x)
	return tp.own(out)
}
