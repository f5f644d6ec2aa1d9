package sslkit

import (
	"github.com/sslpipe/sslpipe/train/op"
)

// Backbone maps N x C x H x W float32 images to N x Dim() features
// (train: batch statistics, dropout and stochastic depth on). Tensors it
// returns belong to tp. transformer.ViT implements it, and so will
// train/nn's ResNet-18 and ConvNet.
type Backbone interface {
	Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor
	Dim() int64
}

// MLPNet is a tiny backbone for tests: the flattened image through
// Linear -> BatchNorm1d -> ReLU -> Linear (tensors prefix.0, prefix.1,
// prefix.3 as an nn.Sequential).
type MLPNet struct {
	mlp *MLP
}

// NewMLPNet builds an MLPNet for in = C·H·W inputs.
func NewMLPNet(p *Params, prefix string, in, hidden, out int64) *MLPNet {
	return &MLPNet{mlp: NewMLP(p, prefix, MLPSpec{Dims: []int64{in, hidden, out}, Bias: true, LastBias: true, BN: true})}
}

// Dim is the feature width.
func (n *MLPNet) Dim() int64 { return n.mlp.Out() }

// Forward flattens x and applies the MLP.
func (n *MLPNet) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	return n.mlp.Forward(tp, tp.Flatten(x), train)
}
