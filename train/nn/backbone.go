package nn

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// Arch describes an image backbone.
type Arch struct {
	// Name is "resnet18" (ImageNet stem: 7x7 stride-2 conv and max-pool),
	// "resnet18-cifar" (3x3 stride-1 conv, no max-pool) or "convnet" (the
	// small CPU network: Widths 3x3 conv-BN-ReLU stages with 2x2 max-pool
	// between them, then average pooling). Packages may register more
	// (RegisterBackbone; the ViT registers "vit-*").
	Name       string  `yaml:"name" json:"name"`
	InChannels int     `yaml:"in_channels" json:"in_channels"`
	Widths     []int64 `yaml:"widths,flow,omitempty" json:"widths,omitempty"`
	// Pool is the convnet's output grid: 0 or 1 is global average pooling
	// (features = last width); P > 1 averages into P x P cells and
	// flattens them (features = last width x P x P), keeping the coarse
	// layout that matters for small centred images such as Fashion-MNIST.
	Pool int64 `yaml:"pool,omitempty" json:"pool,omitempty"`
	// Depths is the convnet's number of conv-BN-ReLU layers per stage
	// (empty: one per stage). Its tensors keep the names of the matching
	// PyTorch nn.Sequential (conv, BatchNorm2d, ReLU per layer, MaxPool2d
	// between stages), so one layer per stage names them features.{4i}.
	Depths []int `yaml:"depths,flow,omitempty" json:"depths,omitempty"`
	// NoLastReLU ends the convnet at its last BatchNorm: the features are
	// the pre-activation outputs, centred around the BatchNorm's shift
	// instead of all non-negative, as a ViT's LayerNorm output is. Cosine
	// similarity (the kNN probe, the contrastive losses) then sees signed
	// features. The tensors and their names do not change.
	NoLastReLU bool `yaml:"no_last_relu,omitempty" json:"no_last_relu,omitempty"`
	// ImageSize and Patch size a ViT (0: from the input).
	ImageSize int `yaml:"image_size,omitempty" json:"image_size,omitempty"`
	Patch     int `yaml:"patch,omitempty" json:"patch,omitempty"`
	// DropPath is a ViT's stochastic-depth rate (the last block's; DINO's
	// ViT-S student uses 0.1, its teacher 0). The convolutional backbones
	// have none.
	DropPath float64 `yaml:"drop_path,omitempty" json:"drop_path,omitempty"`
}

// Backbone maps N x C x H x W float32 images to N x Dim() features.
type Backbone interface {
	Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor
	Dim() int64
}

// GridBackbone is a backbone whose features are its last map
// average-pooled to a Grid x Grid grid and flattened (C·Grid² features,
// the convnet with pool > 1). Heads use ForwardMap to fold the pooling
// into their first Linear (PooledLinear) when the map is smaller than the
// grid, as multi-crop's local crops are.
type GridBackbone interface {
	Backbone
	Grid() int64
	ForwardMap(tp *op.Tape, x op.Tensor, train bool) op.Tensor
}

// BackboneFactory builds a registered backbone's parameters under prefix.
type BackboneFactory func(p *Params, prefix string, a Arch) (Backbone, error)

var backbones = map[string]BackboneFactory{}

// RegisterBackbone adds an architecture name (called from init functions;
// a duplicate name panics).
func RegisterBackbone(name string, f BackboneFactory) {
	if _, dup := backbones[name]; dup {
		panic("nn: backbone " + name + " registered twice")
	}
	backbones[name] = f
}

// NewBackbone builds the backbone a describes, its tensors named
// prefix+<torchvision name>.
func NewBackbone(p *Params, prefix string, a Arch) (Backbone, error) {
	if a.InChannels <= 0 {
		return nil, fmt.Errorf("nn: arch %q: in_channels must be positive", a.Name)
	}
	switch a.Name {
	case "resnet18", "resnet18-cifar", "convnet":
		if a.DropPath != 0 {
			return nil, fmt.Errorf("nn: arch %s has no stochastic depth (drop_path %v)", a.Name, a.DropPath)
		}
	}
	if a.NoLastReLU && a.Name != "convnet" {
		return nil, fmt.Errorf("nn: arch %s: no_last_relu is a convnet option", a.Name)
	}
	switch a.Name {
	case "resnet18", "resnet18-cifar":
		return NewResNet18(p, prefix, int64(a.InChannels), a.Name == "resnet18-cifar"), nil
	case "convnet":
		if len(a.Widths) == 0 {
			return nil, fmt.Errorf("nn: arch convnet needs widths")
		}
		if a.Pool < 0 || a.Pool > 8 {
			return nil, fmt.Errorf("nn: arch convnet: pool %d outside [0, 8]", a.Pool)
		}
		if len(a.Depths) != 0 && len(a.Depths) != len(a.Widths) {
			return nil, fmt.Errorf("nn: arch convnet: %d depths for %d widths", len(a.Depths), len(a.Widths))
		}
		for _, d := range a.Depths {
			if d < 1 || d > 8 {
				return nil, fmt.Errorf("nn: arch convnet: depth %d outside [1, 8]", d)
			}
		}
		n := NewConvNetDepths(p, prefix, int64(a.InChannels), a.Widths, a.Depths, a.Pool)
		n.noLastReLU = a.NoLastReLU
		return n, nil
	}
	if f := backbones[a.Name]; f != nil {
		return f(p, prefix, a)
	}
	return nil, fmt.Errorf("nn: unknown arch %q (want resnet18, resnet18-cifar, convnet%s)", a.Name, registeredNames())
}

func registeredNames() string {
	s := ""
	for n := range backbones {
		s += ", " + n
	}
	return s
}

// ConvNet is an nn.Sequential of stages of conv3x3 (no bias),
// BatchNorm2d and ReLU layers with MaxPool2d(2) between stages; with one
// layer per stage its tensors are features.{4i} (conv) and
// features.{4i+1} (BatchNorm).
type ConvNet struct {
	convs []*Conv2d
	bns   []*BatchNorm
	// last[k] marks the last layer of a stage (a max-pool follows
	// unless it is the network's last layer).
	last []bool
	out  int64
	pool int64
	// noLastReLU leaves out the last layer's ReLU (Arch.NoLastReLU).
	noLastReLU bool
}

// NewConvNet builds the small CPU network with one layer per stage (pool
// as Arch.Pool).
func NewConvNet(p *Params, prefix string, in int64, widths []int64, pool int64) *ConvNet {
	return NewConvNetDepths(p, prefix, in, widths, nil, pool)
}

// NewConvNetDepths builds the network with depths[i] layers in stage i
// (nil: one each).
func NewConvNetDepths(p *Params, prefix string, in int64, widths []int64, depths []int, pool int64) *ConvNet {
	n := &ConvNet{out: widths[len(widths)-1], pool: max(pool, 1)}
	c, idx := in, 0
	for i, w := range widths {
		d := 1
		if depths != nil {
			d = depths[i]
		}
		for j := range d {
			n.convs = append(n.convs, NewConv2d(p, fmt.Sprintf("%sfeatures.%d", prefix, idx), c, w, 3, 1, 1, false, false))
			n.bns = append(n.bns, NewBatchNorm(p, fmt.Sprintf("%sfeatures.%d", prefix, idx+1), w))
			n.last = append(n.last, j == d-1)
			idx += 3 // conv, BatchNorm, ReLU
			c = w
		}
		idx++ // MaxPool2d
	}
	n.out *= n.pool * n.pool
	return n
}

// Dim is the feature size.
func (n *ConvNet) Dim() int64 { return n.out }

// Forward returns float32 features.
func (n *ConvNet) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	x = n.stages(tp, x, train)
	if n.pool > 1 {
		return Float32(tp, tp.Flatten(tp.AdaptiveAvgPool2d(x, n.pool)))
	}
	return tp.MeanDims(x, false, 2, 3)
}

// Grid is the output grid (Arch.Pool; 1 for global average pooling).
func (n *ConvNet) Grid() int64 { return n.pool }

// ForwardMap returns the last stage's map (float32, B x C x h x w), before
// the pooling to the Grid x Grid output.
func (n *ConvNet) ForwardMap(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	return Float32(tp, n.stages(tp, x, train))
}

// stages runs the conv-BN-ReLU stages and their max-pools.
func (n *ConvNet) stages(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	for i := range n.convs {
		x = n.bns[i].Forward(tp, n.convs[i].Forward(tp, x), train)
		if i < len(n.convs)-1 || !n.noLastReLU {
			x = tp.Relu(x)
		}
		if n.last[i] && i < len(n.convs)-1 {
			x = tp.MaxPool2d(x, 2, 2, 0)
		}
	}
	return x
}

// basicBlock is torchvision's BasicBlock.
type basicBlock struct {
	c1, c2 *Conv2d
	b1, b2 *BatchNorm
	dc     *Conv2d
	db     *BatchNorm
}

func (b *basicBlock) forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	y := tp.Relu(b.b1.Forward(tp, b.c1.Forward(tp, x), train))
	y = b.b2.Forward(tp, b.c2.Forward(tp, y), train)
	id := x
	if b.dc != nil {
		id = b.db.Forward(tp, b.dc.Forward(tp, x), train)
	}
	return tp.Relu(tp.Add(y, id))
}

// ResNet is torchvision's ResNet-18 without fc.
type ResNet struct {
	conv1  *Conv2d
	bn1    *BatchNorm
	cifar  bool
	blocks []*basicBlock
}

// NewResNet18 builds ResNet-18 (with the CIFAR stem when cifar is set).
func NewResNet18(p *Params, prefix string, in int64, cifar bool) *ResNet {
	r := &ResNet{cifar: cifar}
	if cifar {
		r.conv1 = NewConv2d(p, prefix+"conv1", in, 64, 3, 1, 1, false, true)
	} else {
		r.conv1 = NewConv2d(p, prefix+"conv1", in, 64, 7, 2, 3, false, true)
	}
	r.bn1 = NewBatchNorm(p, prefix+"bn1", 64)
	c := int64(64)
	for li, w := range []int64{64, 128, 256, 512} {
		for bi := 0; bi < 2; bi++ {
			stride := int64(1)
			if li > 0 && bi == 0 {
				stride = 2
			}
			pf := fmt.Sprintf("%slayer%d.%d.", prefix, li+1, bi)
			b := &basicBlock{
				c1: NewConv2d(p, pf+"conv1", c, w, 3, stride, 1, false, true),
				b1: NewBatchNorm(p, pf+"bn1", w),
				c2: NewConv2d(p, pf+"conv2", w, w, 3, 1, 1, false, true),
				b2: NewBatchNorm(p, pf+"bn2", w),
			}
			if stride != 1 || c != w {
				b.dc = NewConv2d(p, pf+"downsample.0", c, w, 1, stride, 0, false, true)
				b.db = NewBatchNorm(p, pf+"downsample.1", w)
			}
			r.blocks = append(r.blocks, b)
			c = w
		}
	}
	return r
}

// Dim is 512.
func (r *ResNet) Dim() int64 { return 512 }

// Forward returns float32 features (global average pool).
func (r *ResNet) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	x = tp.Relu(r.bn1.Forward(tp, r.conv1.Forward(tp, x), train))
	if !r.cifar {
		x = tp.MaxPool2d(x, 3, 2, 1)
	}
	for _, b := range r.blocks {
		x = b.forward(tp, x, train)
	}
	return tp.MeanDims(x, false, 2, 3)
}

// EmbedNCHW runs bb in evaluation mode on x (float32 NCHW of the given
// shape, already normalized) in batches of batch (0: 256) on dev and
// returns one feature vector per image. It locks the OS thread.
func EmbedNCHW(bb Backbone, dev gotch.Device, x []float32, shape [4]int, batch int) (out [][]float32, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	if batch <= 0 {
		batch = 256
	}
	per := shape[1] * shape[2] * shape[3]
	if len(x) != shape[0]*per {
		return nil, fmt.Errorf("nn: %d values for shape %v", len(x), shape)
	}
	d := int(bb.Dim())
	for i := 0; i < shape[0]; i += batch {
		n := min(batch, shape[0]-i)
		var tp op.Tape
		c := tp.Float32(x[i*per:(i+n)*per], dev, int64(n), int64(shape[1]), int64(shape[2]), int64(shape[3]))
		f := op.ToFloat32(Float32(&tp, bb.Forward(&tp, c, false)))
		for j := 0; j < n; j++ {
			out = append(out, f[j*d:(j+1)*d])
		}
		tp.Drop()
	}
	return out, nil
}
