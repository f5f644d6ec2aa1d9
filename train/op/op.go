package op

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// Tensor is a libtorch tensor handle. Handles made by a Tape belong to the
// Tape; handles returned by FromFloat32/FromInt64/FromBool belong to the
// caller, who frees them with Free (or hands them to a Tape with Own).
type Tensor = lib.Ctensor

// torchError carries a libtorch error through a panic inside the speech
// model packages; Catch turns it back into an error at the API boundary.
// No other panic is recovered.
type torchError struct{ err error }

// Catch recovers a libtorch error raised by a Tape op (or Check) and stores
// it in *err (when *err is nil). Every exported function that runs Tape
// ops defers Catch; other panics propagate.
func Catch(err *error) {
	if r := recover(); r != nil {
		te, ok := r.(torchError)
		if !ok {
			panic(r)
		}
		if *err == nil {
			*err = fmt.Errorf("libtorch: %w", te.err)
		}
	}
}

// Check raises (as a panic that Catch recovers) the error libtorch recorded
// for the last call on this OS thread.
func Check() {
	if err := ts.TorchErr(); err != nil {
		panic(torchError{err})
	}
}

// Fail raises err as a libtorch error (recovered by Catch).
func Fail(err error) { panic(torchError{err}) }

// LockThread pins the goroutine to its OS thread (libtorch reports errors
// through a thread-local) and returns the unlock function.
func LockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// Free releases a caller-owned handle (nil is ignored).
func Free(t Tensor) {
	if t != nil {
		lib.AtFree(t)
	}
}

// Tape owns the tensors made during one computation (a training step, an
// evaluation batch) and frees them all in Drop. Its ops raise libtorch
// errors as panics recovered by Catch. A Tape is not safe for concurrent
// use; run it on one locked OS thread (LockThread).
type Tape struct {
	held []Tensor
	// BF16 runs matrix products and convolutions in bfloat16 (results are
	// cast back to float32), the CUDA autocast policy.
	BF16 bool
}

// Own hands t to the tape (after checking the last libtorch call).
func (tp *Tape) Own(t Tensor) Tensor {
	Check()
	tp.held = append(tp.held, t)
	return t
}

// Keep removes t from the tape: Drop will not free it; the caller owns it.
func (tp *Tape) Keep(t Tensor) Tensor {
	for i := len(tp.held) - 1; i >= 0; i-- {
		if tp.held[i] == t {
			tp.held = append(tp.held[:i], tp.held[i+1:]...)
			break
		}
	}
	return t
}

// Drop frees every tensor the tape holds; the tape can be reused.
func (tp *Tape) Drop() {
	for _, t := range tp.held {
		lib.AtFree(t)
	}
	tp.held = tp.held[:0]
}

// Len is the number of tensors held (for leak tests).
func (tp *Tape) Len() int { return len(tp.held) }

func b32(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// ToDtype casts x.
func (tp *Tape) ToDtype(x Tensor, dt gotch.DType) Tensor {
	var out Tensor
	lib.AtgToDtype(&out, x, int32(dt.CKind()), 0, 0)
	return tp.Own(out)
}

// To moves x to dev.
func (tp *Tape) To(x Tensor, dev gotch.Device) Tensor {
	var out Tensor
	lib.AtgTo(&out, x, int32(dev.CInt()))
	return tp.Own(out)
}

func (tp *Tape) lowp(x Tensor) Tensor {
	if x == nil || !tp.BF16 {
		return x
	}
	return tp.ToDtype(x, gotch.BFloat16)
}

func (tp *Tape) highp(x Tensor) Tensor {
	if !tp.BF16 {
		return x
	}
	return tp.ToDtype(x, gotch.Float)
}

// Conv1d is torch.nn.functional.conv1d (x: B x Cin x L, w: Cout x Cin/groups x K; b may be nil).
func (tp *Tape) Conv1d(x, w, b Tensor, stride, pad, groups int64) Tensor {
	var out Tensor
	lib.AtgConv1d(&out, tp.lowp(x), tp.lowp(w), tp.lowp(b), []int64{stride}, 1, []int64{pad}, 1, []int64{1}, 1, groups)
	return tp.highp(tp.Own(out))
}

// Conv2d is torch.nn.functional.conv2d with square stride and padding
// (x: B x Cin x H x W, w: Cout x Cin/groups x K x K; b may be nil).
func (tp *Tape) Conv2d(x, w, b Tensor, stride, pad, groups int64) Tensor {
	var out Tensor
	lib.AtgConv2d(&out, tp.lowp(x), tp.lowp(w), tp.lowp(b), []int64{stride, stride}, 2, []int64{pad, pad}, 2, []int64{1, 1}, 2, groups)
	return tp.highp(tp.Own(out))
}

// Linear is x·wᵀ + b (b may be nil).
func (tp *Tape) Linear(x, w, b Tensor) Tensor {
	var out Tensor
	lib.AtgLinear(&out, tp.lowp(x), tp.lowp(w), tp.lowp(b))
	return tp.highp(tp.Own(out))
}

// Matmul is torch.matmul.
func (tp *Tape) Matmul(a, b Tensor) Tensor {
	var out Tensor
	lib.AtgMatmul(&out, tp.lowp(a), tp.lowp(b))
	return tp.highp(tp.Own(out))
}

// LayerNorm normalizes over the last dimension (size n).
func (tp *Tape) LayerNorm(x, w, b Tensor, n int64, eps float64) Tensor {
	var out Tensor
	lib.AtgLayerNorm(&out, x, []int64{n}, 1, w, b, eps, 1)
	return tp.Own(out)
}

// GroupNorm is torch.nn.functional.group_norm (x: B x C x ...).
func (tp *Tape) GroupNorm(x Tensor, groups int64, w, b Tensor, eps float64) Tensor {
	var out Tensor
	lib.AtgGroupNorm(&out, x, groups, w, b, eps, 1)
	return tp.Own(out)
}

// Gelu is the exact (erf) GELU. On the CPU it is computed as
// 0.5·x·(1 + erf(x/√2)) with elementary ops when the loaded libtorch's
// native GELU has the backward bug described at NativeGELUBackwardOK.
func (tp *Tape) Gelu(x Tensor) Tensor {
	// gotch's AtDevice reads 8 bytes of a C int: only the low 32 bits are the device (-1: CPU).
	if int32(lib.AtDevice(x)) < 0 && !NativeGELUBackwardOK() {
		var e Tensor
		lib.AtgErf(&e, tp.MulScalar(x, 1/math.Sqrt2))
		e = tp.Own(e)
		return tp.Mul(tp.MulScalar(x, 0.5), tp.AddScalar(e, 1))
	}
	var out Tensor
	lib.AtgGelu(&out, x, "none")
	return tp.Own(out)
}

// GeluNative is libtorch's GELU without the CPU bug check. Use it only
// where the gradient that reaches its output is contiguous (it feeds a
// convolution, a linear layer or elementwise ops on the same layout, not a
// transpose or narrow): then the buggy kernel path is never taken. The
// speech models use it on all their GELUs, and TestParityTorchaudio checks
// their gradients.
func (tp *Tape) GeluNative(x Tensor) Tensor {
	var out Tensor
	lib.AtgGelu(&out, x, "none")
	return tp.Own(out)
}

var geluOnce struct {
	sync.Once
	ok bool
}

// NativeGELUBackwardOK reports whether libtorch's CPU GELU backward gives
// the same gradient for a non-contiguous (transposed) incoming gradient as
// for a contiguous one. Debian's libtorch 1.13.1 does not: the gradient of
// mean(gelu(x)ᵀ²) differs from that of mean(gelu(x)²) and changes from run
// to run (torch.nn.functional.gelu in Python on the same library shows it
// too), which silently corrupts the wav2vec 2.0 CNN's gradients (its output
// is transposed). The check runs once per process on a 2 x 16 x 50 tensor.
func NativeGELUBackwardOK() bool {
	geluOnce.Do(func() {
		geluOnce.ok = geluSelfTest()
	})
	return geluOnce.ok
}

func geluSelfTest() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	defer LockThread()()
	vals := make([]float32, 2*16*50)
	for i := range vals {
		vals[i] = float32(math.Sin(float64(i)*0.37)) * 2
	}
	grads := make([][]float32, 2)
	for k := range grads {
		var tp Tape
		x, err := FromFloat32(vals, gotch.CPU, 2, 16, 50)
		if err != nil {
			return false
		}
		tp.Own(x)
		RequiresGrad(x, true)
		var g Tensor
		lib.AtgGelu(&g, x, "none")
		g = tp.Own(g)
		if k == 1 {
			g = tp.Transpose(g, 1, 2)
		}
		Backward(tp.Mean(tp.Mul(g, g)))
		grads[k] = ToFloat32(tp.Grad(x))
		tp.Drop()
	}
	for i := range grads[0] {
		if math.Abs(float64(grads[0][i]-grads[1][i])) > 1e-6 {
			return false
		}
	}
	return true
}

// Softmax over dim (float32).
func (tp *Tape) Softmax(x Tensor, dim int64) Tensor {
	var out Tensor
	lib.AtgSoftmax(&out, x, dim, int32(gotch.Float.CKind()))
	return tp.Own(out)
}

// LogSoftmax over dim (float32).
func (tp *Tape) LogSoftmax(x Tensor, dim int64) Tensor {
	var out Tensor
	lib.AtgLogSoftmax(&out, x, dim, int32(gotch.Float.CKind()))
	return tp.Own(out)
}

// Dropout zeroes elements with probability p when train is set (libtorch's
// generator, seeded by train.ManualSeed).
func (tp *Tape) Dropout(x Tensor, p float64, train bool) Tensor {
	if p <= 0 || !train {
		return x
	}
	var out Tensor
	lib.AtgDropout(&out, x, p, 1)
	return tp.Own(out)
}

// Add, Sub, Mul, Div are elementwise with broadcasting.
func (tp *Tape) Add(a, b Tensor) Tensor {
	var out Tensor
	lib.AtgAdd(&out, a, b)
	return tp.Own(out)
}

// Sub is a - b.
func (tp *Tape) Sub(a, b Tensor) Tensor {
	var out Tensor
	lib.AtgSub(&out, a, b)
	return tp.Own(out)
}

// Mul is a * b.
func (tp *Tape) Mul(a, b Tensor) Tensor {
	var out Tensor
	lib.AtgMul(&out, a, b)
	return tp.Own(out)
}

// Div is a / b.
func (tp *Tape) Div(a, b Tensor) Tensor {
	var out Tensor
	lib.AtgDiv(&out, a, b)
	return tp.Own(out)
}

// MulScalar is a * v.
func (tp *Tape) MulScalar(a Tensor, v float64) Tensor {
	var out Tensor
	s := lib.AtsFloat(v)
	lib.AtgMulScalar(&out, a, s)
	lib.AtsFree(s)
	return tp.Own(out)
}

// AddScalar is a + v.
func (tp *Tape) AddScalar(a Tensor, v float64) Tensor {
	var out Tensor
	s := lib.AtsFloat(v)
	lib.AtgAddScalar(&out, a, s)
	lib.AtsFree(s)
	return tp.Own(out)
}

// ClampMin is max(a, v).
func (tp *Tape) ClampMin(a Tensor, v float64) Tensor {
	var out Tensor
	s := lib.AtsFloat(v)
	lib.AtgClampMin(&out, a, s)
	lib.AtsFree(s)
	return tp.Own(out)
}

// Sqrt is elementwise.
func (tp *Tape) Sqrt(a Tensor) Tensor {
	var out Tensor
	lib.AtgSqrt(&out, a)
	return tp.Own(out)
}

// Mean is the mean of all elements (float32 scalar).
func (tp *Tape) Mean(x Tensor) Tensor {
	var out Tensor
	lib.AtgMean(&out, x, int32(gotch.Float.CKind()))
	return tp.Own(out)
}

// MeanDims averages over dims.
func (tp *Tape) MeanDims(x Tensor, keep bool, dims ...int64) Tensor {
	var out Tensor
	lib.AtgMeanDim(&out, x, dims, len(dims), b32(keep), int32(gotch.Float.CKind()))
	return tp.Own(out)
}

// SumDims sums over dims.
func (tp *Tape) SumDims(x Tensor, keep bool, dims ...int64) Tensor {
	var out Tensor
	lib.AtgSumDimIntlist(&out, x, dims, len(dims), b32(keep), int32(gotch.Float.CKind()))
	return tp.Own(out)
}

// Sum of all elements.
func (tp *Tape) Sum(x Tensor) Tensor {
	var out Tensor
	lib.AtgSum(&out, x, int32(gotch.Float.CKind()))
	return tp.Own(out)
}

// Randn is a float32 tensor of N(0, std²) draws on dev from libtorch's
// generator (seeded per step by train.ManualSeed, like Dropout).
func (tp *Tape) Randn(std float64, dev gotch.Device, dims ...int64) Tensor {
	var out Tensor
	lib.AtgRandn(&out, dims, len(dims), int32(gotch.Float.CKind()), int32(dev.CInt()))
	out = tp.Own(out)
	if std == 1 {
		return out
	}
	return tp.MulScalar(out, std)
}

// Zeros is a float32 zero tensor on dev.
func (tp *Tape) Zeros(dev gotch.Device, dims ...int64) Tensor {
	var out Tensor
	lib.AtgZeros(&out, dims, len(dims), int32(gotch.Float.CKind()), int32(dev.CInt()))
	return tp.Own(out)
}

// ZerosLike is a zero tensor of x's shape, dtype and device.
func (tp *Tape) ZerosLike(x Tensor) Tensor {
	var out Tensor
	lib.AtgZerosLike(&out, x)
	return tp.Own(out)
}

// Detach stops gradients.
func (tp *Tape) Detach(x Tensor) Tensor {
	var out Tensor
	lib.AtgDetach(&out, x)
	return tp.Own(out)
}

// Transpose swaps dims a and b (a view).
func (tp *Tape) Transpose(x Tensor, a, b int64) Tensor {
	var out Tensor
	lib.AtgTranspose(&out, x, a, b)
	return tp.Own(out)
}

// Permute reorders dims (a view).
func (tp *Tape) Permute(x Tensor, dims ...int64) Tensor {
	var out Tensor
	lib.AtgPermute(&out, x, dims, len(dims))
	return tp.Own(out)
}

// Reshape is torch.reshape (-1 allowed once).
func (tp *Tape) Reshape(x Tensor, dims ...int64) Tensor {
	var out Tensor
	lib.AtgReshape(&out, x, dims, len(dims))
	return tp.Own(out)
}

// Contiguous returns x laid out contiguously.
func (tp *Tape) Contiguous(x Tensor) Tensor {
	var out Tensor
	lib.AtgContiguous(&out, x)
	return tp.Own(out)
}

// Unsqueeze inserts a size-1 dim.
func (tp *Tape) Unsqueeze(x Tensor, dim int64) Tensor {
	var out Tensor
	lib.AtgUnsqueeze(&out, x, dim)
	return tp.Own(out)
}

// Narrow is x.narrow(dim, start, length) (a view).
func (tp *Tape) Narrow(x Tensor, dim, start, length int64) Tensor {
	var out Tensor
	lib.AtgNarrow(&out, x, dim, start, length)
	return tp.Own(out)
}

// Cat concatenates along dim.
func (tp *Tape) Cat(xs []Tensor, dim int64) Tensor {
	var out Tensor
	lib.AtgCat(&out, xs, len(xs), dim)
	return tp.Own(out)
}

// Where picks a where cond is true, else b (broadcasting).
func (tp *Tape) Where(cond, a, b Tensor) Tensor {
	var out Tensor
	lib.AtgWhereSelf(&out, cond, a, b)
	return tp.Own(out)
}

// IndexSelect gathers rows idx (int64) of x along dim.
func (tp *Tape) IndexSelect(x Tensor, dim int64, idx Tensor) Tensor {
	var out Tensor
	lib.AtgIndexSelect(&out, x, dim, idx)
	return tp.Own(out)
}

// CrossEntropy is the mean cross-entropy of logits (N x C) against int64
// targets (N).
func (tp *Tape) CrossEntropy(logits, target Tensor) Tensor {
	var out Tensor
	lib.AtgCrossEntropyLoss(&out, logits, target, nil, 1, -100, 0)
	return tp.Own(out)
}

// Argmax along dim.
func (tp *Tape) Argmax(x Tensor, dim int64) Tensor {
	var out Tensor
	lib.AtgArgmax(&out, x, dim, 0, 0)
	return tp.Own(out)
}

// Grad returns x's gradient (an alias of x.grad) or nil when undefined.
func (tp *Tape) Grad(x Tensor) Tensor {
	var out Tensor
	lib.AtgGrad(&out, x)
	Check()
	if !lib.AtDefined(out) {
		Free(out)
		return nil
	}
	tp.held = append(tp.held, out)
	return out
}

// L2Normalize divides x by max(||x||, eps) along the last dimension
// (torch.nn.functional.normalize).
func (tp *Tape) L2Normalize(x Tensor, eps float64) Tensor {
	n := tp.Sqrt(tp.SumDims(tp.Mul(x, x), true, -1))
	return tp.Div(x, tp.ClampMin(n, eps))
}

// ScaleGrad returns x unchanged in the forward pass with its gradient
// multiplied by scale in the backward pass (fairseq's GradMultiply):
// detach(x) + scale·(x - detach(x)), whose value is exactly x.
func (tp *Tape) ScaleGrad(x Tensor, scale float64) Tensor {
	if scale == 1 {
		return x
	}
	d := tp.Detach(x)
	return tp.Add(d, tp.MulScalar(tp.Sub(x, d), scale))
}

// In-place ops on caller-owned tensors (parameters, optimizer state).

func inplace(out Tensor) {
	Check()
	Free(out)
}

// MulScalarInPlace is x *= v.
func MulScalarInPlace(x Tensor, v float64) {
	var out Tensor
	s := lib.AtsFloat(v)
	lib.AtgMulScalar_(&out, x, s)
	lib.AtsFree(s)
	inplace(out)
}

// AddInPlace is x += y.
func AddInPlace(x, y Tensor) {
	var out Tensor
	lib.AtgAdd_(&out, x, y)
	inplace(out)
}

// LerpInPlace is x += w·(end - x).
func LerpInPlace(x, end Tensor, w float64) {
	var out Tensor
	s := lib.AtsFloat(w)
	lib.AtgLerp_(&out, x, end, s)
	lib.AtsFree(s)
	inplace(out)
}

// AddScalarInPlace is x += v.
func AddScalarInPlace(x Tensor, v float64) {
	var out Tensor
	s := lib.AtsFloat(v)
	lib.AtgAddScalar_(&out, x, s)
	lib.AtsFree(s)
	inplace(out)
}

// AddcmulInPlace is x += a·b.
func AddcmulInPlace(x, a, b Tensor) {
	var out Tensor
	lib.AtgAddcmul_(&out, x, a, b)
	inplace(out)
}

// AddcdivInPlace is x += a/b.
func AddcdivInPlace(x, a, b Tensor) {
	var out Tensor
	lib.AtgAddcdiv_(&out, x, a, b)
	inplace(out)
}

// CopyInPlace copies src into dst.
func CopyInPlace(dst, src Tensor) {
	lib.AtCopy_(dst, src)
	Check()
}

// ZeroGrad clears x's gradient.
func ZeroGrad(x Tensor) {
	var out Tensor
	lib.AtgGrad(&out, x)
	Check()
	if lib.AtDefined(out) {
		var z Tensor
		lib.AtgZero_(&z, out)
		inplace(z)
	}
	Free(out)
}

// RequiresGrad sets x.requires_grad.
func RequiresGrad(x Tensor, on bool) {
	var out Tensor
	lib.AtgRequiresGrad_(&out, x, b32(on))
	inplace(out)
}

// Backward runs autograd from a scalar loss.
func Backward(loss Tensor) {
	lib.AtBackward(loss, 0, 0)
	Check()
}

// NoGrad disables autograd until the returned function is called.
func NoGrad() func() {
	prev := lib.AtGradSetEnabled(0)
	return func() { lib.AtGradSetEnabled(prev) }
}

// Shape returns x's sizes.
func Shape(x Tensor) []int64 {
	n := lib.AtDim(x)
	Check()
	s := make([]int64, n)
	if n > 0 {
		lib.AtShape(x, unsafe.Pointer(&s[0]))
		Check()
	}
	return s
}

// Numel is the product of dims.
func Numel(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// FromFloat32 copies data into a new float32 tensor on dev (caller owns it).
func FromFloat32(data []float32, dev gotch.Device, dims ...int64) (Tensor, error) {
	n := Numel(dims)
	if int64(len(data)) != n || n == 0 {
		return nil, fmt.Errorf("op: %d values for shape %v", len(data), dims)
	}
	c := lib.AtTensorOfData(unsafe.Pointer(&data[0]), dims, uint(len(dims)), 4, int(gotch.Float.CKind()))
	if err := ts.TorchErr(); err != nil {
		return nil, err
	}
	return moveTo(c, dev)
}

// FromInt64 copies data into a new int64 tensor on dev.
func FromInt64(data []int64, dev gotch.Device, dims ...int64) (Tensor, error) {
	if int64(len(data)) != Numel(dims) || len(data) == 0 {
		return nil, fmt.Errorf("op: %d values for shape %v", len(data), dims)
	}
	c := lib.AtTensorOfData(unsafe.Pointer(&data[0]), dims, uint(len(dims)), 8, int(gotch.Int64.CKind()))
	if err := ts.TorchErr(); err != nil {
		return nil, err
	}
	return moveTo(c, dev)
}

// FromBool copies data into a new bool tensor on dev.
func FromBool(data []bool, dev gotch.Device, dims ...int64) (Tensor, error) {
	if int64(len(data)) != Numel(dims) || len(data) == 0 {
		return nil, fmt.Errorf("op: %d values for shape %v", len(data), dims)
	}
	b := make([]uint8, len(data))
	for i, v := range data {
		if v {
			b[i] = 1
		}
	}
	c := lib.AtTensorOfData(unsafe.Pointer(&b[0]), dims, uint(len(dims)), 1, int(gotch.Bool.CKind()))
	if err := ts.TorchErr(); err != nil {
		return nil, err
	}
	return moveTo(c, dev)
}

func moveTo(c Tensor, dev gotch.Device) (Tensor, error) {
	if dev == gotch.CPU {
		return c, nil
	}
	var out Tensor
	lib.AtgTo(&out, c, int32(dev.CInt()))
	Free(c)
	if err := ts.TorchErr(); err != nil {
		return nil, err
	}
	return out, nil
}

// ToFloat32 copies a float tensor (any device and float dtype) into a Go
// slice in row-major order.
func ToFloat32(x Tensor) []float32 {
	var tp Tape
	defer tp.Drop()
	c := tp.Contiguous(tp.ToDtype(tp.To(x, gotch.CPU), gotch.Float))
	n := Numel(Shape(c))
	out := make([]float32, n)
	if n > 0 {
		lib.AtCopyData(c, unsafe.Pointer(&out[0]), uint(n), 4)
		Check()
	}
	return out
}

// ToInt64 copies an integer tensor into a Go slice.
func ToInt64(x Tensor) []int64 {
	var tp Tape
	defer tp.Drop()
	c := tp.Contiguous(tp.ToDtype(tp.To(x, gotch.CPU), gotch.Int64))
	n := Numel(Shape(c))
	out := make([]int64, n)
	if n > 0 {
		lib.AtCopyData(c, unsafe.Pointer(&out[0]), uint(n), 8)
		Check()
	}
	return out
}

// Scalar reads a one-element tensor.
func Scalar(x Tensor) float64 {
	v := ToFloat32(x)
	if len(v) != 1 {
		Fail(errors.New("tensor is not a scalar"))
	}
	return float64(v[0])
}

// Float32 copies data into a new tensor on dev owned by the tape.
func (tp *Tape) Float32(data []float32, dev gotch.Device, dims ...int64) Tensor {
	t, err := FromFloat32(data, dev, dims...)
	if err != nil {
		Fail(err)
	}
	return tp.Own(t)
}

// Int64 copies data into a new int64 tensor on dev owned by the tape.
func (tp *Tape) Int64(data []int64, dev gotch.Device, dims ...int64) Tensor {
	t, err := FromInt64(data, dev, dims...)
	if err != nil {
		Fail(err)
	}
	return tp.Own(t)
}

// Bool copies data into a new bool tensor on dev owned by the tape.
func (tp *Tape) Bool(data []bool, dev gotch.Device, dims ...int64) Tensor {
	t, err := FromBool(data, dev, dims...)
	if err != nil {
		Fail(err)
	}
	return tp.Own(t)
}

// CountEqual is the number of positions where a equals b (same shape), a
// one-element float32 tensor on their device.
func (tp *Tape) CountEqual(a, b Tensor) Tensor {
	var eq Tensor
	lib.AtgEqTensor(&eq, a, b)
	eq = tp.Own(eq)
	return tp.Sum(tp.ToDtype(eq, gotch.Float))
}

// ReadScalars copies the values of one-element tensors to the host with a
// single device synchronization (one concatenation, one copy).
func ReadScalars(tp *Tape, xs ...Tensor) []float64 {
	if len(xs) == 0 {
		return nil
	}
	parts := make([]Tensor, len(xs))
	for i, x := range xs {
		parts[i] = tp.Reshape(tp.ToDtype(x, gotch.Float), 1)
	}
	v := ToFloat32(tp.Cat(parts, 0))
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

// ClipGradNorm scales grads so that their global L2 norm is at most max
// (torch.nn.utils.clip_grad_norm_: factor max/(norm+1e-6); max <= 0 only
// measures) and returns the norm before clipping. Nil gradients are
// skipped. Call it under NoGrad.
func ClipGradNorm(tp *Tape, grads []Tensor, max float64) float64 {
	var present []Tensor
	for _, g := range grads {
		if g != nil {
			present = append(present, g)
		}
	}
	if len(present) == 0 {
		return 0
	}
	norm := Scalar(TotalNorm(tp, present))
	if f := ClipFactor(norm, max); f != 1 {
		ForeachMulScalar(present, f)
	}
	return norm
}

// MulInPlace is x *= y.
func MulInPlace(x, y Tensor) {
	var out Tensor
	lib.AtgMul_(&out, x, y)
	inplace(out)
}

// ZeroInPlace sets every element of x to 0.
func ZeroInPlace(x Tensor) {
	var out Tensor
	lib.AtgZero_(&out, x)
	inplace(out)
}

// BatchNorm is torch.nn.functional.batch_norm (x: B x C x ...): batch
// statistics (biased variance) in training, running statistics rm, rv
// updated with momentum and the unbiased variance; in evaluation the
// running statistics are used.
func (tp *Tape) BatchNorm(x, w, b, rm, rv Tensor, train bool, momentum, eps float64) Tensor {
	var out Tensor
	lib.AtgBatchNorm(&out, x, w, b, rm, rv, b32(train), momentum, eps, 1)
	return tp.Own(out)
}

// Relu is max(x, 0).
func (tp *Tape) Relu(x Tensor) Tensor {
	var out Tensor
	lib.AtgRelu(&out, x)
	return tp.Own(out)
}

// MaxPool2d is torch.nn.functional.max_pool2d with a square kernel k,
// stride s and padding p.
func (tp *Tape) MaxPool2d(x Tensor, k, s, p int64) Tensor {
	var out Tensor
	lib.AtgMaxPool2d(&out, x, []int64{k, k}, 2, []int64{s, s}, 2, []int64{p, p}, 2, []int64{1, 1}, 2, 0)
	return tp.Own(out)
}

// AdaptiveAvgPool2d pools x (B x C x H x W) to p x p.
func (tp *Tape) AdaptiveAvgPool2d(x Tensor, p int64) Tensor {
	var out Tensor
	lib.AtgAdaptiveAvgPool2d(&out, x, []int64{p, p}, 2)
	return tp.Own(out)
}

// Flatten flattens every dimension after the first (B x ...  -> B x N).
func (tp *Tape) Flatten(x Tensor) Tensor {
	var out Tensor
	lib.AtgFlatten(&out, x, 1, -1)
	return tp.Own(out)
}

// Expand broadcasts x to dims (-1 keeps a size; a view, no copy).
func (tp *Tape) Expand(x Tensor, dims ...int64) Tensor {
	var out Tensor
	lib.AtgExpand(&out, x, dims, len(dims), 0)
	return tp.Own(out)
}

// UpsampleBicubic2d is torch.nn.functional.interpolate(x, mode="bicubic",
// align_corners=False) of x (B x C x H x W) to outH x outW. With scaleH
// and scaleW > 0 the source coordinates use those scale factors, as
// interpolate(scale_factor=...) does (DINO's position-embedding
// interpolation relies on it); with 0 they follow from the sizes.
func (tp *Tape) UpsampleBicubic2d(x Tensor, outH, outW int64, scaleH, scaleW float64) Tensor {
	null := func(s float64) int {
		if s > 0 {
			return 0
		}
		return 1
	}
	var out Tensor
	lib.AtgUpsampleBicubic2d(&out, x, []int64{outH, outW}, 2, 0, scaleH, null(scaleH), scaleW, null(scaleW))
	return tp.Own(out)
}

// DeviceOf is the device x lives on (gotch.CPU or a CUDA device).
func DeviceOf(x Tensor) gotch.Device {
	// gotch's AtDevice reads 8 bytes of a C int: only the low 32 bits are the device (-1: CPU).
	d := int32(lib.AtDevice(x))
	Check()
	if d < 0 {
		return gotch.CPU
	}
	return gotch.CudaBuilder(uint(d))
}
