package data2vec2

import (
	"fmt"
	"math"
	"slices"
	"strings"

	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// Modalities are the input kinds data2vec 2.0 trains on.
var Modalities = []string{"audio", "image", "text"}

// ModelConfig is the architecture and objective of one modality.
type ModelConfig struct {
	// Encoder is the student's (and teacher's) Transformer. Its blocks are
	// post-LN (fairseq's AltBlock with layer_norm_first false, the
	// data2vec 2.0 default) with the encoder's layer norm before the first
	// block; PosConvKernel must be 0 (audio positions come from PosConv,
	// image positions are fixed sin-cos, text positions are learned).
	// Image: fairseq's 2-block modality prenet and its 10 shared blocks
	// are one encoder of 12 blocks here, with TopK 10.
	Encoder tr.Config `yaml:"encoder" json:"encoder"`

	// Text: token and learned position embeddings, layer norm, dropout
	// (Encoder.Dropout).
	Vocab  int `yaml:"vocab" json:"vocab"`
	SeqLen int `yaml:"seq_len" json:"seq_len"`

	// Image: ViT patch embedding (a stride-Patch convolution written as a
	// linear map of flattened patches), fixed 2-D sin-cos positions (MAE's
	// get_2d_sincos_pos_embed) and one learned CLS token in front.
	ImageSize int `yaml:"image_size" json:"image_size"`
	Patch     int `yaml:"patch" json:"patch"`
	Channels  int `yaml:"channels" json:"channels"`

	// Audio: the wav2vec 2.0 CNN, layer norm and projection (the "local
	// features"), then a convolutional positional encoder added to them.
	CNN        wavenc.Config `yaml:"cnn" json:"cnn"`
	MaxSamples int           `yaml:"max_samples" json:"max_samples"`
	PosConv    PosConvConfig `yaml:"pos_conv" json:"pos_conv"`

	Decoder DecoderConfig `yaml:"decoder" json:"decoder"`
	Mask    MaskConfig    `yaml:"mask" json:"mask"`
	// MaskNoiseStd is the standard deviation of the Gaussian noise the
	// decoder gets at masked positions (fairseq mask_noise_std 0.01; 0:
	// zeros).
	MaskNoiseStd float64 `yaml:"mask_noise_std" json:"mask_noise_std"`
	// CloneBatch is the number of differently masked copies of each
	// sample the student sees per teacher pass (clone_batch).
	CloneBatch int `yaml:"clone_batch" json:"clone_batch"`

	// TopK blocks' feed-forward outputs (before each block's last
	// residual) are averaged into the targets (average_top_k_layers), each
	// normalized first by TargetNorm: "instance" (over time, per channel:
	// instance_norm_target_layer, all data2vec 2.0 base models), "layer"
	// or "none".
	TopK       int    `yaml:"top_k" json:"top_k"`
	TargetNorm string `yaml:"target_norm" json:"target_norm"`
	// FinalLayerNorm normalizes the average over channels again
	// (layer_norm_targets: images).
	FinalLayerNorm bool `yaml:"final_layer_norm" json:"final_layer_norm"`
	// LossScale multiplies the squared error summed over dimensions; 0 is
	// 1/sqrt(D) (fairseq loss_scale null; the text base model uses 1).
	LossScale float64 `yaml:"loss_scale" json:"loss_scale"`
	// ClsLoss (images) weighs the extra loss between the student's CLS
	// output and the mean of the targets over positions (cls_loss).
	ClsLoss float64 `yaml:"cls_loss" json:"cls_loss"`
}

// PosConvConfig is the audio positional encoder: Depth blocks of a grouped
// Conv1d (D -> D, "same" padding, the last frame dropped for an even
// Kernel), a layer norm over channels without affine parameters and GELU
// (fairseq's conv_pos_depth, conv_pos_width / depth, conv_pos_groups).
type PosConvConfig struct {
	Depth  int   `yaml:"depth" json:"depth"`
	Kernel int64 `yaml:"kernel" json:"kernel"`
	Groups int64 `yaml:"groups" json:"groups"`
}

// DecoderConfig is the light convolutional decoder (fairseq's Decoder1d for
// text and audio, Decoder2d on the patch grid for images): Layers blocks of
// a grouped convolution (Dim channels, Kernel wide, "same" padding), a
// layer norm over channels without affine parameters and GELU, each added
// to its input when Residual and the channel counts match, then a
// projection back to the encoder width (ProjLayers 1: one linear map; 2:
// Linear(Dim, Dim·ProjRatio), GELU, Linear(·, D)).
type DecoderConfig struct {
	Dim          int64   `yaml:"dim" json:"dim"`
	Kernel       int64   `yaml:"kernel" json:"kernel"`
	Groups       int64   `yaml:"groups" json:"groups"`
	Layers       int     `yaml:"layers" json:"layers"`
	Residual     bool    `yaml:"residual" json:"residual"`
	ProjLayers   int     `yaml:"proj_layers" json:"proj_layers"`
	ProjRatio    float64 `yaml:"proj_ratio" json:"proj_ratio"`
	InputDropout float64 `yaml:"input_dropout" json:"input_dropout"`
}

// MaskConfig is the masking of the student's input, drawn per sample and
// clone (Masker).
type MaskConfig struct {
	// Kind: "block" (images: augment.BlockMask2D on the patch grid),
	// "span" (audio: audio.SpanMaskCount, as many frames as fairseq's
	// spans cover on average) or "random" (text: a uniform subset,
	// fairseq's random_masking for mask_length 1).
	Kind string `yaml:"kind" json:"kind"`
	// Prob is the masked fraction (block, random) or the span-start
	// probability (span, fairseq mask_prob).
	Prob   float64 `yaml:"prob" json:"prob"`
	Length int     `yaml:"length" json:"length"`
	// ProbAdjust and Inverse are the block mask's mask_prob_adjust and
	// inverse_mask.
	ProbAdjust float64 `yaml:"prob_adjust" json:"prob_adjust"`
	Inverse    bool    `yaml:"inverse" json:"inverse"`
	// MinMasks is the least number of spans (span; fairseq passes 1).
	MinMasks int `yaml:"min_masks" json:"min_masks"`
}

// EMAConfig is the teacher's schedule: the decay rises linearly from Start
// to End over AnnealSteps updates (fairseq get_annealed_rate), then stays
// at End.
type EMAConfig struct {
	Start       float64 `yaml:"start" json:"start"`
	End         float64 `yaml:"end" json:"end"`
	AnnealSteps int64   `yaml:"anneal_steps" json:"anneal_steps"`
}

// TauAt is the decay applied after update step (0-based count of updates
// done before it).
func (c EMAConfig) TauAt(step int64) float64 {
	if c.AnnealSteps <= 0 || step >= c.AnnealSteps {
		return c.End
	}
	return c.End - (c.End-c.Start)*(1-float64(step)/float64(c.AnnealSteps))
}

// OptimConfig is AdamW (fairseq's Adam with decoupled weight decay; biases
// and 1-D parameters are not decayed), global gradient-norm clipping,
// linear warm-up and cosine decay to zero.
type OptimConfig struct {
	LR           float64 `yaml:"lr" json:"lr"`
	Beta1        float64 `yaml:"beta1" json:"beta1"`
	Beta2        float64 `yaml:"beta2" json:"beta2"`
	Eps          float64 `yaml:"eps" json:"eps"`
	WeightDecay  float64 `yaml:"weight_decay" json:"weight_decay"`
	ClipGradNorm float64 `yaml:"clip_grad_norm" json:"clip_grad_norm"` // 0: off
	WarmupSteps  int64   `yaml:"warmup_steps" json:"warmup_steps"`
}

// LRAt is the learning rate of update step (0-based) of total.
func (c OptimConfig) LRAt(step, total int64) float64 {
	if step < c.WarmupSteps {
		return c.LR * float64(step+1) / float64(c.WarmupSteps)
	}
	n := total - c.WarmupSteps
	if n <= 0 {
		return c.LR
	}
	p := math.Min(1, float64(step-c.WarmupSteps)/float64(n))
	return c.LR * 0.5 * (1 + math.Cos(math.Pi*p))
}

// CollapseConfig is the collapse monitor (fairseq: after 5,000 updates a
// target variance below 0.1 or a prediction variance below 0.01 ends the
// run; the image base model sets both to 0).
type CollapseConfig struct {
	MinTargetVar float64 `yaml:"min_target_var" json:"min_target_var"`
	MinPredVar   float64 `yaml:"min_pred_var" json:"min_pred_var"`
	After        int64   `yaml:"after" json:"after"`
	// Stop ends the run (ErrCollapse); otherwise the trainer warns.
	Stop bool `yaml:"stop" json:"stop"`
}

// Validate checks the model configuration for modality.
func (c ModelConfig) Validate(modality string) error {
	if err := c.Encoder.Validate(); err != nil {
		return fmt.Errorf("data2vec2: %w", err)
	}
	if c.Encoder.PosConvKernel != 0 {
		return fmt.Errorf("data2vec2: encoder pos_conv_kernel %d: positions come from the front-end (pos_conv for audio)", c.Encoder.PosConvKernel)
	}
	if c.Encoder.LayerNormFirst {
		return fmt.Errorf("data2vec2: encoder layer_norm_first: data2vec 2.0 blocks are post-LN")
	}
	d := c.Encoder.Dim
	switch modality {
	case "text":
		if c.Vocab < 2 || c.SeqLen < 2 {
			return fmt.Errorf("data2vec2: vocab %d and seq_len %d must be >= 2", c.Vocab, c.SeqLen)
		}
		if c.Mask.Kind != "random" && c.Mask.Kind != "span" {
			return fmt.Errorf("data2vec2: text mask kind %q (random, span)", c.Mask.Kind)
		}
	case "image":
		if c.Patch <= 0 || c.ImageSize <= 0 || c.ImageSize%c.Patch != 0 || c.Channels <= 0 {
			return fmt.Errorf("data2vec2: image size %d must be a positive multiple of patch %d, channels %d > 0", c.ImageSize, c.Patch, c.Channels)
		}
		if d%4 != 0 {
			return fmt.Errorf("data2vec2: image encoder dim %d must be a multiple of 4 (2-D sin-cos positions)", d)
		}
		if c.Mask.Kind != "block" && c.Mask.Kind != "random" {
			return fmt.Errorf("data2vec2: image mask kind %q (block, random)", c.Mask.Kind)
		}
	case "audio":
		if err := c.CNN.Validate(); err != nil {
			return fmt.Errorf("data2vec2: %w", err)
		}
		if c.MaxSamples < c.CNN.ReceptiveField() {
			return fmt.Errorf("data2vec2: max_samples %d is shorter than the CNN's receptive field %d", c.MaxSamples, c.CNN.ReceptiveField())
		}
		p := c.PosConv
		if p.Depth < 0 || (p.Depth > 0 && (p.Kernel < 1 || p.Groups < 1 || d%p.Groups != 0)) {
			return fmt.Errorf("data2vec2: pos_conv depth %d, kernel %d, groups %d do not fit dim %d", p.Depth, p.Kernel, p.Groups, d)
		}
		if c.Mask.Kind != "span" && c.Mask.Kind != "random" {
			return fmt.Errorf("data2vec2: audio mask kind %q (span, random)", c.Mask.Kind)
		}
	default:
		return fmt.Errorf("data2vec2: modality %q (%s)", modality, strings.Join(Modalities, ", "))
	}
	dc := c.Decoder
	switch {
	case dc.Layers < 1 || dc.Dim < 1 || dc.Kernel < 1 || dc.Groups < 1 || d%dc.Groups != 0 || dc.Dim%dc.Groups != 0:
		return fmt.Errorf("data2vec2: decoder layers %d, dim %d, kernel %d, groups %d (groups must divide %d and dim)", dc.Layers, dc.Dim, dc.Kernel, dc.Groups, d)
	case dc.ProjLayers < 1 || dc.ProjLayers > 2 || (dc.ProjLayers == 2 && !(dc.ProjRatio > 0)):
		return fmt.Errorf("data2vec2: decoder proj_layers %d (1 or 2), proj_ratio %v", dc.ProjLayers, dc.ProjRatio)
	case dc.InputDropout < 0 || dc.InputDropout >= 1:
		return fmt.Errorf("data2vec2: decoder input_dropout %v outside [0, 1)", dc.InputDropout)
	case !(c.Mask.Prob > 0 && c.Mask.Prob < 1):
		return fmt.Errorf("data2vec2: mask prob %v outside (0, 1)", c.Mask.Prob)
	case (c.Mask.Kind == "span" || c.Mask.Kind == "block") && c.Mask.Length < 1:
		return fmt.Errorf("data2vec2: mask length %d must be >= 1", c.Mask.Length)
	case c.Mask.Kind == "block" && c.Mask.Length < 2:
		return fmt.Errorf("data2vec2: block mask length %d must be >= 2 (1 is random masking)", c.Mask.Length)
	case c.MaskNoiseStd < 0:
		return fmt.Errorf("data2vec2: mask_noise_std %v < 0", c.MaskNoiseStd)
	case c.CloneBatch < 1:
		return fmt.Errorf("data2vec2: clone_batch %d must be >= 1", c.CloneBatch)
	case c.TopK < 1 || c.TopK > c.Encoder.Layers:
		return fmt.Errorf("data2vec2: top_k %d must be in [1, %d layers]", c.TopK, c.Encoder.Layers)
	case c.TargetNorm != "instance" && c.TargetNorm != "layer" && c.TargetNorm != "none":
		return fmt.Errorf("data2vec2: target_norm %q (instance, layer, none)", c.TargetNorm)
	case c.LossScale < 0 || c.ClsLoss < 0:
		return fmt.Errorf("data2vec2: loss_scale %v and cls_loss %v must be >= 0", c.LossScale, c.ClsLoss)
	case c.ClsLoss > 0 && modality != "image":
		return fmt.Errorf("data2vec2: cls_loss needs the image CLS token")
	}
	return nil
}

// Validate checks ranges.
func (c OptimConfig) Validate() error {
	if !(c.LR > 0) || c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 || !(c.Eps > 0) || c.WeightDecay < 0 || c.ClipGradNorm < 0 || c.WarmupSteps < 0 {
		return fmt.Errorf("data2vec2: optim: lr %v > 0, betas (%v, %v) in [0, 1), eps %v > 0, weight_decay %v, clip %v, warmup %d >= 0 required",
			c.LR, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, c.ClipGradNorm, c.WarmupSteps)
	}
	return nil
}

// Validate checks the decay range.
func (c EMAConfig) Validate() error {
	if c.Start < 0 || c.Start > 1 || c.End < 0 || c.End > 1 || c.AnnealSteps < 0 {
		return fmt.Errorf("data2vec2: ema start %v and end %v must be in [0, 1], anneal_steps %d >= 0", c.Start, c.End, c.AnnealSteps)
	}
	return nil
}

// Config is one modality's training recipe: what a preset fixes. (The run
// settings, data paths and logging belong to the shared trainer.)
type Config struct {
	Modality string         `yaml:"modality" json:"modality"`
	Preset   string         `yaml:"preset" json:"preset"`
	Model    ModelConfig    `yaml:"model" json:"model"`
	EMA      EMAConfig      `yaml:"ema" json:"ema"`
	Optim    OptimConfig    `yaml:"optim" json:"optim"`
	Collapse CollapseConfig `yaml:"collapse" json:"collapse"`
	// Batch is the number of samples per step (the student sees
	// Batch·CloneBatch masked copies); Steps the number of updates.
	Batch int   `yaml:"batch" json:"batch"`
	Steps int64 `yaml:"steps" json:"steps"`
	// Threads is libtorch's intra-op thread count (0: all cores).
	Threads int `yaml:"threads" json:"threads"`
	// Data is the default training input (as in train/data2vec).
	Data string `yaml:"data" json:"data"`
	// Limit uses only the first N examples (0: all).
	Limit int `yaml:"limit" json:"limit"`
}

// Validate checks the whole configuration.
func (c *Config) Validate() error {
	if err := c.Model.Validate(c.Modality); err != nil {
		return err
	}
	if err := c.Optim.Validate(); err != nil {
		return err
	}
	if err := c.EMA.Validate(); err != nil {
		return err
	}
	if c.Batch < 1 || c.Steps < 1 {
		return fmt.Errorf("data2vec2: batch %d and steps %d must be >= 1", c.Batch, c.Steps)
	}
	return nil
}

func postLN(dim int64, layers int, heads int64, dropout float64) tr.Config {
	return tr.Config{Dim: dim, Layers: layers, Heads: heads, FFN: 4 * dim,
		Dropout: dropout, AttnDropout: dropout}
}

// presets: modality -> name -> config.
//
// "<modality>-base" are the data2vec 2.0 base models of fairseq's
// examples/data2vec/config/v2/base_{images,audio,text}_only_task.yaml
// (global batch: images 16 per GPU x 16 GPUs; audio 1M samples per GPU x
// 8 GPUs, here 8 crops of 320,000 samples per step; text 4 x 16 GPUs
// sequences of 512 tokens), with the deviations listed in the package
// documentation. "<modality>-cpu" have the encoders, data and step counts
// of train/data2vec's CPU presets so that the two methods compare at equal
// size; "smoke" presets run a few steps of a toy model.
var presets = map[string]map[string]func() Config{
	"image": {
		// base_images_only_task.yaml: depth 10 + prenet_depth 2, top 10,
		// clone 16, inverse block mask 0.8 (length 3, adjust 0.07), decoder
		// 2-D 768 x k3 x 6 layers, 16 groups, no input dropout, cls_loss
		// 0.01, instance-normed block targets + final layer norm, EMA
		// 0.9998 -> 0.99999 over 100k, lr 1e-3 (Adam betas 0.9/0.95,
		// wd 0.05, warm-up 50,040, cosine over 375,300), clip 4, no
		// dropout, collapse checks off (min_target_var 0).
		"image-base": func() Config {
			c := common("image", "image-base")
			c.Model.Encoder = postLN(768, 12, 12, 0)
			c.Model.ImageSize, c.Model.Patch, c.Model.Channels = 224, 16, 3
			c.Model.TopK, c.Model.CloneBatch = 10, 16
			c.Model.Decoder = DecoderConfig{Dim: 768, Kernel: 3, Groups: 16, Layers: 6, Residual: true, ProjLayers: 1}
			c.EMA = EMAConfig{0.9998, 0.99999, 100000}
			c.Optim.LR, c.Optim.WarmupSteps = 1e-3, 50040
			c.Batch, c.Steps = 256, 375300
			c.Data = ""
			return c
		},
		"image-cpu": func() Config {
			c := common("image", "image-cpu")
			c.Threads = 1
			c.Model.Encoder = postLN(128, 4, 4, 0)
			c.Model.TopK, c.Model.CloneBatch = 3, 4
			// The 7 x 7 patch grid of a 28 x 28 image has a quarter of the
			// base grid's patches: blocks of 2 x 2 (3 blocks drawn, 9
			// patches kept) rather than one 3 x 3 block.
			c.Model.Mask.Length = 2
			c.Model.Decoder = DecoderConfig{Dim: 128, Kernel: 3, Groups: 16, Layers: 3, Residual: true, ProjLayers: 1}
			c.EMA = EMAConfig{0.99, 0.999, 300}
			c.Optim.LR, c.Optim.WarmupSteps = 1.5e-3, 40
			c.Batch, c.Steps, c.Limit = 16, 1000, 20000
			c.Collapse = CollapseConfig{MinTargetVar: 0.1, MinPredVar: 0.01, After: 50}
			return c
		},
		"smoke": func() Config {
			c := common("image", "smoke")
			c.Threads = 1
			c.Model.Encoder = postLN(32, 2, 4, 0)
			c.Model.ImageSize, c.Model.Patch = 16, 4
			c.Model.TopK, c.Model.CloneBatch = 2, 2
			c.Model.Decoder = DecoderConfig{Dim: 32, Kernel: 3, Groups: 4, Layers: 2, Residual: true, ProjLayers: 1}
			c.EMA = EMAConfig{0.99, 0.999, 10}
			c.Optim.LR, c.Optim.WarmupSteps = 1e-3, 2
			c.Batch, c.Steps, c.Limit = 4, 4, 64
			return c
		},
	},
	"audio": {
		// base_audio_only_task.yaml: depth 12, top 8, clone 8, span mask
		// 0.5 x 5, conv positions 5 layers of width 95/5 = 19 in 16
		// groups, decoder 1-D 384 x k7 x 4 layers, 16 groups, input
		// dropout 0.1, instance-normed targets, loss scale 1/sqrt(D),
		// layerdrop 0.05, EMA 0.999 -> 0.99999 over 75k, lr 7.5e-4 (Adam
		// 0.9/0.98, eps 1e-6, wd 0.01, warm-up 8,000, cosine over 400k),
		// no clipping, dropout 0.1 (fairseq defaults).
		"audio-base": func() Config {
			c := common("audio", "audio-base")
			c.Model.Encoder = postLN(768, 12, 12, 0.1)
			c.Model.Encoder.LayerDrop = 0.05
			c.Model.CNN = wavenc.Base()
			c.Model.CNN.Mode = "layer_norm"
			c.Model.MaxSamples = 320000
			c.Model.PosConv = PosConvConfig{Depth: 5, Kernel: 19, Groups: 16}
			c.Model.TopK, c.Model.CloneBatch = 8, 8
			c.Model.Decoder = DecoderConfig{Dim: 384, Kernel: 7, Groups: 16, Layers: 4, Residual: true, ProjLayers: 1, InputDropout: 0.1}
			c.EMA = EMAConfig{0.999, 0.99999, 75000}
			c.Optim.LR, c.Optim.WarmupSteps, c.Optim.ClipGradNorm = 7.5e-4, 8000, 0
			c.Batch, c.Steps = 8, 400000
			return c
		},
		"audio-cpu": func() Config {
			c := common("audio", "audio-cpu")
			c.Threads = 1
			c.Model.Encoder = postLN(128, 4, 4, 0.1)
			c.Model.CNN = wavenc.Base()
			c.Model.CNN.Channels = []int64{64, 64, 64, 64, 64, 64, 64}
			c.Model.CNN.Mode = "layer_norm"
			c.Model.MaxSamples = 32000
			c.Model.PosConv = PosConvConfig{Depth: 2, Kernel: 9, Groups: 16}
			c.Model.TopK, c.Model.CloneBatch = 3, 4
			c.Model.Decoder = DecoderConfig{Dim: 64, Kernel: 7, Groups: 16, Layers: 2, Residual: true, ProjLayers: 1, InputDropout: 0.1}
			c.EMA = EMAConfig{0.99, 0.999, 300}
			c.Optim.LR, c.Optim.WarmupSteps, c.Optim.ClipGradNorm = 1e-3, 40, 1
			c.Batch, c.Steps = 8, 300
			c.Collapse.After = 100
			return c
		},
		"smoke": func() Config {
			c := common("audio", "smoke")
			c.Threads = 1
			c.Model.Encoder = postLN(32, 2, 4, 0)
			c.Model.CNN = wavenc.Config{Channels: []int64{16, 16, 16}, Kernels: []int64{10, 3, 3}, Strides: []int64{5, 2, 2}, Mode: "layer_norm"}
			c.Model.MaxSamples = 1600
			c.Model.PosConv = PosConvConfig{Depth: 1, Kernel: 5, Groups: 4}
			c.Model.TopK, c.Model.CloneBatch = 2, 2
			c.Model.Decoder = DecoderConfig{Dim: 16, Kernel: 3, Groups: 4, Layers: 2, Residual: true, ProjLayers: 1}
			c.EMA = EMAConfig{0.99, 0.999, 10}
			c.Optim.LR, c.Optim.WarmupSteps = 1e-3, 2
			c.Batch, c.Steps = 2, 4
			return c
		},
	},
	"text": {
		// base_text_only_task.yaml: depth 12, top 12, clone 8, random
		// mask 0.48 (mask_length 1), decoder 1-D 768 x k9 x 5 layers, 1
		// group, no residual, 2-layer projection (ratio 2), input dropout
		// 0.1, instance-normed targets, loss_scale 1, EMA 0.9999 ->
		// 0.99999 over 100k (encoder only), lr 2e-4 (Adam 0.9/0.98, eps
		// 1e-6, wd 0.01, warm-up 4,000, cosine over 1M), clip 1, 512
		// tokens, dropout 0.1 (fairseq defaults).
		"text-base": func() Config {
			c := common("text", "text-base")
			c.Model.Encoder = postLN(768, 12, 12, 0.1)
			c.Model.Vocab, c.Model.SeqLen = 30522, 512
			c.Model.TopK, c.Model.CloneBatch = 12, 8
			c.Model.Decoder = DecoderConfig{Dim: 768, Kernel: 9, Groups: 1, Layers: 5, ProjLayers: 2, ProjRatio: 2, InputDropout: 0.1}
			c.Model.LossScale = 1
			c.EMA = EMAConfig{0.9999, 0.99999, 100000}
			c.Optim.LR, c.Optim.WarmupSteps = 2e-4, 4000
			c.Batch, c.Steps = 64, 1000000
			return c
		},
		"text-cpu": func() Config {
			c := common("text", "text-cpu")
			c.Threads = 1
			c.Model.Encoder = postLN(128, 3, 4, 0.1)
			c.Model.Vocab, c.Model.SeqLen = 4000, 32
			c.Model.TopK, c.Model.CloneBatch = 3, 4
			c.Model.Decoder = DecoderConfig{Dim: 128, Kernel: 5, Groups: 1, Layers: 3, ProjLayers: 2, ProjRatio: 2, InputDropout: 0.1}
			c.Model.LossScale = 1
			c.EMA = EMAConfig{0.99, 0.999, 300}
			c.Optim.LR, c.Optim.WarmupSteps = 2e-3, 30
			c.Batch, c.Steps = 8, 2000
			c.Collapse.After = 50
			return c
		},
		"smoke": func() Config {
			c := common("text", "smoke")
			c.Threads = 1
			c.Model.Encoder = postLN(32, 2, 4, 0)
			c.Model.Vocab, c.Model.SeqLen = 200, 16
			c.Model.TopK, c.Model.CloneBatch = 2, 2
			c.Model.Decoder = DecoderConfig{Dim: 32, Kernel: 3, Groups: 1, Layers: 2, ProjLayers: 2, ProjRatio: 2}
			c.Model.LossScale = 1
			c.EMA = EMAConfig{0.99, 0.999, 10}
			c.Optim.LR, c.Optim.WarmupSteps = 1e-3, 2
			c.Batch, c.Steps, c.Limit = 4, 4, 200
			return c
		},
	},
}

// common holds the per-modality settings the presets share.
func common(modality, preset string) Config {
	c := Config{
		Modality: modality, Preset: preset,
		Optim:    OptimConfig{LR: 5e-4, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 1, WarmupSteps: 1000},
		Collapse: CollapseConfig{MinTargetVar: 0.1, MinPredVar: 0.01, After: 5000},
	}
	m := &c.Model
	m.TargetNorm, m.MaskNoiseStd = "instance", 0.01
	switch modality {
	case "image":
		m.ImageSize, m.Patch, m.Channels = 28, 4, 1
		m.Mask = MaskConfig{Kind: "block", Prob: 0.8, Length: 3, ProbAdjust: 0.07, Inverse: true}
		m.FinalLayerNorm, m.ClsLoss = true, 0.01
		c.Optim = OptimConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.05, ClipGradNorm: 4, WarmupSteps: 1000}
		c.Collapse = CollapseConfig{}
		c.Data = "fashion-mnist:train"
	case "audio":
		m.Mask = MaskConfig{Kind: "span", Prob: 0.5, Length: 5, MinMasks: 1}
	case "text":
		m.Mask = MaskConfig{Kind: "random", Prob: 0.48, Length: 1}
		c.Data = "/usr/share/games/fortunes"
	}
	return c
}

// Presets lists the preset names of modality (all modalities when "").
func Presets(modality string) []string {
	var out []string
	for mod, ps := range presets {
		if modality == "" || mod == modality {
			for k := range ps {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Preset returns the named preset of modality; "" is "<modality>-cpu".
func Preset(modality, name string) (Config, error) {
	ps, ok := presets[modality]
	if !ok {
		return Config{}, fmt.Errorf("data2vec2: modality %q (%s)", modality, strings.Join(Modalities, ", "))
	}
	if name == "" {
		name = modality + "-cpu"
	}
	f, ok := ps[name]
	if !ok {
		return Config{}, fmt.Errorf("data2vec2: no %s preset %q (available: %s)", modality, name, strings.Join(Presets(modality), ", "))
	}
	return f(), nil
}
