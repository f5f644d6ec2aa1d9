package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/sslpipe/sslpipe/train/op"
)

// Config describes a wav2vec 2.0 / HuBERT Transformer encoder.
type Config struct {
	Dim    int64 `yaml:"dim" json:"dim"`       // model width (768 for base)
	Layers int   `yaml:"layers" json:"layers"` // blocks (12)
	Heads  int64 `yaml:"heads" json:"heads"`   // attention heads (12)
	FFN    int64 `yaml:"ffn" json:"ffn"`       // feed-forward width (3072)
	// PosConvKernel and PosConvGroups shape the convolutional relative
	// positional embedding (128 and 16 for base); kernel 0 disables it.
	PosConvKernel int64 `yaml:"pos_conv_kernel" json:"pos_conv_kernel"`
	PosConvGroups int64 `yaml:"pos_conv_groups" json:"pos_conv_groups"`
	// LayerNormFirst selects pre-LN blocks (wav2vec 2.0 large); false is
	// the post-LN block of HuBERT base.
	LayerNormFirst bool    `yaml:"layer_norm_first" json:"layer_norm_first"`
	Dropout        float64 `yaml:"dropout" json:"dropout"`                       // after attention and FFN, and after the positional embedding (0.1)
	AttnDropout    float64 `yaml:"attention_dropout" json:"attention_dropout"`   // on attention weights (0.1)
	ActDropout     float64 `yaml:"activation_dropout" json:"activation_dropout"` // after the FFN GELU (0.0)
	LayerDrop      float64 `yaml:"layer_drop" json:"layer_drop"`                 // probability of skipping a block in training (0.05 for HuBERT base)
	Eps            float64 `yaml:"eps" json:"eps"`                               // layer-norm epsilon (1e-5)
}

// Validate checks the shape parameters.
func (c Config) Validate() error {
	switch {
	case c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.FFN <= 0:
		return fmt.Errorf("transformer: dim %d, layers %d, heads %d and ffn %d must be > 0", c.Dim, c.Layers, c.Heads, c.FFN)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("transformer: dim %d is not divisible by %d heads", c.Dim, c.Heads)
	case c.PosConvKernel < 0 || (c.PosConvKernel > 0 && (c.PosConvGroups <= 0 || c.Dim%c.PosConvGroups != 0)):
		return fmt.Errorf("transformer: positional conv kernel %d with %d groups does not fit dim %d", c.PosConvKernel, c.PosConvGroups, c.Dim)
	case c.Dropout < 0 || c.Dropout >= 1 || c.AttnDropout < 0 || c.AttnDropout >= 1 || c.ActDropout < 0 || c.ActDropout >= 1 || c.LayerDrop < 0 || c.LayerDrop >= 1:
		return fmt.Errorf("transformer: dropout probabilities must be in [0, 1)")
	}
	return nil
}

type lin struct{ w, b op.Tensor }

type block struct {
	q, k, v, o lin
	ln1w, ln1b op.Tensor // layer_norm (after attention, or before it when LayerNormFirst)
	ff1, ff2   lin
	ln2w, ln2b op.Tensor // final_layer_norm
}

// Encoder is the Transformer encoder of wav2vec 2.0 and HuBERT: a
// convolutional relative positional embedding (grouped Conv1d with weight
// normalization over the kernel dimension, "same" padding, GELU) added to
// the input, then Layers blocks of multi-head self-attention and a GELU
// feed-forward network, post-LN or pre-LN, and a final layer norm.
//
// The order of operations and the parameter names are torchaudio's
// (torchaudio.models.wav2vec2.components.Transformer, version 0.13), so a
// state dict converts name for name: pos_conv_embed.conv.{weight_g,
// weight_v,bias}, layer_norm.*, layers.<i>.attention.{q,k,v,out}_proj.*,
// layers.<i>.layer_norm.*, layers.<i>.feed_forward.{intermediate,
// output}_dense.*, layers.<i>.final_layer_norm.* (all under the prefix
// given to New). As in fairseq, the encoder's own layer norm (layer_norm.*)
// comes before the first block when the blocks are post-LN (HuBERT base)
// and after the last block when they are pre-LN.
//
// Attention is written with matmul and softmax (libtorch 1.13 has no
// scaled_dot_product_attention); sequences in a batch have equal length
// (no padding mask).
type Encoder struct {
	cfg        Config
	posV, posG op.Tensor
	posB       op.Tensor
	lnw, lnb   op.Tensor
	blocks     []block
}

func newLin(p *Params, name string, in, out int64, w []float32) lin {
	return lin{
		w: p.New(name+".weight", false, w, out, in),
		b: p.New(name+".bias", true, Fill(out, 0), out),
	}
}

// New adds the encoder's parameters to p under prefix (e.g.
// "wav2vec2.encoder.transformer.") with HuBERT's initialization
// (torchaudio's _init_hubert_pretrain_model): positional conv N(0,
// 4/(k·dim)), attention projections Xavier-uniform (gain 1/√2 for q, k,
// v), other linear layers N(0, 0.02²) with zero biases, layer norms 1/0.
// Errors from libtorch are returned.
func New(p *Params, prefix string, cfg Config) (e *Encoder, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-5
	}
	defer op.Catch(&err)
	e = &Encoder{cfg: cfg}
	d := cfg.Dim
	if k := cfg.PosConvKernel; k > 0 {
		g := cfg.PosConvGroups
		v := p.Normal(d*(d/g)*k, math.Sqrt(4/float64(k*d)))
		// weight_norm(dim=2) at initialization: g = ||v|| over dims 0, 1.
		gv := make([]float32, k)
		per := d * (d / g)
		for j := int64(0); j < k; j++ {
			var s float64
			for i := int64(0); i < per; i++ {
				x := float64(v[i*k+j])
				s += x * x
			}
			gv[j] = float32(math.Sqrt(s))
		}
		e.posG = p.New(prefix+"pos_conv_embed.conv.weight_g", true, gv, 1, 1, k)
		e.posV = p.New(prefix+"pos_conv_embed.conv.weight_v", false, v, d, d/g, k)
		e.posB = p.New(prefix+"pos_conv_embed.conv.bias", true, Fill(d, 0), d)
	}
	e.lnw = p.New(prefix+"layer_norm.weight", true, Fill(d, 1), d)
	e.lnb = p.New(prefix+"layer_norm.bias", true, Fill(d, 0), d)
	g := 1 / math.Sqrt2
	for i := 0; i < cfg.Layers; i++ {
		n := prefix + "layers." + strconv.Itoa(i) + "."
		var b block
		b.k = newLin(p, n+"attention.k_proj", d, d, p.XavierUniform(d, d, g))
		b.v = newLin(p, n+"attention.v_proj", d, d, p.XavierUniform(d, d, g))
		b.q = newLin(p, n+"attention.q_proj", d, d, p.XavierUniform(d, d, g))
		b.o = newLin(p, n+"attention.out_proj", d, d, p.XavierUniform(d, d, 1))
		b.ln1w = p.New(n+"layer_norm.weight", true, Fill(d, 1), d)
		b.ln1b = p.New(n+"layer_norm.bias", true, Fill(d, 0), d)
		b.ff1 = newLin(p, n+"feed_forward.intermediate_dense", d, cfg.FFN, p.Normal(cfg.FFN*d, 0.02))
		b.ff2 = newLin(p, n+"feed_forward.output_dense", cfg.FFN, d, p.Normal(d*cfg.FFN, 0.02))
		b.ln2w = p.New(n+"final_layer_norm.weight", true, Fill(d, 1), d)
		b.ln2b = p.New(n+"final_layer_norm.bias", true, Fill(d, 0), d)
		e.blocks = append(e.blocks, b)
	}
	return e, nil
}

// Config returns the encoder's configuration.
func (e *Encoder) Config() Config { return e.cfg }

// Options control one forward pass.
type Options struct {
	// Train enables dropout and layer drop.
	Train bool
	// Rng draws the layer-drop decisions (needed when Train and LayerDrop > 0).
	Rng *rand.Rand
	// Layers, when > 0, stops after that many blocks (feature extraction
	// from an intermediate layer); Final is then that block's output.
	Layers int
	// Keep collects every block's output (Output.Blocks) and feed-forward
	// output before the last residual (Output.FFN), as data2vec needs.
	Keep bool
}

// Output of Forward; tensors belong to the op.Tape.
type Output struct {
	// Final is the encoder output (B x T x Dim): the last block's output
	// (followed by the final layer norm for pre-LN blocks), or the output
	// of block Options.Layers when stopped early.
	Final op.Tensor
	// Blocks[i] is block i's output; FFN[i] is block i's feed-forward
	// output before the residual connection that ends the block (the
	// data2vec target). Only with Options.Keep; a dropped block
	// (layer drop) repeats its input and has a nil FFN entry.
	Blocks, FFN []op.Tensor
}

// PosEmbed is the convolutional positional embedding of x (B x T x Dim).
func (e *Encoder) PosEmbed(tp *op.Tape, x op.Tensor) op.Tensor {
	k := e.cfg.PosConvKernel
	// weight_norm(dim=2): w = g · v / ||v||, the norm over dims 0 and 1.
	nv := tp.Sqrt(tp.SumDims(tp.Mul(e.posV, e.posV), true, 0, 1))
	w := tp.Mul(e.posV, tp.Div(e.posG, nv))
	xc := tp.Transpose(x, 1, 2)
	y := tp.Conv1d(xc, w, e.posB, 1, k/2, e.cfg.PosConvGroups)
	if k%2 == 0 {
		y = tp.Narrow(y, 2, 0, op.Shape(y)[2]-1)
	}
	// GELU after the transpose, on a contiguous copy, so that its gradient
	// is contiguous (see GeluNative); same values as torchaudio's order.
	return tp.GeluNative(tp.Contiguous(tp.Transpose(y, 1, 2)))
}

// attention is multi-head self-attention of block b on x (B x T x Dim).
func (e *Encoder) attention(tp *op.Tape, b *block, x op.Tensor, train bool) op.Tensor {
	q := tp.Linear(x, b.q.w, b.q.b)
	k := tp.Linear(x, b.k.w, b.k.b)
	v := tp.Linear(x, b.v.w, b.v.b)
	return tp.Linear(multiHead(tp, q, k, v, e.cfg.Heads, e.cfg.AttnDropout, train), b.o.w, b.o.b)
}

// multiHead is scaled dot-product attention over heads of the projected
// queries, keys and values q, k, v (each B x T x D, possibly strided views)
// with dropout p on the attention weights; it returns the heads
// concatenated (B x T x D), before the output projection.
func multiHead(tp *op.Tape, q, k, v op.Tensor, heads int64, p float64, train bool) op.Tensor {
	s := op.Shape(q)
	B, T, D := s[0], s[1], s[2]
	hd := D / heads
	q = tp.Transpose(tp.Reshape(q, B, T, heads, hd), 1, 2)       // B H T hd
	k = tp.Permute(tp.Reshape(k, B, T, heads, hd), 0, 2, 3, 1)   // B H hd T
	v = tp.Transpose(tp.Reshape(v, B, T, heads, hd), 1, 2)       // B H T hd
	w := tp.Matmul(tp.MulScalar(q, 1/math.Sqrt(float64(hd))), k) // B H T T
	w = tp.Softmax(w, -1)
	w = tp.Dropout(w, p, train)
	return tp.Reshape(tp.Transpose(tp.Matmul(w, v), 1, 2), B, T, D)
}

func (e *Encoder) ffn(tp *op.Tape, b *block, x op.Tensor, train bool) op.Tensor {
	h := tp.GeluNative(tp.Linear(x, b.ff1.w, b.ff1.b))
	h = tp.Dropout(h, e.cfg.ActDropout, train)
	h = tp.Linear(h, b.ff2.w, b.ff2.b)
	return tp.Dropout(h, e.cfg.Dropout, train)
}

// Forward runs the encoder on x (B x T x Dim, float32); the result's
// tensors belong to tp. libtorch errors are raised for op.Catch (callers
// defer op.Catch).
func (e *Encoder) Forward(tp *op.Tape, x op.Tensor, o Options) Output {
	c := e.cfg
	d := c.Dim
	if c.PosConvKernel > 0 {
		x = tp.Add(x, e.PosEmbed(tp, x))
	}
	if !c.LayerNormFirst {
		x = tp.LayerNorm(x, e.lnw, e.lnb, d, c.Eps)
	}
	x = tp.Dropout(x, c.Dropout, o.Train)
	var out Output
	n := len(e.blocks)
	if o.Layers > 0 && o.Layers < n {
		n = o.Layers
	}
	for i := 0; i < n; i++ {
		b := &e.blocks[i]
		if o.Train && c.LayerDrop > 0 && o.Rng != nil && o.Rng.Float64() < c.LayerDrop {
			if o.Keep {
				out.Blocks = append(out.Blocks, x)
				out.FFN = append(out.FFN, nil)
			}
			continue
		}
		res := x
		if c.LayerNormFirst {
			x = tp.LayerNorm(x, b.ln1w, b.ln1b, d, c.Eps)
		}
		x = tp.Dropout(e.attention(tp, b, x, o.Train), c.Dropout, o.Train)
		x = tp.Add(res, x)
		var f op.Tensor
		if c.LayerNormFirst {
			f = e.ffn(tp, b, tp.LayerNorm(x, b.ln2w, b.ln2b, d, c.Eps), o.Train)
			x = tp.Add(x, f)
		} else {
			x = tp.LayerNorm(x, b.ln1w, b.ln1b, d, c.Eps)
			f = e.ffn(tp, b, x, o.Train)
			x = tp.LayerNorm(tp.Add(x, f), b.ln2w, b.ln2b, d, c.Eps)
		}
		if o.Keep {
			out.Blocks = append(out.Blocks, x)
			out.FFN = append(out.FFN, f)
		}
	}
	if n == len(e.blocks) && c.LayerNormFirst {
		x = tp.LayerNorm(x, e.lnw, e.lnb, d, c.Eps)
	}
	out.Final = x
	return out
}
