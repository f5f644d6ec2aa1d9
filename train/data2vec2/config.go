package data2vec2

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// Modalities are the input kinds data2vec 2.0 trains on.
var Modalities = []string{data.Audio, data.Image, data.Text}

// ModelConfig is data2vec 2.0's model block: the shared encoder and
// objective, and one block per modality (fairseq's modalities.{audio,
// image,text}); the dataset's modality picks the block a run uses.
type ModelConfig struct {
	// Encoder is the student's (and teacher's) Transformer. Its blocks are
	// post-LN (fairseq's AltBlock with layer_norm_first false, the
	// data2vec 2.0 default) with the encoder's layer norm before the first
	// block; PosConvKernel must be 0 (audio positions come from
	// Audio.PosConv, image positions are fixed sin-cos, text positions are
	// learned). Image: fairseq's 2-block modality prenet and its 10 shared
	// blocks are one encoder of 12 blocks here, with TopK 10.
	Encoder tr.Config `yaml:"encoder" json:"encoder"`
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
	// MaskNoiseStd is the standard deviation of the Gaussian noise the
	// decoder gets at masked positions (fairseq mask_noise_std 0.01; 0:
	// zeros).
	MaskNoiseStd float64 `yaml:"mask_noise_std" json:"mask_noise_std"`

	Image ImageConfig `yaml:"image" json:"image"`
	Audio AudioConfig `yaml:"audio" json:"audio"`
	Text  TextConfig  `yaml:"text" json:"text"`
}

// ImageConfig is the image front-end: images are converted to Channels x
// ImageSize x ImageSize (gray/RGB conversion, resize), flipped
// horizontally with probability FlipP, normalized, and cut into Patch x
// Patch patches; a ViT patch embedding (a stride-Patch convolution written
// as a linear map of flattened patches), fixed 2-D sin-cos positions
// (MAE's get_2d_sincos_pos_embed) and one learned CLS token in front.
type ImageConfig struct {
	ImageSize int               `yaml:"image_size" json:"image_size"`
	Patch     int               `yaml:"patch" json:"patch"`
	Channels  int               `yaml:"channels" json:"channels"`
	Normalize augment.Normalize `yaml:"normalize" json:"normalize"`
	FlipP     float64           `yaml:"flip_p" json:"flip_p"`
	// ClsLoss weighs the extra loss between the student's CLS output and
	// the mean of the targets over positions (cls_loss).
	ClsLoss float64       `yaml:"cls_loss" json:"cls_loss"`
	Mask    MaskConfig    `yaml:"mask" json:"mask"`
	Decoder DecoderConfig `yaml:"decoder" json:"decoder"`
}

// AudioConfig is the audio front-end: the wav2vec 2.0 CNN, layer norm and
// projection (the "local features"), then a convolutional positional
// encoder added to them. Waves of a batch are cropped at random offsets to
// the shortest of the batch, at most MaxSamples; with Normalize each crop
// is scaled to zero mean and unit variance (fairseq's normalize).
type AudioConfig struct {
	CNN        wavenc.Config `yaml:"cnn" json:"cnn"`
	MaxSamples int           `yaml:"max_samples" json:"max_samples"`
	Normalize  bool          `yaml:"normalize" json:"normalize"`
	PosConv    PosConvConfig `yaml:"pos_conv" json:"pos_conv"`
	Mask       MaskConfig    `yaml:"mask" json:"mask"`
	Decoder    DecoderConfig `yaml:"decoder" json:"decoder"`
}

// TextConfig is the text front-end: token and learned position embeddings,
// layer norm, dropout (Encoder.Dropout). A batch's documents are
// concatenated and cut into rows of SeqLen tokens (fairseq's
// sample_break_mode none). Vocab is set from the dataset's tokenizer.
type TextConfig struct {
	Vocab   int           `yaml:"vocab" json:"vocab"`
	SeqLen  int           `yaml:"seq_len" json:"seq_len"`
	Mask    MaskConfig    `yaml:"mask" json:"mask"`
	Decoder DecoderConfig `yaml:"decoder" json:"decoder"`
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
// Linear(Dim, Dim·ProjRatio), GELU, Linear(·, D)). InputDropout drops the
// encoder's outputs before the decoder.
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
	// spans cover on average) or "random" (a uniform subset: fairseq's
	// random_masking for mask_length 1, text).
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

// Settings is data2vec 2.0's own block.
type Settings struct {
	// EMA is the teacher's decay: linear from Base to End over Steps
	// updates (fairseq ema_decay, ema_end_decay, ema_anneal_end_step),
	// then End.
	EMA      train.TauSchedule `yaml:"ema" json:"ema"`
	Collapse CollapseConfig    `yaml:"collapse" json:"collapse"`
}

// CollapseConfig is the collapse monitor (fairseq: after 5,000 updates a
// target variance below 0.1 or a prediction variance below 0.01 ends the
// run; the image base model sets both to 0).
type CollapseConfig struct {
	MinTargetVar float64 `yaml:"min_target_var" json:"min_target_var"`
	MinPredVar   float64 `yaml:"min_pred_var" json:"min_pred_var"`
	After        int64   `yaml:"after" json:"after"`
	// Stop ends the run (ErrCollapse); otherwise the trainer counts a
	// warning (collapse_warnings in metrics.jsonl).
	Stop bool `yaml:"stop" json:"stop"`
}

// positions is the number of positions of one sample for modality (audio:
// of a MaxSamples crop) and the patch grid side (images).
func (c *ModelConfig) positions(modality string) (T, grid int) {
	switch modality {
	case data.Image:
		g := c.Image.ImageSize / max(c.Image.Patch, 1)
		return g * g, g
	case data.Audio:
		return c.Audio.CNN.Frames(c.Audio.MaxSamples), 0
	}
	return c.Text.SeqLen, 0
}

// mask and decoder are modality's blocks.
func (c *ModelConfig) mask(modality string) MaskConfig {
	switch modality {
	case data.Image:
		return c.Image.Mask
	case data.Audio:
		return c.Audio.Mask
	}
	return c.Text.Mask
}

func (c *ModelConfig) decoder(modality string) DecoderConfig {
	switch modality {
	case data.Image:
		return c.Image.Decoder
	case data.Audio:
		return c.Audio.Decoder
	}
	return c.Text.Decoder
}

// Validate checks the shared part and modality's block.
func (c *ModelConfig) Validate(modality string) error {
	if err := c.Encoder.Validate(); err != nil {
		return fmt.Errorf("data2vec2: %w", err)
	}
	if c.Encoder.PosConvKernel != 0 {
		return fmt.Errorf("data2vec2: encoder pos_conv_kernel %d: positions come from the front-end (audio.pos_conv)", c.Encoder.PosConvKernel)
	}
	if c.Encoder.LayerNormFirst {
		return fmt.Errorf("data2vec2: encoder layer_norm_first: data2vec 2.0 blocks are post-LN")
	}
	d := c.Encoder.Dim
	switch modality {
	case data.Text:
		t := c.Text
		if t.Vocab < 2 || t.SeqLen < 2 {
			return fmt.Errorf("data2vec2: text vocab %d and seq_len %d must be >= 2", t.Vocab, t.SeqLen)
		}
	case data.Image:
		im := c.Image
		if im.Patch <= 0 || im.ImageSize <= 0 || im.ImageSize%im.Patch != 0 || im.Channels <= 0 {
			return fmt.Errorf("data2vec2: image size %d must be a positive multiple of patch %d, channels %d > 0", im.ImageSize, im.Patch, im.Channels)
		}
		if len(im.Normalize.Mean) != im.Channels || len(im.Normalize.Std) != im.Channels {
			return fmt.Errorf("data2vec2: image normalize needs %d means and stds, has %d and %d", im.Channels, len(im.Normalize.Mean), len(im.Normalize.Std))
		}
		for _, s := range im.Normalize.Std {
			if !(s > 0) {
				return fmt.Errorf("data2vec2: image normalize std %v must be > 0", s)
			}
		}
		if d%4 != 0 {
			return fmt.Errorf("data2vec2: image encoder dim %d must be a multiple of 4 (2-D sin-cos positions)", d)
		}
		if im.FlipP < 0 || im.FlipP > 1 || im.ClsLoss < 0 {
			return fmt.Errorf("data2vec2: image flip_p %v outside [0, 1] or cls_loss %v < 0", im.FlipP, im.ClsLoss)
		}
	case data.Audio:
		a := c.Audio
		if err := a.CNN.Validate(); err != nil {
			return fmt.Errorf("data2vec2: %w", err)
		}
		if a.MaxSamples < a.CNN.ReceptiveField() {
			return fmt.Errorf("data2vec2: audio max_samples %d is shorter than the CNN's receptive field %d", a.MaxSamples, a.CNN.ReceptiveField())
		}
		p := a.PosConv
		if p.Depth < 0 || (p.Depth > 0 && (p.Kernel < 1 || p.Groups < 1 || d%p.Groups != 0)) {
			return fmt.Errorf("data2vec2: audio pos_conv depth %d, kernel %d, groups %d do not fit dim %d", p.Depth, p.Kernel, p.Groups, d)
		}
	default:
		return fmt.Errorf("data2vec2: modality %q (audio, image, text)", modality)
	}
	dc, mk := c.decoder(modality), c.mask(modality)
	switch {
	case dc.Layers < 1 || dc.Dim < 1 || dc.Kernel < 1 || dc.Groups < 1 || d%dc.Groups != 0 || dc.Dim%dc.Groups != 0:
		return fmt.Errorf("data2vec2: %s decoder layers %d, dim %d, kernel %d, groups %d (groups must divide %d and dim)", modality, dc.Layers, dc.Dim, dc.Kernel, dc.Groups, d)
	case dc.ProjLayers < 1 || dc.ProjLayers > 2 || (dc.ProjLayers == 2 && !(dc.ProjRatio > 0)):
		return fmt.Errorf("data2vec2: %s decoder proj_layers %d (1 or 2), proj_ratio %v", modality, dc.ProjLayers, dc.ProjRatio)
	case dc.InputDropout < 0 || dc.InputDropout >= 1:
		return fmt.Errorf("data2vec2: %s decoder input_dropout %v outside [0, 1)", modality, dc.InputDropout)
	case mk.Kind != "block" && mk.Kind != "span" && mk.Kind != "random":
		return fmt.Errorf("data2vec2: %s mask kind %q (block, span, random)", modality, mk.Kind)
	case mk.Kind == "block" && modality != data.Image:
		return fmt.Errorf("data2vec2: block masks need the image patch grid, not %s", modality)
	case c.MaskNoiseStd < 0:
		return fmt.Errorf("data2vec2: mask_noise_std %v < 0", c.MaskNoiseStd)
	case c.CloneBatch < 1:
		return fmt.Errorf("data2vec2: clone_batch %d must be >= 1", c.CloneBatch)
	case c.TopK < 1 || c.TopK > c.Encoder.Layers:
		return fmt.Errorf("data2vec2: top_k %d must be in [1, %d layers]", c.TopK, c.Encoder.Layers)
	case c.TargetNorm != "instance" && c.TargetNorm != "layer" && c.TargetNorm != "none":
		return fmt.Errorf("data2vec2: target_norm %q (instance, layer, none)", c.TargetNorm)
	case c.LossScale < 0:
		return fmt.Errorf("data2vec2: loss_scale %v must be >= 0", c.LossScale)
	}
	T, g := c.positions(modality)
	if _, err := NewMasker(mk, T, g, g); err != nil {
		return err
	}
	return nil
}

func model(c *train.Config) *ModelConfig { return c.Model.(*ModelConfig) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// validate checks data2vec 2.0's blocks.
func validate(c *train.Config) error {
	if c.Optim.Name != "adamw" {
		return fmt.Errorf("data2vec2: optim.name %q: data2vec 2.0 trains with adamw", c.Optim.Name)
	}
	if err := model(c).Validate(c.Data.Modality); err != nil {
		return err
	}
	if ch := model(c).Image.Channels; c.Data.Modality == data.Image && ch != 1 && ch != 3 {
		return fmt.Errorf("data2vec2: image channels %d: images are read as gray (1) or RGB (3)", ch)
	}
	s := settings(c)
	if err := s.EMA.Validate(); err != nil {
		return err
	}
	if s.EMA.Kind != "linear" && s.EMA.Kind != "constant" {
		return fmt.Errorf("data2vec2: ema kind %q: linear (fairseq get_annealed_rate) or constant", s.EMA.Kind)
	}
	return nil
}

// resolve takes the text vocabulary from the dataset's tokenizer and
// refuses preprocessed text rows (packed across documents) shorter than the
// model's rows: a batch of B data rows is packed into B model rows, so
// shorter data rows would repeat each batch's tokens. (Longer data rows
// leave the end of each batch unused.)
func resolve(c *train.Config, d *data.Dataset) error {
	if c.Data.Modality != data.Text {
		return nil
	}
	if d.Tokenizer != nil {
		model(c).Text.Vocab = d.Tokenizer.VocabSize()
	}
	if m := d.Manifest; m != nil && m.Meta != nil && m.Meta.SeqLen > 0 && m.Options.Pack != "one" {
		if want := model(c).Text.SeqLen; m.Meta.SeqLen < want {
			return fmt.Errorf("data2vec2: %w: %s holds rows of %d tokens (preprocessed with --seq-len %d), shorter than model.text.seq_len %d: "+
				"each batch would repeat its tokens to fill its rows; preprocess with --seq-len %d or set model.text.seq_len %d",
				train.ErrConfig, d.Spec, m.Meta.SeqLen, m.Meta.SeqLen, want, want, m.Meta.SeqLen)
		}
	}
	return nil
}

// scale shortens the EMA anneal and the collapse monitor's grace period
// with the run.
func scale(c *train.Config, f float64) []string {
	s := settings(c)
	var notes []string
	if n := s.EMA.Steps; n > 0 && s.EMA.Kind == "linear" {
		s.EMA.Steps = train.ScaleSteps(n, f)
		notes = append(notes, fmt.Sprintf("data2vec2: teacher EMA anneal scaled from %d to %d steps", n, s.EMA.Steps))
	}
	if n := s.Collapse.After; n > 0 {
		s.Collapse.After = train.ScaleSteps(n, f)
		notes = append(notes, fmt.Sprintf("data2vec2: collapse monitor starts after %d steps instead of %d", s.Collapse.After, n))
	}
	return notes
}

func postLN(dim int64, layers int, heads int64, dropout float64) tr.Config {
	return tr.Config{Dim: dim, Layers: layers, Heads: heads, FFN: 4 * dim, Dropout: dropout, AttnDropout: dropout}
}

// FashionMNISTNorm is the gray normalization of the image CPU presets
// (Fashion-MNIST's pixel mean and std, as train/data2vec).
var FashionMNISTNorm = augment.Normalize{Mean: []float64{0.2860}, Std: []float64{0.3530}}

// defaults holds fairseq's data2vec 2.0 defaults and the modality blocks of
// the base models (examples/data2vec/config/v2/base_*_only_task.yaml); the
// shared encoder and schedule are the text base model's. Presets adjust
// them.
func defaults() train.Config {
	return train.Config{
		Method: "data2vec2", Seed: 1, Device: "auto", BF16: true,
		Data: train.DataConfig{Batch: 64, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &ModelConfig{
			Encoder:    postLN(768, 12, 12, 0.1),
			CloneBatch: 8, TopK: 12, TargetNorm: "instance", MaskNoiseStd: 0.01,
			Image: ImageConfig{ImageSize: 224, Patch: 16, Channels: 3, Normalize: augment.ImageNet, FlipP: 0.5, ClsLoss: 0.01,
				Mask:    MaskConfig{Kind: "block", Prob: 0.8, Length: 3, ProbAdjust: 0.07, Inverse: true},
				Decoder: DecoderConfig{Dim: 768, Kernel: 3, Groups: 16, Layers: 6, Residual: true, ProjLayers: 1}},
			Audio: AudioConfig{CNN: cnnLN(wavenc.Base()), MaxSamples: 320000, Normalize: true,
				PosConv: PosConvConfig{Depth: 5, Kernel: 19, Groups: 16},
				Mask:    MaskConfig{Kind: "span", Prob: 0.5, Length: 5, MinMasks: 1},
				Decoder: DecoderConfig{Dim: 384, Kernel: 7, Groups: 16, Layers: 4, Residual: true, ProjLayers: 1, InputDropout: 0.1}},
			Text: TextConfig{Vocab: 30522, SeqLen: 512,
				Mask:    MaskConfig{Kind: "random", Prob: 0.48, Length: 1},
				Decoder: DecoderConfig{Dim: 768, Kernel: 9, Groups: 1, Layers: 5, ProjLayers: 2, ProjRatio: 2, InputDropout: 0.1}},
		},
		Optim: train.OptimConfig{Name: "adamw", LR: 2e-4, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01,
			ExcludeBiasNorm: true, ClipGradNorm: 1},
		Schedule:   train.ScheduleConfig{Steps: 1000000, WarmupSteps: 4000, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 5000, Keep: 3},
		Log:        train.LogConfig{Every: 100},
		Monitor:    train.MonitorConfig{K: 20, T: 0.07, NTrain: 5000, NTest: 1000},
		Settings: &Settings{EMA: train.TauSchedule{Kind: "linear", Base: 0.9999, End: 0.99999, Steps: 100000},
			Collapse: CollapseConfig{MinTargetVar: 0.1, MinPredVar: 0.01, After: 5000}},
	}
}

func cnnLN(c wavenc.Config) wavenc.Config {
	c.Mode = "layer_norm"
	return c
}

// imageBase, audioBase and textBase are fairseq's base models.
func imageBase(c *train.Config) {
	m, s := model(c), settings(c)
	c.Data.Modality = data.Image
	m.Encoder = postLN(768, 12, 12, 0)
	m.TopK, m.CloneBatch, m.FinalLayerNorm = 10, 16, true
	c.Data.Batch = 256
	c.Optim = train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.05, ExcludeBiasNorm: true, ClipGradNorm: 4}
	c.Schedule = train.ScheduleConfig{Steps: 375300, WarmupSteps: 50040, Kind: "cosine"}
	s.EMA = train.TauSchedule{Kind: "linear", Base: 0.9998, End: 0.99999, Steps: 100000}
	s.Collapse = CollapseConfig{}
}

func audioBase(c *train.Config) {
	m, s := model(c), settings(c)
	c.Data.Modality = data.Audio
	m.Encoder = postLN(768, 12, 12, 0.1)
	m.Encoder.LayerDrop = 0.05
	m.TopK, m.CloneBatch = 8, 8
	c.Data.Batch = 8
	c.Optim.LR, c.Optim.ClipGradNorm = 7.5e-4, 0
	c.Schedule = train.ScheduleConfig{Steps: 400000, WarmupSteps: 8000, Kind: "cosine"}
	s.EMA = train.TauSchedule{Kind: "linear", Base: 0.999, End: 0.99999, Steps: 75000}
}

func textBase(c *train.Config) {
	c.Data.Modality = data.Text
	model(c).LossScale = 1
}

// cpu holds what the CPU presets share: one libtorch thread, the EMA and
// monitoring of train/data2vec's CPU presets.
func cpu(c *train.Config) {
	c.Device, c.Threads = "cpu", 1
	settings(c).EMA = train.TauSchedule{Kind: "linear", Base: 0.99, End: 0.999, Steps: 300}
	c.Checkpoint = train.CheckpointConfig{Every: 250, Keep: 2}
}

var presets = []train.Preset{
	{Name: "image-base", Modality: data.Image, Summary: "ViT-B/16 on 224 px images: 2 + 10 blocks, top 10, 16 clones, 6-layer 2-D decoder",
		Source: "fairseq examples/data2vec/config/v2/base_images_only_task.yaml (batch 16 x 16 GPUs)", Apply: imageBase},
	{Name: "audio-base", Modality: data.Audio, Summary: "12 blocks of 768 on 20 s crops, top 8, 8 clones, 4-layer 1-D decoder",
		Source: "fairseq examples/data2vec/config/v2/base_audio_only_task.yaml (8 crops per step for its 1M samples x 8 GPUs)", Apply: audioBase},
	{Name: "text-base", Modality: data.Text, Summary: "12 blocks of 768 on 512 tokens, top 12, 8 clones, 5-layer 1-D decoder",
		Source: "fairseq examples/data2vec/config/v2/base_text_only_task.yaml (batch 4 x 16 GPUs)", Apply: textBase},
	{Name: "image-cpu", Modality: data.Image, Summary: "train/data2vec's image-cpu encoder (4 x 128) on Fashion-MNIST, 16 images x 4 clones, 1,000 steps",
		Source: "image-base's recipe at train/data2vec image-cpu's size, EMA, lr and steps (the v1/2.0 comparison)", Apply: func(c *train.Config) {
			imageBase(c)
			cpu(c)
			m := model(c)
			m.Encoder = postLN(128, 4, 4, 0)
			m.TopK, m.CloneBatch = 3, 4
			m.Image.ImageSize, m.Image.Patch, m.Image.Channels, m.Image.Normalize = 28, 4, 1, FashionMNISTNorm
			// The 7 x 7 patch grid has a quarter of the base grid's
			// patches: blocks of 2 x 2 (3 drawn, 9 patches kept) rather
			// than one 3 x 3 block.
			m.Image.Mask.Length = 2
			m.Image.Decoder = DecoderConfig{Dim: 128, Kernel: 3, Groups: 16, Layers: 3, Residual: true, ProjLayers: 1}
			c.Data.Spec, c.Data.Batch, c.Data.Limit = "fashion-mnist:train", 16, 20000
			c.Optim.LR = 1.5e-3
			c.Schedule = train.ScheduleConfig{Steps: 1000, WarmupSteps: 40, Kind: "cosine"}
			settings(c).Collapse = CollapseConfig{MinTargetVar: 0.1, MinPredVar: 0.01, After: 50}
			c.Log.Every = 50
		}},
	{Name: "audio-cpu", Modality: data.Audio, Summary: "train/data2vec's audio-cpu encoder (4 x 128, 64-channel CNN) on 2 s crops, 8 crops x 4 clones, 300 steps",
		Source: "audio-base's recipe at train/data2vec audio-cpu's size, EMA, lr and steps (the v1/2.0 comparison)", Apply: func(c *train.Config) {
			audioBase(c)
			cpu(c)
			m := model(c)
			m.Encoder = postLN(128, 4, 4, 0.1)
			m.TopK, m.CloneBatch = 3, 4
			m.Audio.CNN.Channels = []int64{64, 64, 64, 64, 64, 64, 64}
			m.Audio.MaxSamples, m.Audio.Normalize = 32000, false
			m.Audio.PosConv = PosConvConfig{Depth: 2, Kernel: 9, Groups: 16}
			m.Audio.Decoder = DecoderConfig{Dim: 64, Kernel: 7, Groups: 16, Layers: 2, Residual: true, ProjLayers: 1, InputDropout: 0.1}
			c.Data.Batch = 8
			c.Optim.LR, c.Optim.ClipGradNorm = 1e-3, 1
			c.Schedule = train.ScheduleConfig{Steps: 300, WarmupSteps: 40, Kind: "cosine"}
			settings(c).Collapse.After = 100
			c.Log.Every = 20
			c.Checkpoint.Every = 100
		}},
	{Name: "text-cpu", Modality: data.Text, Summary: "train/data2vec's text-cpu encoder (3 x 128) on 32-token rows, 8 rows x 4 clones, 2,000 steps",
		Source: "text-base's recipe at train/data2vec text-cpu's size, EMA, lr and steps (the v1/2.0 comparison)", Apply: textCPU},
	{Name: "text-cpu-ln", Modality: data.Text, Summary: "text-cpu with layer-normalized targets, 4,000 steps (about 8 CPU minutes on one thread)",
		Source: "text-cpu; target_norm layer (benchmarks/data2vec2/configs/text-ln.yaml): instance norm over a 32-token row removes the targets' per-row channel means, the part shared by the whole text (its topic). " +
			"Encoder output on the fortune probe (linear, benchmarks/text/EXPERIMENTS.md), trained / random init: 26.17 / 21.50, 25.70 / 23.60, 22.90 / 28.74 with seeds 1, 2, 3 (the random init moves more with the seed than the trained network); text-cpu's instance-normalized targets: 23.13 / 21.50 at 3,254 steps", Apply: textCPULN},
	{Name: "text-cpu-64", Modality: data.Text, Summary: "text-cpu-ln on 64-token rows, 32 rows x 4 clones, 7,000 steps (about 55 minutes on one idle core); preprocessed data needs --seq-len 64",
		Source: "text-cpu-ln with 8x the tokens per step (rows of 64 instead of 32, batch 32 instead of 8) and 7,000 steps: 14x its tokens in about 7x its CPU time. " +
			"Encoder output on the fortune probe (linear, 5 folds x 3 partitions, benchmarks/text/EXPERIMENTS.md section 6), margin over the mean of 5 random-init networks: +7.39 ± 0.75 (seed 1), +5.03 ± 0.64 (seed 2)", Apply: func(c *train.Config) {
			textCPULN(c)
			model(c).Text.SeqLen = 64
			c.Data.Batch = 32
			c.Schedule.Steps = 7000
		}},
	{Name: "smoke", Summary: "the smallest model for any modality: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "the CPU presets, shrunk", Apply: func(c *train.Config) {
			cpu(c)
			m := model(c)
			m.Encoder = postLN(32, 2, 4, 0)
			m.TopK, m.CloneBatch = 2, 2
			m.Image = ImageConfig{ImageSize: 28, Patch: 7, Channels: 1, Normalize: FashionMNISTNorm, FlipP: 0.5, ClsLoss: 0.01,
				Mask:    MaskConfig{Kind: "block", Prob: 0.8, Length: 2, ProbAdjust: 0.07, Inverse: true},
				Decoder: DecoderConfig{Dim: 32, Kernel: 3, Groups: 4, Layers: 2, Residual: true, ProjLayers: 1}}
			m.Audio.CNN = wavenc.Config{Channels: []int64{16, 16, 16, 16}, Kernels: []int64{10, 3, 3, 3}, Strides: []int64{5, 2, 2, 2}, Mode: "layer_norm"}
			m.Audio.MaxSamples, m.Audio.Normalize = 4000, false
			m.Audio.PosConv = PosConvConfig{Depth: 1, Kernel: 5, Groups: 4}
			m.Audio.Decoder = DecoderConfig{Dim: 16, Kernel: 3, Groups: 4, Layers: 2, Residual: true, ProjLayers: 1}
			m.Text.SeqLen = 16
			m.Text.Decoder = DecoderConfig{Dim: 32, Kernel: 3, Groups: 1, Layers: 2, ProjLayers: 2, ProjRatio: 2}
			c.Data.Batch = 4
			c.Optim.LR = 1e-3
			c.Schedule = train.ScheduleConfig{Steps: 20, WarmupSteps: 2, Kind: "cosine"}
			settings(c).EMA.Steps = 10
			settings(c).Collapse.After = 1000
			c.Log.Every = 5
			c.Checkpoint.Every = 10
		}},
}

// textCPULN is the text-cpu-ln preset: text-cpu with layer-normalized
// targets for 4,000 steps.
func textCPULN(c *train.Config) {
	textCPU(c)
	model(c).TargetNorm = "layer"
	c.Schedule.Steps = 4000
	c.Checkpoint.Every = 1000
}

// textCPU is the text-cpu preset.
func textCPU(c *train.Config) {
	textBase(c)
	cpu(c)
	m := model(c)
	m.Encoder = postLN(128, 3, 4, 0.1)
	m.TopK, m.CloneBatch = 3, 4
	m.Text.SeqLen, m.Text.Vocab = 32, 4000
	m.Text.Decoder = DecoderConfig{Dim: 128, Kernel: 5, Groups: 1, Layers: 3, ProjLayers: 2, ProjRatio: 2, InputDropout: 0.1}
	c.Data.Spec, c.Data.Batch = "/usr/share/games/fortunes", 8
	c.Optim.LR = 2e-3
	c.Schedule = train.ScheduleConfig{Steps: 2000, WarmupSteps: 30, Kind: "cosine"}
	settings(c).Collapse.After = 50
	c.Log.Every = 100
	c.Checkpoint.Every = 500
}
