package sslkit

import (
	"math"
	"strconv"

	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/transformer"
)

// Linear is torch.nn.Linear (B nil without bias).
type Linear struct{ W, B op.Tensor }

// NewLinear makes name.weight (and name.bias) with PyTorch's default
// initialization, U(±1/√in) for both.
func NewLinear(p *Params, name string, in, out int64, bias bool) *Linear {
	bound := 1 / math.Sqrt(float64(in))
	l := &Linear{W: p.New(name+".weight", false, p.Uniform(out*in, -bound, bound), out, in)}
	if bias {
		l.B = p.New(name+".bias", true, p.Uniform(out, -bound, bound), out)
	}
	return l
}

// NewLinearTrunc is NewLinear with DINO's initialization: weight
// truncated N(0, 0.02²), bias 0.
func NewLinearTrunc(p *Params, name string, in, out int64, bias bool) *Linear {
	w := p.Normal(out*in, 0.02)
	for i := range w {
		for w[i] < -2 || w[i] > 2 {
			w[i] = p.Normal(1, 0.02)[0]
		}
	}
	l := &Linear{W: p.New(name+".weight", false, w, out, in)}
	if bias {
		l.B = p.New(name+".bias", true, transformer.Fill(out, 0), out)
	}
	return l
}

// Forward is x·Wᵀ + B.
func (l *Linear) Forward(tp *op.Tape, x op.Tensor) op.Tensor { return tp.Linear(x, l.W, l.B) }

// BatchNorm is BatchNorm1d/2d with PyTorch's defaults (momentum 0.1, eps
// 1e-5, weight 1, bias 0; W and B nil without affine parameters).
type BatchNorm struct{ W, B, Mean, Var op.Tensor }

// NewBatchNorm makes name.{weight,bias} (when affine) and the buffers
// name.running_mean and name.running_var for c channels.
func NewBatchNorm(p *Params, name string, c int64, affine bool) *BatchNorm {
	b := &BatchNorm{}
	if affine {
		b.W = p.New(name+".weight", true, transformer.Fill(c, 1), c)
		b.B = p.New(name+".bias", true, transformer.Fill(c, 0), c)
	}
	b.Mean = p.NewBuffer(name+".running_mean", transformer.Fill(c, 0), c)
	b.Var = p.NewBuffer(name+".running_var", transformer.Fill(c, 1), c)
	return b
}

// Forward normalizes with batch statistics (train; the running ones are
// updated) or with the running statistics.
func (b *BatchNorm) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	return tp.BatchNorm(x, b.W, b.B, b.Mean, b.Var, train, 0.1, 1e-5)
}

// MLPSpec describes a head built as an nn.Sequential of Linear layers,
// each hidden one followed by an optional BatchNorm1d and an activation;
// tensors are named by Sequential index (prefix.0.weight, prefix.1.
// running_mean, ...), so state dicts convert name for name.
//
//	SimCLR projector     {Dims: in, 2048, 128; Bias, LastBias, BN}
//	SimSiam, MoCo v3     {Dims: in, h, h, out; BN, LastBN} (no biases; last BN without affine)
//	SimSiam predictor    {Dims: out, 512, out; BN, LastBias}
//	DINO head MLP        {Dims: in, 2048, 2048, 256; Bias, LastBias, GELU, TruncNormal}
type MLPSpec struct {
	Dims     []int64 // input, hidden..., output (at least two)
	Bias     bool    // biases on the hidden layers
	LastBias bool    // bias on the output layer
	BN       bool    // BatchNorm1d after each hidden Linear
	// LastBN adds BatchNorm1d after the output layer, with affine
	// parameters when LastBNAffine (SimSiam and MoCo v3 use none).
	LastBN, LastBNAffine bool
	GELU                 bool // GELU instead of ReLU
	TruncNormal          bool // DINO's initialization (NewLinearTrunc)
}

// MLP is a head built from an MLPSpec.
type MLP struct {
	spec MLPSpec
	lins []*Linear
	bns  []*BatchNorm // per layer; nil where none
}

// NewMLP adds the head's tensors under prefix (e.g. "projector").
func NewMLP(p *Params, prefix string, s MLPSpec) *MLP {
	m := &MLP{spec: s}
	idx := 0
	next := func() string { n := prefix + "." + strconv.Itoa(idx); idx++; return n }
	L := len(s.Dims) - 1
	for l := 0; l < L; l++ {
		last := l == L-1
		bias := s.Bias
		if last {
			bias = s.LastBias
		}
		in, out := s.Dims[l], s.Dims[l+1]
		if s.TruncNormal {
			m.lins = append(m.lins, NewLinearTrunc(p, next(), in, out, bias))
		} else {
			m.lins = append(m.lins, NewLinear(p, next(), in, out, bias))
		}
		var bn *BatchNorm
		switch {
		case !last && s.BN:
			bn = NewBatchNorm(p, next(), out, true)
		case last && s.LastBN:
			bn = NewBatchNorm(p, next(), out, s.LastBNAffine)
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
func (m *MLP) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	for l, lin := range m.lins {
		x = lin.Forward(tp, x)
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
	return x
}
