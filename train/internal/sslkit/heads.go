package sslkit

import (
	"strconv"

	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// MLPSpec describes a head built as an nn.Sequential of Linear layers,
// each hidden one followed by an optional BatchNorm1d and an activation;
// tensors are named by Sequential index (prefix.0.weight, prefix.1.
// running_mean, ...), so state dicts convert name for name.
//
//	SimCLR projector   {Dims: in, 2048, 256; Bias, LastBias, BN}
//	SimSiam projector  {Dims: in, h, h, out; BN, LastBN} (no biases; last BN without affine)
//	MoCo v3 projector  {Dims: in, 4096, 4096, 256; BN, LastBN} (2 layers for ResNets)
//	SimSiam predictor  {Dims: out, 512, out; BN, LastBias}
//	MoCo v3 predictor  {Dims: 256, 4096, 256; BN}
//	DINO head MLP      {Dims: in, 2048, 2048, 256; Bias, LastBias, GELU, TruncNormal}
type MLPSpec struct {
	Dims     []int64 // input, hidden..., output (at least two)
	Bias     bool    // biases on the hidden layers
	LastBias bool    // bias on the output layer
	BN       bool    // BatchNorm1d after each hidden Linear
	// LastBN adds BatchNorm1d after the output layer, with affine
	// parameters when LastBNAffine (SimSiam and MoCo v3 use none).
	LastBN, LastBNAffine bool
	GELU                 bool // GELU instead of ReLU
	// TruncNormal is DINO's initialization: weights N(0, 0.02²)
	// truncated (nn.Params.TruncNormal), biases 0; otherwise PyTorch's
	// Linear default.
	TruncNormal bool
}

// MLP is a head built from an MLPSpec.
type MLP struct {
	spec MLPSpec
	lins []*nn.Linear
	bns  []*nn.BatchNorm // per layer; nil where none
}

func newLinear(p *nn.Params, name string, in, out int64, bias, trunc bool) *nn.Linear {
	switch {
	case trunc:
		l := &nn.Linear{W: p.New(name+".weight", false, p.TruncNormal(out*in, 0.02), out, in)}
		if bias {
			l.B = p.New(name+".bias", true, nn.Fill(out, 0), out)
		}
		return l
	case bias:
		return nn.NewLinear(p, name, in, out)
	}
	return nn.NewLinearNoBias(p, name, in, out)
}

// NewMLP adds the head's tensors to p under prefix (e.g. "projector"); it
// raises libtorch errors for op.Catch.
func NewMLP(p *nn.Params, prefix string, s MLPSpec) *MLP {
	m := &MLP{spec: s}
	idx := 0
	next := func() string { n := prefix + "." + strconv.Itoa(idx); idx++; return n }
	L := len(s.Dims) - 1
	for l := range L {
		last := l == L-1
		bias := s.Bias
		if last {
			bias = s.LastBias
		}
		m.lins = append(m.lins, newLinear(p, next(), s.Dims[l], s.Dims[l+1], bias, s.TruncNormal))
		var bn *nn.BatchNorm
		switch {
		case !last && s.BN:
			bn = nn.NewBatchNorm(p, next(), s.Dims[l+1])
		case last && s.LastBN && s.LastBNAffine:
			bn = nn.NewBatchNorm(p, next(), s.Dims[l+1])
		case last && s.LastBN:
			bn = nn.NewBatchNormNoAffine(p, next(), s.Dims[l+1])
		}
		m.bns = append(m.bns, bn)
		if !last {
			idx++ // the activation's index
		}
	}
	return m
}

// Out is the output width.
func (m *MLP) Out() int64 { return m.spec.Dims[len(m.spec.Dims)-1] }

// Forward applies the head to x (B x in); train selects batch statistics.
// The output is float32 (nn's layers autocast under tp.BF16).
func (m *MLP) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	return m.after(tp, m.lins[0].Forward(tp, x), train)
}

// ForwardPooled is Forward of Flatten(AdaptiveAvgPool2d(fm, g)) for a map
// fm (B x C x h x w, float32): when the map is smaller than the grid (a
// local crop's) the pooling is folded into the first Linear
// (nn.PooledLinear), the same function at h·w/g² of that layer's cost.
func (m *MLP) ForwardPooled(tp *op.Tape, fm op.Tensor, g int64, train bool) op.Tensor {
	s := op.Shape(fm)
	if s[2]*s[3] >= g*g {
		return m.Forward(tp, tp.Flatten(tp.AdaptiveAvgPool2d(fm, g)), train)
	}
	first := m.lins[0]
	return m.after(tp, nn.PooledLinear(tp, fm, first.W, first.B, g), train)
}

// after applies the head from the output of its first Linear (x) on.
func (m *MLP) after(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	for l, lin := range m.lins {
		if l > 0 {
			x = lin.Forward(tp, x)
		}
		if bn := m.bns[l]; bn != nil {
			x = bn.Forward(tp, x, train)
		}
		if l < len(m.lins)-1 {
			if m.spec.GELU {
				// The gradient reaching the GELU comes from the next
				// Linear's backward (contiguous): the native kernel is safe.
				x = tp.GeluNative(x)
			} else {
				x = tp.Relu(x)
			}
		}
	}
	return nn.Float32(tp, x)
}

// Embed is head(backbone(x)). For a GridBackbone with a grid it runs the
// head on the backbone's map with ForwardPooled, so that crops smaller
// than the grid skip the pooling's upsampling; the result is the same up
// to rounding.
func Embed(tp *op.Tape, bb nn.Backbone, head *MLP, x op.Tensor, train bool) op.Tensor {
	if g, ok := bb.(nn.GridBackbone); ok && g.Grid() > 1 {
		return head.ForwardPooled(tp, g.ForwardMap(tp, x, train), g.Grid(), train)
	}
	return head.Forward(tp, bb.Forward(tp, x, train), train)
}
