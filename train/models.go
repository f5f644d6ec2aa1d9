package train

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// Arch describes a backbone.
type Arch struct {
	// Name is "resnet18" (ImageNet stem: 7x7 stride-2 conv and max-pool),
	// "resnet18-cifar" (3x3 stride-1 conv, no max-pool) or "convnet" (the
	// small CPU network: Widths 3x3 conv-BN-ReLU stages with 2x2 max-pool
	// between them, then global average pooling).
	Name       string  `yaml:"name" json:"name"`
	InChannels int     `yaml:"in_channels" json:"in_channels"`
	Widths     []int64 `yaml:"widths,flow,omitempty" json:"widths,omitempty"`
	// Pool is the convnet's output grid: 0 or 1 is global average pooling
	// (features = last width); P > 1 averages into P x P cells and
	// flattens them (features = last width x P x P), keeping the coarse
	// layout that matters for small centred images such as Fashion-MNIST.
	Pool int64 `yaml:"pool,omitempty" json:"pool,omitempty"`
}

// backbone maps N x C x H x W images to N x dim features.
type backbone interface {
	forward(tp *tape, x tensor, train bool) tensor
	dim() int64
}

func newBackbone(m *Module, prefix string, a Arch) (backbone, error) {
	if a.InChannels <= 0 {
		return nil, fmt.Errorf("train: arch %q: in_channels must be positive", a.Name)
	}
	switch a.Name {
	case "resnet18", "resnet18-cifar":
		return newResNet18(m, prefix, int64(a.InChannels), a.Name == "resnet18-cifar"), nil
	case "convnet":
		if len(a.Widths) == 0 {
			return nil, fmt.Errorf("train: arch convnet needs widths")
		}
		if a.Pool < 0 || a.Pool > 8 {
			return nil, fmt.Errorf("train: arch convnet: pool %d outside [0, 8]", a.Pool)
		}
		n := newConvNet(m, prefix, int64(a.InChannels), a.Widths)
		n.pool = max(a.Pool, 1)
		n.out *= n.pool * n.pool
		return n, nil
	}
	return nil, fmt.Errorf("train: unknown arch %q (want resnet18, resnet18-cifar or convnet)", a.Name)
}

// convNet: features.{4i}: conv3x3 (no bias), {4i+1}: BatchNorm2d,
// {4i+2}: ReLU, {4i+3}: MaxPool2d(2) between stages.
type convNet struct {
	convs []*conv
	bns   []*bn
	out   int64
	pool  int64
}

func newConvNet(m *Module, prefix string, in int64, widths []int64) *convNet {
	n := &convNet{out: widths[len(widths)-1]}
	c := in
	for i, w := range widths {
		n.convs = append(n.convs, m.newConv(fmt.Sprintf("%sfeatures.%d", prefix, 4*i), c, w, 3, 1, 1, false, false))
		n.bns = append(n.bns, m.newBN(fmt.Sprintf("%sfeatures.%d", prefix, 4*i+1), w))
		c = w
	}
	return n
}

func (n *convNet) dim() int64 { return n.out }

func (n *convNet) forward(tp *tape, x tensor, train bool) tensor {
	for i := range n.convs {
		x = tp.Relu(n.bns[i].forward(tp, n.convs[i].forward(tp, x), train))
		if i < len(n.convs)-1 {
			x = tp.MaxPool2d(x, 2, 2, 0)
		}
	}
	if n.pool > 1 {
		x = tp.Flatten(tp.AdaptiveAvgPool2d(x, n.pool))
		if tp.BF16 {
			x = tp.ToDtype(x, gotch.Float)
		}
		return x
	}
	return tp.MeanDims(x, false, 2, 3)
}

// basicBlock is torchvision's BasicBlock.
type basicBlock struct {
	c1, c2 *conv
	b1, b2 *bn
	dc     *conv
	db     *bn
}

func (b *basicBlock) forward(tp *tape, x tensor, train bool) tensor {
	y := tp.Relu(b.b1.forward(tp, b.c1.forward(tp, x), train))
	y = b.b2.forward(tp, b.c2.forward(tp, y), train)
	id := x
	if b.dc != nil {
		id = b.db.forward(tp, b.dc.forward(tp, x), train)
	}
	return tp.Relu(tp.Add(y, id))
}

type resNet struct {
	conv1  *conv
	bn1    *bn
	cifar  bool
	blocks []*basicBlock
}

func newResNet18(m *Module, prefix string, in int64, cifar bool) *resNet {
	r := &resNet{cifar: cifar}
	if cifar {
		r.conv1 = m.newConv(prefix+"conv1", in, 64, 3, 1, 1, false, true)
	} else {
		r.conv1 = m.newConv(prefix+"conv1", in, 64, 7, 2, 3, false, true)
	}
	r.bn1 = m.newBN(prefix+"bn1", 64)
	c := int64(64)
	for li, w := range []int64{64, 128, 256, 512} {
		for bi := 0; bi < 2; bi++ {
			stride := int64(1)
			if li > 0 && bi == 0 {
				stride = 2
			}
			p := fmt.Sprintf("%slayer%d.%d.", prefix, li+1, bi)
			b := &basicBlock{
				c1: m.newConv(p+"conv1", c, w, 3, stride, 1, false, true),
				b1: m.newBN(p+"bn1", w),
				c2: m.newConv(p+"conv2", w, w, 3, 1, 1, false, true),
				b2: m.newBN(p+"bn2", w),
			}
			if stride != 1 || c != w {
				b.dc = m.newConv(p+"downsample.0", c, w, 1, stride, 0, false, true)
				b.db = m.newBN(p+"downsample.1", w)
			}
			r.blocks = append(r.blocks, b)
			c = w
		}
	}
	return r
}

func (r *resNet) dim() int64 { return 512 }

func (r *resNet) forward(tp *tape, x tensor, train bool) tensor {
	x = tp.Relu(r.bn1.forward(tp, r.conv1.forward(tp, x), train))
	if !r.cifar {
		x = tp.MaxPool2d(x, 3, 2, 1)
	}
	for _, b := range r.blocks {
		x = b.forward(tp, x, train)
	}
	return tp.MeanDims(x, false, 2, 3)
}

// Heads sizes BYOL's projector and predictor.
type Heads struct {
	Hidden int64 `yaml:"hidden" json:"hidden"`
	Out    int64 `yaml:"out" json:"out"`
}

// net is a backbone plus projector and, for the online network, the
// predictor, with tensor names backbone.*, projector.*, predictor.*.
type net struct {
	mod  *Module
	bb   backbone
	proj *mlp
	pred *mlp
}

// newNet builds the network; the seed fixes the initial weights, so an
// online and a target network built with the same seed start equal.
func newNet(a Arch, h Heads, withPredictor bool, seed uint64, dev gotch.Device) (n *net, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	m := newModule(seed, dev)
	n = &net{mod: m}
	defer func() {
		if err != nil {
			m.Free()
		}
	}()
	if n.bb, err = newBackbone(m, "backbone.", a); err != nil {
		return nil, err
	}
	if h.Hidden <= 0 || h.Out <= 0 {
		return nil, fmt.Errorf("train: heads need positive hidden and out sizes, got %+v", h)
	}
	n.proj = m.newMLP("projector", n.bb.dim(), h.Hidden, h.Out)
	if withPredictor {
		n.pred = m.newMLP("predictor", h.Out, h.Hidden, h.Out)
	}
	return n, nil
}

// backboneVars returns the backbone's tensors with the "backbone." prefix
// removed (torchvision names).
func (n *net) backboneVars() map[string]*Var {
	out := map[string]*Var{}
	for _, v := range n.mod.vars {
		if s, ok := strings.CutPrefix(v.Name, "backbone."); ok {
			out[s] = v
		}
	}
	return out
}
