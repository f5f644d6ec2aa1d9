package data2vec2

import (
	"math"
	"strconv"

	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// convStack is a stack of convolution blocks over a sequence (1-D) or a
// rows x cols grid (2-D): each block is a grouped convolution with "same"
// padding (an even kernel drops the last output position per spatial
// dimension, fairseq's SamePad), a layer norm over channels without affine
// parameters and GELU, added to its input when residual is set and the
// channel counts match (fairseq's Decoder1d/Decoder2d blocks and the audio
// positional encoder). Parameters: prefix<i>.0.{weight,bias}.
type convStack struct {
	w, b       []op.Tensor
	in, dim    int64
	kernel     int64
	groups     int64
	residual   bool
	rows, cols int64 // 2-D when rows > 0
}

// newConvStack adds layers blocks (in -> dim channels, then dim -> dim)
// with PyTorch's default convolution initialization (uniform ±1/√fan_in
// for weights and biases).
func newConvStack(p *nn.Params, prefix string, in, dim int64, layers int, kernel, groups int64, residual bool, rows, cols int64) convStack {
	s := convStack{in: in, dim: dim, kernel: kernel, groups: groups, residual: residual, rows: rows, cols: cols}
	for i := range layers {
		cin := dim
		if i == 0 {
			cin = in
		}
		shape := []int64{dim, cin / groups, kernel}
		fan := cin / groups * kernel
		if rows > 0 {
			shape = append(shape, kernel)
			fan *= kernel
		}
		bd := 1 / math.Sqrt(float64(fan))
		n := prefix + strconv.Itoa(i) + ".0."
		s.w = append(s.w, p.New(n+"weight", false, p.Uniform(op.Numel(shape), -bd, bd), shape...))
		s.b = append(s.b, p.New(n+"bias", true, p.Uniform(dim, -bd, bd), dim))
	}
	return s
}

// forward maps x (N x T x in, channel-last) to N x T x dim.
func (s *convStack) forward(tp *op.Tape, x op.Tensor) op.Tensor {
	sh := op.Shape(x)
	n, t := sh[0], sh[1]
	for i := range s.w {
		var y op.Tensor
		if s.rows > 0 {
			g := tp.Permute(tp.Reshape(x, n, s.rows, s.cols, -1), 0, 3, 1, 2)
			y = tp.Conv2d(g, s.w[i], s.b[i], 1, s.kernel/2, s.groups)
			if s.kernel%2 == 0 {
				y = tp.Narrow(tp.Narrow(y, 2, 0, s.rows), 3, 0, s.cols)
			}
			y = tp.Reshape(tp.LayerNorm(tp.Permute(y, 0, 2, 3, 1), nil, nil, s.dim, 1e-5), n, t, s.dim)
		} else {
			y = tp.Conv1d(tp.Transpose(x, 1, 2), s.w[i], s.b[i], 1, s.kernel/2, s.groups)
			if s.kernel%2 == 0 {
				y = tp.Narrow(y, 2, 0, t)
			}
			y = tp.LayerNorm(tp.Transpose(y, 1, 2), nil, nil, s.dim, 1e-5)
		}
		// Gelu, not GeluNative: the next block's transpose makes the
		// incoming gradient non-contiguous (see op.NativeGELUBackwardOK).
		y = tp.Gelu(y)
		if s.residual && op.Shape(x)[2] == s.dim {
			y = tp.Add(y, x)
		}
		x = y
	}
	return x
}

// projection is the decoder's output map back to the encoder width: one
// linear layer, or Linear, GELU, Linear. Parameters: decoder.proj.* or
// decoder.proj.{0,2}.*; PyTorch's default Linear initialization.
type projection [][2]op.Tensor

func newProjection(p *nn.Params, prefix string, in, out int64, layers int, ratio float64) projection {
	lin := func(name string, in, out int64) [2]op.Tensor {
		b := 1 / math.Sqrt(float64(in))
		return [2]op.Tensor{
			p.New(name+".weight", false, p.Uniform(out*in, -b, b), out, in),
			p.New(name+".bias", true, p.Uniform(out, -b, b), out),
		}
	}
	if layers == 1 {
		return projection{lin(prefix, in, out)}
	}
	mid := int64(float64(in) * ratio)
	return projection{lin(prefix+".0", in, mid), lin(prefix+".2", mid, out)}
}

func (pr projection) forward(tp *op.Tape, x op.Tensor) op.Tensor {
	for i, l := range pr {
		if i > 0 {
			x = tp.Gelu(x)
		}
		x = tp.Linear(x, l[0], l[1])
	}
	return x
}
