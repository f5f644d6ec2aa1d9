// Package wavenc is the wav2vec 2.0 / HuBERT convolutional feature encoder:
// a stack of strided 1-D convolutions from the raw 16 kHz waveform to
// 50 Hz frames (512 channels, kernels 10,3,3,3,3,2,2, strides
// 5,2,2,2,2,2,2 in the reference), GroupNorm with one group per channel
// after the first convolution ("group_norm" mode) or a layer norm after
// every convolution ("layer_norm" mode), GELU after each layer.
//
// Parameter names are torchaudio's (feature_extractor.conv_layers.<i>.conv.
// weight, conv_layers.0.layer_norm.{weight,bias}) under the prefix given to
// New. Built on the op layer of package transformer (Tape, Params); every
// function that runs ops raises libtorch errors for transformer.Catch.
package wavenc

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"

	"github.com/sslpipe/sslpipe/audio"
)

// Config describes the convolution stack.
type Config struct {
	Channels []int64 `yaml:"channels" json:"channels"` // output channels per layer
	Kernels  []int64 `yaml:"kernels" json:"kernels"`
	Strides  []int64 `yaml:"strides" json:"strides"`
	Bias     bool    `yaml:"bias" json:"bias"` // convolution biases (false in HuBERT)
	// Mode is "group_norm" (HuBERT/wav2vec 2.0 base) or "layer_norm".
	Mode string `yaml:"mode" json:"mode"`
}

// Base is the reference encoder: 7 layers of 512 channels, 320 samples per
// frame, receptive field 400 samples.
func Base() Config {
	return Config{
		Channels: []int64{512, 512, 512, 512, 512, 512, 512},
		Kernels:  []int64{10, 3, 3, 3, 3, 2, 2},
		Strides:  []int64{5, 2, 2, 2, 2, 2, 2},
		Mode:     "group_norm",
	}
}

// Validate checks the layer lists.
func (c Config) Validate() error {
	n := len(c.Channels)
	if n == 0 || len(c.Kernels) != n || len(c.Strides) != n {
		return fmt.Errorf("wavenc: %d channel counts, %d kernels, %d strides: want the same number > 0", n, len(c.Kernels), len(c.Strides))
	}
	for i := range n {
		if c.Channels[i] <= 0 || c.Kernels[i] <= 0 || c.Strides[i] <= 0 {
			return fmt.Errorf("wavenc: layer %d: channels %d, kernel %d, stride %d must be > 0", i, c.Channels[i], c.Kernels[i], c.Strides[i])
		}
	}
	if c.Mode != "group_norm" && c.Mode != "layer_norm" {
		return fmt.Errorf("wavenc: mode %q: want group_norm or layer_norm", c.Mode)
	}
	return nil
}

// Stack is the kernel/stride description audio/ uses to count frames and
// align labels.
func (c Config) Stack() audio.ConvStack {
	var s audio.ConvStack
	for i := range c.Kernels {
		s.Kernels = append(s.Kernels, int(c.Kernels[i]))
		s.Strides = append(s.Strides, int(c.Strides[i]))
	}
	return s
}

// Frames is the number of output frames for n samples (0 when n is
// shorter than the receptive field).
func (c Config) Frames(n int) int { return c.Stack().Frames(n) }

// ReceptiveField is the number of samples one output frame sees.
func (c Config) ReceptiveField() int {
	r := 1
	for i := len(c.Kernels) - 1; i >= 0; i-- {
		r = (r-1)*int(c.Strides[i]) + int(c.Kernels[i])
	}
	return r
}

// Dim is the number of output channels.
func (c Config) Dim() int64 { return c.Channels[len(c.Channels)-1] }

type layer struct {
	w, b     op.Tensor
	nw, nb   op.Tensor
	k, s, ch int64
}

// Encoder is the convolutional feature encoder.
type Encoder struct {
	cfg    Config
	layers []layer
}

// New adds the encoder's parameters to p under prefix with HuBERT's
// initialization (Kaiming-normal convolutions, fan-in, gain √2; norms 1/0).
func New(p *tr.Params, prefix string, cfg Config) (e *Encoder, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	defer op.Catch(&err)
	e = &Encoder{cfg: cfg}
	in := int64(1)
	for i := range cfg.Channels {
		n := prefix + "conv_layers." + strconv.Itoa(i) + "."
		out, k := cfg.Channels[i], cfg.Kernels[i]
		l := layer{k: k, s: cfg.Strides[i], ch: out}
		l.w = p.New(n+"conv.weight", false, p.Normal(out*in*k, math.Sqrt(2/float64(in*k))), out, in, k)
		if cfg.Bias {
			bd := 1 / math.Sqrt(float64(in*k))
			l.b = p.New(n+"conv.bias", true, p.Uniform(out, -bd, bd), out)
		}
		if cfg.Mode == "layer_norm" || i == 0 {
			l.nw = p.New(n+"layer_norm.weight", true, tr.Fill(out, 1), out)
			l.nb = p.New(n+"layer_norm.bias", true, tr.Fill(out, 0), out)
		}
		e.layers = append(e.layers, l)
		in = out
	}
	return e, nil
}

// Config returns the configuration.
func (e *Encoder) Config() Config { return e.cfg }

// Forward maps waveforms (B x L float32) to features (B x T x C). The
// result belongs to tp.
func (e *Encoder) Forward(tp *op.Tape, wave op.Tensor) op.Tensor {
	x := tp.Unsqueeze(wave, 1)
	for i, l := range e.layers {
		x = tp.Conv1d(x, l.w, l.b, l.s, 0, 1)
		if l.nw != nil {
			if e.cfg.Mode == "layer_norm" {
				x = tp.Transpose(tp.LayerNorm(tp.Transpose(x, 1, 2), l.nw, l.nb, l.ch, 1e-5), 1, 2)
			} else if i == 0 {
				x = tp.GroupNorm(x, l.ch, l.nw, l.nb, 1e-5)
			}
		}
		if i == len(e.layers)-1 {
			// The output is used as B x T x C: transpose before the GELU
			// so that its incoming gradient is contiguous (see
			// transformer.Tape.GeluNative).
			return tp.GeluNative(tp.Contiguous(tp.Transpose(x, 1, 2)))
		}
		x = tp.GeluNative(x)
	}
	return tp.Transpose(x, 1, 2)
}
