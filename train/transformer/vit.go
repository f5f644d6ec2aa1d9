package transformer

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// The ViT sizes register as image backbones (nn.Arch names vit-tiny,
// vit-small, vit-nano; Arch.ImageSize is required, Arch.Patch defaults to
// PatchFor(ImageSize), Arch.DropPath is the stochastic-depth rate).
func init() {
	for name := range vitSizes {
		nn.RegisterBackbone(name, newViTBackbone)
	}
}

func newViTBackbone(p *nn.Params, prefix string, a nn.Arch) (nn.Backbone, error) {
	if a.ImageSize <= 0 {
		return nil, fmt.Errorf("transformer: arch %s needs image_size (the training crop size)", a.Name)
	}
	cfg, err := ViTPreset(a.Name, int64(a.ImageSize), int64(a.InChannels))
	if err != nil {
		return nil, err
	}
	if a.Patch > 0 {
		cfg.Patch = int64(a.Patch)
	}
	cfg.DropPath = a.DropPath
	return NewViT(p, prefix, cfg)
}

// ViTConfig describes a Vision Transformer (Dosovitskiy et al., 2021) as
// DINO and MoCo v3 build it: non-overlapping patches embedded linearly, a
// CLS token, learnable position embeddings, pre-LN blocks with a fused
// QKV projection and a GELU MLP, and a final layer norm.
type ViTConfig struct {
	// ImageSize is the side of the training images (DINO's global crops);
	// it fixes the position grid at ImageSize/Patch per side. Inputs of
	// another size (local crops) get the grid interpolated.
	ImageSize  int64   `yaml:"image_size" json:"image_size"`
	Patch      int64   `yaml:"patch" json:"patch"` // 0: PatchFor(ImageSize)
	InChannels int64   `yaml:"in_channels" json:"in_channels"`
	Dim        int64   `yaml:"dim" json:"dim"`
	Layers     int     `yaml:"layers" json:"layers"`
	Heads      int64   `yaml:"heads" json:"heads"`
	MLPRatio   float64 `yaml:"mlp_ratio" json:"mlp_ratio"` // 0: 4
	// DropPath is the stochastic-depth rate of the last block; block i of
	// L drops its residual branches per sample with rate DropPath·i/(L-1)
	// (timm/DINO; 0.1 for DINO's ViT-S/16).
	DropPath float64 `yaml:"drop_path" json:"drop_path"`
	Eps      float64 `yaml:"eps" json:"eps"` // layer-norm epsilon; 0: 1e-6
}

// ViT sizes. Tiny and Small are DeiT's (and DINO's vit_tiny, vit_small);
// Nano is a CPU size for 28-32 px images.
var vitSizes = map[string]ViTConfig{
	"vit-tiny":  {Dim: 192, Layers: 12, Heads: 3},
	"vit-small": {Dim: 384, Layers: 12, Heads: 6},
	"vit-nano":  {Dim: 128, Layers: 6, Heads: 4},
}

// PatchFor is the patch size used for training images of side size: 4 up
// to 64 px (CIFAR, Fashion-MNIST: 7x7 or 8x8 patches), 8 up to 128 px and
// 16 beyond (ImageNet's ViT-S/16 at 224 px).
func PatchFor(size int64) int64 {
	switch {
	case size <= 64:
		return 4
	case size <= 128:
		return 8
	}
	return 16
}

// ViTPreset returns the named size (vit-tiny, vit-small or vit-nano) for
// imageSize-pixel images with the given channels and patch PatchFor.
func ViTPreset(name string, imageSize, inChannels int64) (ViTConfig, error) {
	c, ok := vitSizes[name]
	if !ok {
		return ViTConfig{}, fmt.Errorf("transformer: unknown ViT %q (want vit-tiny, vit-small or vit-nano)", name)
	}
	c.ImageSize, c.InChannels, c.Patch = imageSize, inChannels, PatchFor(imageSize)
	return c, nil
}

func (c ViTConfig) withDefaults() ViTConfig {
	if c.Patch == 0 {
		c.Patch = PatchFor(c.ImageSize)
	}
	if c.MLPRatio == 0 {
		c.MLPRatio = 4
	}
	if c.Eps == 0 {
		c.Eps = 1e-6
	}
	return c
}

// Validate checks the shape parameters (after defaults).
func (c ViTConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.InChannels <= 0 || c.MLPRatio <= 0:
		return fmt.Errorf("transformer: vit: dim %d, layers %d, heads %d, in_channels %d and mlp_ratio %v must be > 0", c.Dim, c.Layers, c.Heads, c.InChannels, c.MLPRatio)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("transformer: vit: dim %d is not divisible by %d heads", c.Dim, c.Heads)
	case c.Patch <= 0 || c.ImageSize < c.Patch:
		return fmt.Errorf("transformer: vit: image size %d must be at least the patch size %d > 0", c.ImageSize, c.Patch)
	case c.DropPath < 0 || c.DropPath >= 1:
		return fmt.Errorf("transformer: vit: drop_path %v outside [0, 1)", c.DropPath)
	}
	return nil
}

type vitBlock struct {
	norm1w, norm1b op.Tensor
	qkv, proj      lin
	norm2w, norm2b op.Tensor
	fc1, fc2       lin
	dropPath       float64
}

// ViT is a Vision Transformer backbone. Its parameter names (under the
// prefix given to NewViT) are timm's and DINO's VisionTransformer:
// cls_token, pos_embed, patch_embed.proj.{weight,bias},
// blocks.<i>.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.{weight,bias},
// norm.{weight,bias}; with an empty prefix Params.Tensors gives a state
// dict that loads into DINO's vit_small (patch 16, 224 px) as is.
//
// The patch embedding is the convolution with kernel and stride Patch,
// computed as a linear map of the flattened patches (the same product;
// the weight keeps the convolution's Dim x C x Patch x Patch shape).
// Inputs whose side is not a multiple of Patch lose the remainder rows and
// columns, as with the convolution.
type ViT struct {
	cfg          ViTConfig
	grid         int64 // position grid side (ImageSize / Patch)
	patchW       op.Tensor
	patchB       op.Tensor
	cls, pos     op.Tensor
	blocks       []vitBlock
	normw, normb op.Tensor
}

// NewViT adds the ViT's parameters to p under prefix with DINO's
// initialization: position embedding, CLS token and linear weights
// N(0, 0.02²) truncated (nn.Params.TruncNormal), biases 0, layer norms 1/0, and the patch
// embedding PyTorch's Conv2d default (U(±1/√fan_in) for weight and bias).
// Biases and layer-norm parameters are marked NoDecay (DINO exempts
// biases and 1-D tensors from weight decay; the CLS token and position
// embedding are decayed).
func NewViT(p *Params, prefix string, cfg ViTConfig) (v *ViT, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	defer op.Catch(&err)
	d, P, C := cfg.Dim, cfg.Patch, cfg.InChannels
	g := cfg.ImageSize / P
	v = &ViT{cfg: cfg, grid: g}
	v.pos = p.New(prefix+"pos_embed", false, p.TruncNormal((g*g+1)*d, 0.02), 1, g*g+1, d)
	v.cls = p.New(prefix+"cls_token", false, p.TruncNormal(d, 0.02), 1, 1, d)
	fan := C * P * P
	bound := 1 / math.Sqrt(float64(fan))
	v.patchW = p.New(prefix+"patch_embed.proj.weight", false, p.Uniform(d*fan, -bound, bound), d, C, P, P)
	v.patchB = p.New(prefix+"patch_embed.proj.bias", true, p.Uniform(d, -bound, bound), d)
	hidden := int64(float64(d) * cfg.MLPRatio)
	for i := 0; i < cfg.Layers; i++ {
		n := prefix + "blocks." + strconv.Itoa(i) + "."
		var b vitBlock
		b.norm1w = p.New(n+"norm1.weight", true, Fill(d, 1), d)
		b.norm1b = p.New(n+"norm1.bias", true, Fill(d, 0), d)
		b.qkv = newLin(p, n+"attn.qkv", d, 3*d, p.TruncNormal(3*d*d, 0.02))
		b.proj = newLin(p, n+"attn.proj", d, d, p.TruncNormal(d*d, 0.02))
		b.norm2w = p.New(n+"norm2.weight", true, Fill(d, 1), d)
		b.norm2b = p.New(n+"norm2.bias", true, Fill(d, 0), d)
		b.fc1 = newLin(p, n+"mlp.fc1", d, hidden, p.TruncNormal(hidden*d, 0.02))
		b.fc2 = newLin(p, n+"mlp.fc2", hidden, d, p.TruncNormal(d*hidden, 0.02))
		if cfg.Layers > 1 {
			b.dropPath = cfg.DropPath * float64(i) / float64(cfg.Layers-1)
		}
		v.blocks = append(v.blocks, b)
	}
	v.normw = p.New(prefix+"norm.weight", true, Fill(d, 1), d)
	v.normb = p.New(prefix+"norm.bias", true, Fill(d, 0), d)
	return v, nil
}

// Config returns the configuration (with defaults filled in).
func (v *ViT) Config() ViTConfig { return v.cfg }

// Dim is the embedding width (the CLS embedding's size).
func (v *ViT) Dim() int64 { return v.cfg.Dim }

// Forward returns the CLS embeddings (B x Dim) of images x (B x C x H x
// W, float32) after the final layer norm. train enables stochastic depth
// (libtorch's generator, like dropout). Tensors belong to tp; libtorch
// errors and inputs smaller than a patch are raised for op.Catch.
func (v *ViT) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	t := v.Tokens(tp, x, train)
	s := op.Shape(t)
	return tp.Reshape(tp.Narrow(t, 1, 0, 1), s[0], s[2])
}

// Tokens returns every output token (B x (1 + h·w) x Dim: the CLS token,
// then the h x w patch tokens in row-major order) after the final layer
// norm.
func (v *ViT) Tokens(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	c := v.cfg
	s := op.Shape(x)
	if len(s) != 4 || s[1] != c.InChannels || s[2] < c.Patch || s[3] < c.Patch {
		op.Fail(fmt.Errorf("transformer: vit: input %v, want B x %d x H x W with H, W >= %d", s, c.InChannels, c.Patch))
	}
	B, P, d := s[0], c.Patch, c.Dim
	h, w := s[2]/P, s[3]/P
	if h*P != s[2] {
		x = tp.Narrow(x, 2, 0, h*P)
	}
	if w*P != s[3] {
		x = tp.Narrow(x, 3, 0, w*P)
	}
	// B C h P w P -> B h w C P P -> B (h·w) (C·P·P): the conv's patches.
	p := tp.Reshape(tp.Permute(tp.Reshape(x, B, c.InChannels, h, P, w, P), 0, 2, 4, 1, 3, 5), B, h*w, c.InChannels*P*P)
	p = tp.Linear(p, tp.Reshape(v.patchW, d, -1), v.patchB)
	t := tp.Cat([]op.Tensor{tp.Expand(v.cls, B, 1, d), p}, 1)
	t = tp.Add(t, v.PosEmbed(tp, h, w))
	for i := range v.blocks {
		t = v.block(tp, &v.blocks[i], t, train)
	}
	return tp.LayerNorm(t, v.normw, v.normb, d, c.Eps)
}

// PosEmbed is the position embedding (1 x (1 + h·w) x Dim) for an h x w
// patch grid: the parameter itself on the training grid, otherwise the
// patch part resized bicubically as DINO's interpolate_pos_encoding does
// (interpolate with scale factors ((h+0.1)/g, (w+0.1)/g) for a g x g
// grid, so the source coordinates follow those factors), the CLS position
// unchanged.
func (v *ViT) PosEmbed(tp *op.Tape, h, w int64) op.Tensor {
	g, d := v.grid, v.cfg.Dim
	if h == g && w == g {
		return v.pos
	}
	cls := tp.Narrow(v.pos, 1, 0, 1)
	grid := tp.Permute(tp.Reshape(tp.Narrow(v.pos, 1, 1, g*g), 1, g, g, d), 0, 3, 1, 2)
	up := tp.UpsampleBicubic2d(grid, h, w, (float64(h)+0.1)/float64(g), (float64(w)+0.1)/float64(g))
	up = tp.Reshape(tp.Permute(up, 0, 2, 3, 1), 1, h*w, d)
	return tp.Cat([]op.Tensor{cls, up}, 1)
}

// dropPath scales each sample's residual branch y (B x T x D) by 0 or
// 1/(1-rate) in training (timm's drop_path, scale_by_keep), drawing from
// libtorch's generator through dropout on a B x 1 x 1 tensor of ones.
func dropPath(tp *op.Tape, y op.Tensor, rate float64, train bool) op.Tensor {
	if rate <= 0 || !train {
		return y
	}
	ones := tp.AddScalar(tp.ZerosLike(tp.Narrow(tp.Narrow(y, 1, 0, 1), 2, 0, 1)), 1) // B x 1 x 1
	return tp.Mul(y, tp.Dropout(ones, rate, true))
}

func (v *ViT) block(tp *op.Tape, b *vitBlock, x op.Tensor, train bool) op.Tensor {
	c := v.cfg
	d := c.Dim
	h := tp.LayerNorm(x, b.norm1w, b.norm1b, d, c.Eps)
	qkv := tp.Linear(h, b.qkv.w, b.qkv.b) // B T 3D: q, k, v in that order
	a := multiHead(tp, tp.Narrow(qkv, 2, 0, d), tp.Narrow(qkv, 2, d, d), tp.Narrow(qkv, 2, 2*d, d), c.Heads, 0, train)
	x = tp.Add(x, dropPath(tp, tp.Linear(a, b.proj.w, b.proj.b), b.dropPath, train))
	h = tp.LayerNorm(x, b.norm2w, b.norm2b, d, c.Eps)
	// GELU's incoming gradient comes from fc2's backward (contiguous), so
	// libtorch's native kernel is safe here (see op.Tape.GeluNative).
	m := tp.Linear(tp.GeluNative(tp.Linear(h, b.fc1.w, b.fc1.b)), b.fc2.w, b.fc2.b)
	return tp.Add(x, dropPath(tp, m, b.dropPath, train))
}
