package nn

import (
	"math"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train/op"
)

// The image layers autocast to bfloat16 when the tape's BF16 is set, as
// torch.autocast does on CUDA: convolutions and linear layers take
// bfloat16 copies of their inputs and weights and return bfloat16;
// BatchNorm, ReLU, pooling and adds run on what they get (BatchNorm keeps
// float32 parameters and statistics); backbone features and head outputs
// come back as float32. (op.Tape's own Linear, Matmul and Conv1d, which the
// Transformer models use, instead cast each product back to float32.)

// Conv2dOp is torch.nn.functional.conv2d with square stride and padding
// (b may be nil), autocast by tp.BF16.
func Conv2dOp(tp *op.Tape, x, w, b op.Tensor, stride, pad int64) op.Tensor {
	x, w, b = lowp(tp, x), lowp(tp, w), lowp(tp, b)
	var out op.Tensor
	lib.AtgConv2d(&out, x, w, b, []int64{stride, stride}, 2, []int64{pad, pad}, 2, []int64{1, 1}, 2, 1)
	return tp.Own(out)
}

// LinearOp is x·wᵀ + b (b may be nil), autocast by tp.BF16.
func LinearOp(tp *op.Tape, x, w, b op.Tensor) op.Tensor {
	x, w, b = lowp(tp, x), lowp(tp, w), lowp(tp, b)
	var out op.Tensor
	lib.AtgLinear(&out, x, w, b)
	return tp.Own(out)
}

// lowp is x's bfloat16 copy under tp.BF16 (nil stays nil).
func lowp(tp *op.Tape, x op.Tensor) op.Tensor {
	if x == nil || !tp.BF16 {
		return x
	}
	return tp.ToDtype(x, gotch.BFloat16)
}

// Float32 returns x as float32 when the tape autocasts (x otherwise).
func Float32(tp *op.Tape, x op.Tensor) op.Tensor {
	if tp.BF16 {
		return tp.ToDtype(x, gotch.Float)
	}
	return x
}

// Conv2d is a 2-D convolution (square kernel, no dilation, one group).
type Conv2d struct {
	W, B        op.Tensor
	Stride, Pad int64
}

// NewConv2d makes name.weight (and name.bias) with PyTorch's default init
// (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias) or, with
// kaimingOut, torchvision ResNet's kaiming_normal_(fan_out, relu).
func NewConv2d(p *Params, name string, in, out, k, stride, pad int64, bias, kaimingOut bool) *Conv2d {
	n := out * in * k * k
	var w []float32
	if kaimingOut {
		w = p.Normal(n, math.Sqrt(2/float64(out*k*k)))
	} else {
		w = p.Symmetric(n, 1/math.Sqrt(float64(in*k*k)))
	}
	c := &Conv2d{Stride: stride, Pad: pad}
	c.W = p.New(name+".weight", false, w, out, in, k, k)
	if bias {
		c.B = p.New(name+".bias", true, p.Symmetric(out, 1/math.Sqrt(float64(in*k*k))), out)
	}
	return c
}

// Forward applies the convolution.
func (c *Conv2d) Forward(tp *op.Tape, x op.Tensor) op.Tensor {
	return Conv2dOp(tp, x, c.W, c.B, c.Stride, c.Pad)
}

// BatchNorm is BatchNorm1d/2d with PyTorch's defaults: momentum 0.1, eps
// 1e-5, weight 1, bias 0 (W and B nil without affine parameters).
type BatchNorm struct{ W, B, Mean, Var op.Tensor }

// NewBatchNorm makes name.{weight,bias,running_mean,running_var} for c
// channels.
func NewBatchNorm(p *Params, name string, c int64) *BatchNorm {
	b := NewBatchNormNoAffine(p, name, c)
	b.W = p.New(name+".weight", true, Fill(c, 1), c)
	b.B = p.New(name+".bias", true, Fill(c, 0), c)
	return b
}

// NewBatchNormNoAffine is BatchNorm(affine=False): running statistics
// only.
func NewBatchNormNoAffine(p *Params, name string, c int64) *BatchNorm {
	return &BatchNorm{
		Mean: p.NewBuffer(name+".running_mean", Fill(c, 0), c),
		Var:  p.NewBuffer(name+".running_var", Fill(c, 1), c),
	}
}

// Forward normalizes with batch statistics (train, updating the running
// ones) or the running statistics.
func (b *BatchNorm) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	return tp.BatchNorm(x, b.W, b.B, b.Mean, b.Var, train, 0.1, 1e-5)
}

// Linear is torch.nn.Linear with its default init (B nil without bias).
type Linear struct{ W, B op.Tensor }

// NewLinear makes name.weight and name.bias.
func NewLinear(p *Params, name string, in, out int64) *Linear {
	bound := 1 / math.Sqrt(float64(in))
	return &Linear{
		W: p.New(name+".weight", false, p.Symmetric(out*in, bound), out, in),
		B: p.New(name+".bias", true, p.Symmetric(out, bound), out),
	}
}

// NewLinearNoBias makes name.weight only.
func NewLinearNoBias(p *Params, name string, in, out int64) *Linear {
	bound := 1 / math.Sqrt(float64(in))
	return &Linear{W: p.New(name+".weight", false, p.Symmetric(out*in, bound), out, in)}
}

// Forward is x·Wᵀ + B.
func (l *Linear) Forward(tp *op.Tape, x op.Tensor) op.Tensor { return LinearOp(tp, x, l.W, l.B) }

// MLP is Linear -> BatchNorm1d -> ReLU -> Linear, BYOL's projector and
// predictor (names prefix.0, prefix.1, prefix.3 as in nn.Sequential).
type MLP struct {
	L1  *Linear
	BN  *BatchNorm
	L2  *Linear
	Out int64
}

// NewMLP builds the head.
func NewMLP(p *Params, prefix string, in, hidden, out int64) *MLP {
	return &MLP{
		L1:  NewLinear(p, prefix+".0", in, hidden),
		BN:  NewBatchNorm(p, prefix+".1", hidden),
		L2:  NewLinear(p, prefix+".3", hidden, out),
		Out: out,
	}
}

// Forward returns float32 outputs.
func (h *MLP) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	y := h.L2.Forward(tp, tp.Relu(h.BN.Forward(tp, h.L1.Forward(tp, x), train)))
	return Float32(tp, y)
}
