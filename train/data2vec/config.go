package data2vec

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// Modalities are the input kinds data2vec trains on.
var Modalities = []string{data.Audio, data.Image, data.Text}

// ModelConfig is data2vec's model block (config key model:): the
// front-end of the run's modality, the Transformer encoder, the masking
// of the student's input and the objective.
//
// The fields of one modality's front end are left out of the YAML of
// the others (zero there, and never valid zero where they are used).
type ModelConfig struct {
	Encoder tr.Config `yaml:"encoder" json:"encoder"`

	// Text front-end: token and learned position embeddings, layer norm.
	// Vocab is set from the dataset's tokenizer; SeqLen is the size of the
	// position table, the longest sequence trained on (longer examples
	// are cut to a random window of SeqLen tokens; see Trainer.Batches).
	Vocab  int `yaml:"vocab,omitempty" json:"vocab,omitempty"`
	SeqLen int `yaml:"seq_len,omitempty" json:"seq_len,omitempty"`

	// Image front-end: ViT patch embedding (a linear map of each
	// Patch x Patch x Channels patch, i.e. a stride-Patch convolution) and
	// learned position embeddings. Images of another size or channel count
	// are converted (bilinear resize, gray/RGB) on the data workers.
	ImageSize int `yaml:"image_size,omitempty" json:"image_size,omitempty"`
	Patch     int `yaml:"patch,omitempty" json:"patch,omitempty"`
	Channels  int `yaml:"channels,omitempty" json:"channels,omitempty"`

	// Audio front-end: the wav2vec 2.0 CNN, layer norm, projection.
	CNN          wavenc.Config `yaml:"cnn,omitempty" json:"cnn,omitempty"`
	CNNGradScale float64       `yaml:"cnn_grad_scale,omitempty" json:"cnn_grad_scale,omitempty"` // feature_grad_mult (1 in data2vec audio)
	// MaxSamples is the longest training crop: a batch is cut to its
	// shortest utterance, at most MaxSamples, at a random offset in each.
	MaxSamples int `yaml:"max_samples,omitempty" json:"max_samples,omitempty"`

	Mask MaskConfig `yaml:"mask" json:"mask"`

	// TopK blocks' feed-forward outputs (before the block's last residual)
	// are averaged into the targets.
	TopK int `yaml:"top_k" json:"top_k"`
	// TargetNorm normalizes each of those outputs first: "instance" (over
	// time, per channel: speech), "layer" (over channels: text, vision) or
	// "none".
	TargetNorm string `yaml:"target_norm" json:"target_norm"`
	// FinalLayerNorm and FinalInstanceNorm normalize the average again
	// (fairseq layer_norm_targets / instance_norm_targets; off by default).
	FinalLayerNorm    bool `yaml:"final_layer_norm" json:"final_layer_norm"`
	FinalInstanceNorm bool `yaml:"final_instance_norm" json:"final_instance_norm"`
	// HeadLayers is the depth of the regression head (1: one linear map;
	// 2: Linear(D, 2D), GELU, Linear(2D, D) as fairseq's text head).
	HeadLayers int `yaml:"head_layers" json:"head_layers"`
	// LossBeta is Smooth L1's beta; 0 selects the squared error.
	LossBeta float64 `yaml:"loss_beta" json:"loss_beta"`
	// LossScale multiplies the summed loss; 0 is fairseq's 1/sqrt(D).
	LossScale float64 `yaml:"loss_scale" json:"loss_scale"`
}

// MaskConfig is the masking of the student's input.
type MaskConfig struct {
	// Kind: "span" (text: text.Masker.Span; audio: audio.SpanMaskBatch),
	// "bert" (text: 15% of tokens, 80/10/10) or "block" / "random" (image:
	// augment.MaskSpec).
	Kind string `yaml:"kind" json:"kind"`
	// Prob is the mask probability (span: mask_prob; bert: selection
	// probability; block: fraction of patches).
	Prob float64 `yaml:"prob" json:"prob"`
	// Length is the span length (span).
	Length int `yaml:"length" json:"length"`
	// MinPatches is the smallest block (block).
	MinPatches int `yaml:"min_patches" json:"min_patches"`
	// MinMasks is the least number of spans (audio span).
	MinMasks int `yaml:"min_masks" json:"min_masks"`
	// OwnCounts keeps each audio row's own number of masked frames
	// (fairseq's require_same_masks false); by default rows are thinned
	// to the batch's smallest count, which depends on the batch.
	OwnCounts bool `yaml:"own_counts,omitempty" json:"own_counts,omitempty"`
}

// Settings is data2vec's own block (config key data2vec:): the teacher's
// schedule, the collapse monitor and the image input.
type Settings struct {
	EMA      EMAConfig      `yaml:"ema" json:"ema"`
	Collapse CollapseConfig `yaml:"collapse" json:"collapse"`
	// FlipP is the probability that a training image is mirrored
	// horizontally (image).
	FlipP float64 `yaml:"flip_p" json:"flip_p"`
	// Normalize maps image pixels to the model's input, in training and
	// evaluation (image).
	Normalize augment.Normalize `yaml:"normalize" json:"normalize"`
}

// EMAConfig is the teacher's schedule: the decay rises linearly from Start
// to End over AnnealSteps updates, then stays at End. Only the Transformer
// encoder is averaged; the teacher reads the student's front-end output
// (fairseq's ema_transformer_only / ema_transformer_layers_only).
type EMAConfig struct {
	Start       float64 `yaml:"start" json:"start"`
	End         float64 `yaml:"end" json:"end"`
	AnnealSteps int64   `yaml:"anneal_steps" json:"anneal_steps"`
}

// CollapseConfig is the collapse monitor. fairseq raises when the target
// variance (mean per-dimension standard deviation of the masked targets)
// falls below 0.1 or the prediction variance below 0.01 after 5,000
// updates.
type CollapseConfig struct {
	MinTargetVar float64 `yaml:"min_target_var" json:"min_target_var"`
	MinPredVar   float64 `yaml:"min_pred_var" json:"min_pred_var"`
	// After is the number of updates before the check starts.
	After int64 `yaml:"after" json:"after"`
	// Stop ends the run (ErrCollapse, with a checkpoint); otherwise a
	// warning is printed and the step counted in the metric collapse.
	Stop bool `yaml:"stop" json:"stop"`
}

// TauAt is the teacher's EMA decay after step updates: fairseq's
// get_annealed_rate, rising linearly from Start (step 0) to End
// (step AnnealSteps), then End.
func (c EMAConfig) TauAt(step int64) float64 {
	if c.AnnealSteps <= 0 || step >= c.AnnealSteps {
		return c.End
	}
	return c.End - (c.End-c.Start)*(1-float64(step)/float64(c.AnnealSteps))
}

// Validate checks the decay range.
func (c EMAConfig) Validate() error {
	if !finite(c.Start, c.End) || c.Start < 0 || c.Start > 1 || c.End < 0 || c.End > 1 || c.AnnealSteps < 0 {
		return fmt.Errorf("data2vec: ema start %v and end %v must be in [0, 1], anneal_steps %d >= 0", c.Start, c.End, c.AnnealSteps)
	}
	return nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Validate checks the model configuration for modality.
func (c ModelConfig) Validate(modality string) error {
	if err := c.Encoder.Validate(); err != nil {
		return err
	}
	if !finite(c.CNNGradScale, c.Mask.Prob, c.LossBeta, c.LossScale, c.Encoder.Dropout, c.Encoder.AttnDropout, c.Encoder.ActDropout, c.Encoder.Eps) {
		return fmt.Errorf("data2vec: model values must be finite numbers")
	}
	switch modality {
	case data.Text:
		if c.SeqLen < 2 {
			return fmt.Errorf("data2vec: seq_len %d must be >= 2", c.SeqLen)
		}
		if c.Mask.Kind != "span" && c.Mask.Kind != "bert" {
			return fmt.Errorf("data2vec: text mask kind %q (span, bert)", c.Mask.Kind)
		}
	case data.Image:
		if c.Patch <= 0 || c.ImageSize <= 0 || c.ImageSize%c.Patch != 0 || (c.Channels != 1 && c.Channels != 3) {
			return fmt.Errorf("data2vec: image size %d must be a positive multiple of patch %d, channels %d 1 or 3", c.ImageSize, c.Patch, c.Channels)
		}
		if c.Mask.Kind != "block" && c.Mask.Kind != "random" {
			return fmt.Errorf("data2vec: image mask kind %q (block, random)", c.Mask.Kind)
		}
		if err := c.maskSpec().Validate(); err != nil {
			return fmt.Errorf("data2vec: %w", err)
		}
	case data.Audio:
		if err := c.CNN.Validate(); err != nil {
			return err
		}
		if c.Mask.Kind != "span" {
			return fmt.Errorf("data2vec: audio mask kind %q (span)", c.Mask.Kind)
		}
		if c.MaxSamples < c.CNN.ReceptiveField() {
			return fmt.Errorf("data2vec: max_samples %d is shorter than the CNN's receptive field %d", c.MaxSamples, c.CNN.ReceptiveField())
		}
		if !(c.CNNGradScale > 0 && c.CNNGradScale <= 1) {
			return fmt.Errorf("data2vec: cnn_grad_scale %v must be in (0, 1]", c.CNNGradScale)
		}
	case "":
		return fmt.Errorf("data2vec: data.modality is not set (it comes from the data: give --data, or --modality for a raw folder)")
	default:
		return fmt.Errorf("data2vec: modality %q (%s)", modality, strings.Join(Modalities, ", "))
	}
	switch {
	case !(c.Mask.Prob > 0 && c.Mask.Prob <= 1):
		return fmt.Errorf("data2vec: mask prob %v must be in (0, 1]", c.Mask.Prob)
	case c.Mask.Kind == "span" && c.Mask.Length < 1:
		return fmt.Errorf("data2vec: span length %d must be >= 1", c.Mask.Length)
	case c.TopK < 1 || c.TopK > c.Encoder.Layers:
		return fmt.Errorf("data2vec: top_k %d must be in [1, %d layers]", c.TopK, c.Encoder.Layers)
	case c.TargetNorm != "instance" && c.TargetNorm != "layer" && c.TargetNorm != "none":
		return fmt.Errorf("data2vec: target_norm %q (instance, layer, none)", c.TargetNorm)
	case c.HeadLayers < 1 || c.HeadLayers > 2:
		return fmt.Errorf("data2vec: head_layers %d must be 1 or 2", c.HeadLayers)
	case c.LossBeta < 0 || c.LossScale < 0:
		return fmt.Errorf("data2vec: loss_beta %v and loss_scale %v must be >= 0", c.LossBeta, c.LossScale)
	case c.Encoder.LayerDrop > 0:
		return fmt.Errorf("data2vec: layer_drop must be 0 (every block feeds the targets)")
	}
	return nil
}

// maskSpec is the image patch-mask specification.
func (c ModelConfig) maskSpec() augment.MaskSpec {
	g := 0
	if c.Patch > 0 {
		g = c.ImageSize / c.Patch
	}
	return augment.MaskSpec{Kind: c.Mask.Kind, Rows: g, Cols: g, Ratio: c.Mask.Prob, MinPatches: c.Mask.MinPatches}
}

// audioMask is the audio span-mask configuration.
func (c MaskConfig) audioMask() audio.MaskConfig {
	return audio.MaskConfig{Prob: c.Prob, Length: c.Length, MinMasks: c.MinMasks, RequireSameMasks: !c.OwnCounts}
}

func model(c *train.Config) *ModelConfig { return c.Model.(*ModelConfig) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// validate checks data2vec's blocks (Method.Validate).
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	if err := m.Validate(c.Data.Modality); err != nil {
		return err
	}
	if c.Data.Modality == data.Text && m.Vocab < 2 {
		return fmt.Errorf("data2vec: model.vocab %d: it is set from the dataset's tokenizer", m.Vocab)
	}
	if err := s.EMA.Validate(); err != nil {
		return err
	}
	cl := s.Collapse
	if !finite(cl.MinTargetVar, cl.MinPredVar, s.FlipP) || cl.MinTargetVar < 0 || cl.MinPredVar < 0 || cl.After < 0 {
		return fmt.Errorf("data2vec: collapse thresholds (%v, %v) and after %d must be >= 0", cl.MinTargetVar, cl.MinPredVar, cl.After)
	}
	if c.Data.Modality == data.Image {
		if s.FlipP < 0 || s.FlipP > 1 {
			return fmt.Errorf("data2vec: flip_p %v must be in [0, 1]", s.FlipP)
		}
		if err := s.Normalize.Validate(); err != nil {
			return fmt.Errorf("data2vec: %w", err)
		}
	}
	return nil
}

// ErrData is wrapped by errors about data data2vec cannot train on (no
// tokenizer, another sample rate, a sample too short).
var ErrData = errors.New("data2vec: unusable data")

// resolve fills the data-dependent fields (Method.Resolve): the vocabulary
// of text runs from the dataset's tokenizer; audio datasets must be at
// 16 kHz.
func resolve(c *train.Config, d *data.Dataset) error {
	if c.Data.Modality != "" && d.Modality != c.Data.Modality {
		return fmt.Errorf("data2vec: %w: %w: %s holds %s data, the config is for %s (preset %s)", train.ErrConfig, ErrData, d.Spec, d.Modality, c.Data.Modality, c.Preset)
	}
	switch d.Modality {
	case data.Text:
		if d.Tokenizer == nil {
			return fmt.Errorf("data2vec: %w: %w: %s has no tokenizer (preprocess output brings its own; a raw text folder needs --tokenizer)", train.ErrConfig, ErrData, d.Spec)
		}
		if d.Tokenizer.Specials().Mask < 0 {
			return fmt.Errorf("data2vec: %w: %w: the tokenizer of %s has no [MASK] token", train.ErrConfig, ErrData, d.Spec)
		}
		model(c).Vocab = d.Tokenizer.VocabSize()
	case data.Audio:
		if m := d.Manifest; m != nil && m.Meta != nil && m.Meta.SampleRate != 0 && m.Meta.SampleRate != SampleRate {
			return fmt.Errorf("data2vec: %w: %w: %s is sampled at %d Hz; the CNN takes %d Hz (preprocess with the default rate)", train.ErrConfig, ErrData, d.Spec, m.Meta.SampleRate, SampleRate)
		}
	}
	return nil
}

// scale shortens the EMA anneal and the collapse monitor's start by f
// (Method.Scale).
func scale(c *train.Config, f float64) []string {
	s := settings(c)
	var notes []string
	if a := s.EMA.AnnealSteps; a > 0 {
		s.EMA.AnnealSteps = train.ScaleSteps(a, f)
		notes = append(notes, fmt.Sprintf("data2vec: EMA anneal scaled from %d to %d steps", a, s.EMA.AnnealSteps))
	}
	if a := s.Collapse.After; a > 0 {
		s.Collapse.After = train.ScaleSteps(a, f)
		notes = append(notes, fmt.Sprintf("data2vec: collapse monitor starts after %d steps instead of %d", s.Collapse.After, a))
	}
	return notes
}

// SampleRate is the audio sample rate the CNN expects.
const SampleRate = 16000

// FashionMNISTNorm is Fashion-MNIST's pixel mean and std (pixel/255 over
// the training set): the image-cpu presets' normalization.
var FashionMNISTNorm = augment.Normalize{Mean: []float64{0.2860}, Std: []float64{0.3530}}

func encoderCfg(dim int64, layers int, heads int64, preLN bool, posConv int64) tr.Config {
	return tr.Config{Dim: dim, Layers: layers, Heads: heads, FFN: 4 * dim, LayerNormFirst: preLN,
		PosConvKernel: posConv, PosConvGroups: 16}
}

// defaults are the settings every preset shares (the objective's
// reference values, AdamW (0.9, 0.98), warm-up then cosine decay to 0);
// the model block is filled by the modality's preset.
func defaults() train.Config {
	return train.Config{
		Method: "data2vec", Seed: 1, Device: "auto", BF16: true,
		Data:       train.DataConfig{Batch: 16, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model:      &ModelConfig{},
		Optim:      train.OptimConfig{Name: "adamw", LR: 5e-4, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 1},
		Schedule:   train.ScheduleConfig{Steps: 400000, WarmupSteps: 1000, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 5000, Keep: 3},
		Log:        train.LogConfig{Every: 100},
		Monitor:    train.MonitorConfig{K: 20, T: 0.07, NTrain: 10000, NTest: 2000},
		Settings: &Settings{Collapse: CollapseConfig{MinTargetVar: 0.1, MinPredVar: 0.01, After: 5000},
			Normalize: augment.ImageNet},
	}
}

// common holds the per-modality reference settings (REFERENCE.md:
// top-K, loss, target normalization, masking).
func common(c *train.Config, modality string) {
	m, s := model(c), settings(c)
	m.HeadLayers, m.TargetNorm = 1, "layer"
	c.Data.Modality = modality
	switch modality {
	case data.Text:
		m.TopK, m.LossBeta, m.HeadLayers = 10, 4, 2
		m.Mask = MaskConfig{Kind: "span", Prob: 0.35, Length: 4}
	case data.Image:
		m.TopK, m.LossBeta = 6, 2
		m.ImageSize, m.Patch, m.Channels = 28, 4, 1
		m.Mask = MaskConfig{Kind: "block", Prob: 0.6, MinPatches: 16}
		s.FlipP, s.Normalize = 0.5, FashionMNISTNorm
	case data.Audio:
		m.TopK, m.LossBeta, m.TargetNorm = 8, 0, "instance"
		m.CNNGradScale = 1
		m.Mask = MaskConfig{Kind: "span", Prob: 0.65, Length: 10, MinMasks: 2}
	}
}

// cpu is what the small CPU presets share: one libtorch thread (on a
// loaded 2-core machine two OpenMP threads made a text step 17x slower,
// 50 s vs 3 s for 12 steps; on an idle one the gain is small), fp32, a
// fast EMA anneal.
func cpu(c *train.Config) {
	c.Device, c.Threads = "cpu", 1
	settings(c).EMA = EMAConfig{0.99, 0.999, 300}
}

// Sources of the presets' hyperparameters.
const (
	srcPaper = "data2vec (Baevski et al. 2022) and fairseq examples/data2vec/config/v1 "
	srcCPU   = "CPU recipe measured in benchmarks/RESULTS.md (\"data2vec results\")"
)

var presets = []train.Preset{
	{Name: "text-base", Modality: data.Text, Summary: "BERT-base size (12 x 768, post-LN), 512 tokens, batch 256, 1M steps (a GPU run)",
		Source: srcPaper + "text/pretraining/base.yaml", Apply: func(c *train.Config) {
			common(c, data.Text)
			m := model(c)
			m.Encoder = encoderCfg(768, 12, 12, false, 0)
			m.Encoder.Dropout, m.Encoder.AttnDropout = 0.1, 0.1
			m.SeqLen = 512
			settings(c).EMA = EMAConfig{0.999, 0.9999, 100000}
			c.Optim.LR, c.Schedule.WarmupSteps = 2e-4, 4000
			c.Data.Batch, c.Schedule.Steps = 256, 1000000
		}},
	{Name: "text-cpu", Modality: data.Text, Summary: "the `make demo` text run: 3 x 128 encoder on 32-token sequences, 2,000 steps on one CPU thread",
		Source: srcCPU, Apply: func(c *train.Config) {
			common(c, data.Text)
			cpu(c)
			m := model(c)
			m.Encoder = encoderCfg(128, 3, 4, false, 0)
			m.TopK, m.SeqLen = 2, 32
			c.Optim.LR, c.Schedule.WarmupSteps = 2e-3, 30
			c.Data.Batch, c.Schedule.Steps, c.Log.Every, c.Checkpoint.Every = 16, 2000, 100, 500
			settings(c).Collapse.After = 50
		}},
	{Name: "image-base", Modality: data.Image, Summary: "ViT-B/16 (12 x 768, pre-LN) on 224 px RGB, batch 2048, 500k steps (a GPU run)",
		Source: srcPaper + "vision/base_imagenet.yaml", Apply: func(c *train.Config) {
			common(c, data.Image)
			m, s := model(c), settings(c)
			m.Encoder = encoderCfg(768, 12, 12, true, 0)
			m.ImageSize, m.Patch, m.Channels = 224, 16, 3
			m.Mask.MinPatches = 16
			s.EMA = EMAConfig{0.999, 0.9998, 100000}
			s.Normalize = augment.ImageNet
			c.Optim.LR, c.Schedule.WarmupSteps = 2e-3, 10000
			c.Data.Batch, c.Schedule.Steps = 2048, 500000
		}},
	{Name: "image-cpu", Modality: data.Image, Summary: "the `make demo` image run: 4 x 128 ViT on 4x4 patches of 28 px gray images, 1,000 steps on 20k images",
		Source: srcCPU + "; instance-normalized targets (data2vec 2.0's choice): with layer norm 1,000 steps were worse than random init on the kNN probe",
		Apply: func(c *train.Config) {
			common(c, data.Image)
			cpu(c)
			m := model(c)
			m.Encoder = encoderCfg(128, 4, 4, true, 0)
			m.TopK = 3
			m.Mask.MinPatches = 4
			m.TargetNorm = "instance"
			c.Data.Spec = "fashion-mnist:train"
			c.Optim.LR, c.Schedule.WarmupSteps = 1.5e-3, 40
			c.Data.Batch, c.Schedule.Steps, c.Log.Every, c.Data.Limit, c.Checkpoint.Every = 32, 1000, 50, 20000, 250
			settings(c).Collapse.After = 50
			c.Monitor.Train, c.Monitor.Test = "fashion-mnist:train", "fashion-mnist:test"
		}},
	{Name: "audio-base", Modality: data.Audio, Summary: "wav2vec 2.0 base CNN and 12 x 768 encoder, 20 s crops, 400k steps (a GPU run)",
		Source: srcPaper + "audio/pretraining/base_librispeech.yaml", Apply: func(c *train.Config) {
			common(c, data.Audio)
			m := model(c)
			m.Encoder = encoderCfg(768, 12, 12, false, 128)
			m.Encoder.Dropout, m.Encoder.AttnDropout = 0.1, 0.1
			m.CNN = wavenc.Base()
			m.CNN.Mode = "layer_norm"
			m.MaxSamples = 320000
			settings(c).EMA = EMAConfig{0.999, 0.9999, 30000}
			c.Optim.LR, c.Schedule.WarmupSteps = 5e-4, 12000
			c.Data.Batch, c.Schedule.Steps = 8, 400000
		}},
	{Name: "audio-cpu", Modality: data.Audio, Summary: "the `make demo` audio run: 64-channel CNN, 4 x 128 encoder, 2 s crops, 300 steps on one CPU thread",
		Source: srcCPU + "; the prediction variance dips below 0.01 around steps 50-90 and recovers by 160, so the monitor starts at 100",
		Apply: func(c *train.Config) {
			common(c, data.Audio)
			cpu(c)
			m := model(c)
			m.Encoder = encoderCfg(128, 4, 4, false, 32)
			m.TopK = 3
			m.CNN = wavenc.Base()
			m.CNN.Channels = []int64{64, 64, 64, 64, 64, 64, 64}
			m.CNN.Mode = "layer_norm"
			m.MaxSamples = 32000
			c.Optim.LR, c.Schedule.WarmupSteps = 1e-3, 40
			c.Data.Batch, c.Schedule.Steps, c.Log.Every, c.Checkpoint.Every = 8, 300, 20, 100
			settings(c).Collapse.After = 100
		}},
}

// smoke presets: the smallest networks and inputs, 20 steps in seconds on
// 2 CPU cores, to check a set-up (and for tests).
var smokePresets = []train.Preset{
	{Name: "smoke-text", Modality: data.Text, Summary: "2 x 32 encoder on 32-token sequences, batch 8, 20 steps", Source: "text-cpu, shrunk",
		Apply: func(c *train.Config) {
			common(c, data.Text)
			smoke(c)
			m := model(c)
			m.Encoder = encoderCfg(32, 2, 4, false, 0)
			m.SeqLen = 32
			c.Data.Batch = 8
		}},
	{Name: "smoke-image", Modality: data.Image, Summary: "2 x 32 ViT on 16 patches of 28 px gray images, batch 16, 20 steps", Source: "image-cpu, shrunk",
		Apply: func(c *train.Config) {
			common(c, data.Image)
			smoke(c)
			m := model(c)
			m.Encoder = encoderCfg(32, 2, 4, true, 0)
			m.Patch, m.Mask.MinPatches, m.TargetNorm = 7, 2, "instance"
			c.Data.Batch = 16
		}},
	{Name: "smoke-audio", Modality: data.Audio, Summary: "16-channel CNN, 2 x 32 encoder, 1 s crops, batch 4, 20 steps", Source: "audio-cpu, shrunk",
		Apply: func(c *train.Config) {
			common(c, data.Audio)
			smoke(c)
			m := model(c)
			m.Encoder = encoderCfg(32, 2, 4, false, 8)
			m.Encoder.PosConvGroups = 4
			m.CNN = wavenc.Base()
			m.CNN.Channels = []int64{16, 16, 16, 16, 16, 16, 16}
			m.CNN.Mode = "layer_norm"
			m.MaxSamples = 16000
			c.Data.Batch = 4
		}},
}

func smoke(c *train.Config) {
	cpu(c)
	model(c).TopK = 2
	settings(c).EMA = EMAConfig{0.99, 0.999, 20}
	settings(c).Collapse.After = 10
	c.Optim.LR = 2e-3
	c.Schedule.Steps, c.Schedule.WarmupSteps = 20, 2
	c.Log.Every, c.Checkpoint.Every = 5, 10
}

// The "*-reproduce" presets (make reproduce) are the "*-cpu" runs three
// times longer, with the warm-up and the EMA anneal stretched alike
// (image: all 60,000 training images).
func reproduce(modality string) train.Preset {
	var base train.Preset
	for _, p := range presets {
		if p.Name == modality+"-cpu" {
			base = p
		}
	}
	return train.Preset{Name: modality + "-reproduce", Modality: modality, Summary: "the `make reproduce` run: " + modality + "-cpu three times longer",
		Source: base.Source + "; steps, warm-up and EMA anneal x3", Apply: func(c *train.Config) {
			base.Apply(c)
			c.Schedule.Steps *= 3
			c.Schedule.WarmupSteps *= 3
			settings(c).EMA.AnnealSteps *= 3
			c.Checkpoint.Every *= 3
			if modality == data.Image {
				c.Data.Limit = 0
			}
		}}
}

func allPresets() []train.Preset {
	out := append([]train.Preset(nil), presets...)
	for _, mod := range []string{data.Text, data.Image, data.Audio} {
		out = append(out, reproduce(mod))
	}
	return append(out, smokePresets...)
}
