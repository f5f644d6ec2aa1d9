package data2vec

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sslpipe/sslpipe/audio"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// Modalities are the input kinds data2vec trains on.
var Modalities = []string{"audio", "image", "text"}

// Config is every option of a data2vec pretraining run; config.yaml in the
// run folder is this struct.
type Config struct {
	Method   string `yaml:"method" json:"method"`     // "data2vec"
	Modality string `yaml:"modality" json:"modality"` // text, image or audio
	Preset   string `yaml:"preset" json:"preset"`
	Seed     uint64 `yaml:"seed" json:"seed"`
	Device   string `yaml:"device" json:"device"`   // auto, cpu, cuda, cuda:N
	BF16     bool   `yaml:"bf16" json:"bf16"`       // bfloat16 matrix products on CUDA
	Threads  int    `yaml:"threads" json:"threads"` // libtorch intra-op threads (0: all cores)

	Model    ModelConfig    `yaml:"model" json:"model"`
	EMA      EMAConfig      `yaml:"ema" json:"ema"`
	Optim    OptimConfig    `yaml:"optim" json:"optim"`
	Collapse CollapseConfig `yaml:"collapse" json:"collapse"`

	// Data is the training input: text: a fortune(6) folder (Debian's
	// /usr/share/games/fortunes) or a plain text file (one document per
	// blank-line-separated paragraph); image: fashion-mnist:train or a folder of
	// images; audio: a folder of 16 kHz WAVs (its train/ sub-folder when
	// present, as written by sslpipe speechdata's pretrain/).
	Data string `yaml:"data" json:"data"`
	// Tokenizer (text) is a tokenizer.json; empty trains a WordPiece
	// tokenizer of Model.Vocab tokens on Data and saves it in the run folder.
	Tokenizer string `yaml:"tokenizer" json:"tokenizer"`
	// Limit uses only the first N examples (0: all).
	Limit int `yaml:"limit" json:"limit"`

	Batch    int   `yaml:"batch" json:"batch"`
	Steps    int64 `yaml:"steps" json:"steps"`
	LogEvery int64 `yaml:"log_every" json:"log_every"`
	// CheckpointEvery is the number of steps between checkpoints (0: only
	// on an interrupt and at the end).
	CheckpointEvery int64  `yaml:"checkpoint_every" json:"checkpoint_every"`
	Dir             string `yaml:"dir" json:"dir"`
}

// ModelConfig is the architecture and objective.
type ModelConfig struct {
	Encoder tr.Config `yaml:"encoder" json:"encoder"`

	// Text front-end: token and learned position embeddings, layer norm.
	Vocab  int `yaml:"vocab" json:"vocab"`     // tokenizer size (set from the tokenizer)
	SeqLen int `yaml:"seq_len" json:"seq_len"` // tokens per training sequence (and position table size)

	// Image front-end: ViT patch embedding (a linear map of each
	// Patch x Patch x Channels patch, i.e. a stride-Patch convolution) and
	// learned position embeddings.
	ImageSize int `yaml:"image_size" json:"image_size"`
	Patch     int `yaml:"patch" json:"patch"`
	Channels  int `yaml:"channels" json:"channels"`

	// Audio front-end: the wav2vec 2.0 CNN, layer norm, projection.
	CNN          wavenc.Config `yaml:"cnn" json:"cnn"`
	CNNGradScale float64       `yaml:"cnn_grad_scale" json:"cnn_grad_scale"` // feature_grad_mult (1 in data2vec audio)
	MaxSamples   int           `yaml:"max_samples" json:"max_samples"`       // crop length in samples

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
	// "bert" (text: 15% of tokens, 80/10/10) or "block" (image:
	// augment.MaskSpec block-wise masking).
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
	// Stop ends the run with ErrCollapse; otherwise a warning is printed
	// and counted (collapse_warnings in metrics.jsonl).
	Stop bool `yaml:"stop" json:"stop"`
}

// OptimConfig is Adam with decoupled weight decay (AdamW), gradient
// clipping, linear warm-up and cosine decay to zero.
type OptimConfig struct {
	LR           float64 `yaml:"lr" json:"lr"`
	Beta1        float64 `yaml:"beta1" json:"beta1"`
	Beta2        float64 `yaml:"beta2" json:"beta2"`
	Eps          float64 `yaml:"eps" json:"eps"`
	WeightDecay  float64 `yaml:"weight_decay" json:"weight_decay"`
	ClipGradNorm float64 `yaml:"clip_grad_norm" json:"clip_grad_norm"` // 0: off
	WarmupSteps  int64   `yaml:"warmup_steps" json:"warmup_steps"`
}

// Validate checks the model configuration for modality.
func (c ModelConfig) Validate(modality string) error {
	if err := c.Encoder.Validate(); err != nil {
		return err
	}
	switch modality {
	case "text":
		if c.SeqLen < 2 {
			return fmt.Errorf("data2vec: seq_len %d must be >= 2", c.SeqLen)
		}
		if c.Mask.Kind != "span" && c.Mask.Kind != "bert" {
			return fmt.Errorf("data2vec: text mask kind %q (span, bert)", c.Mask.Kind)
		}
	case "image":
		if c.Patch <= 0 || c.ImageSize <= 0 || c.ImageSize%c.Patch != 0 || c.Channels <= 0 {
			return fmt.Errorf("data2vec: image size %d must be a positive multiple of patch %d, channels %d > 0", c.ImageSize, c.Patch, c.Channels)
		}
		if c.Mask.Kind != "block" && c.Mask.Kind != "random" {
			return fmt.Errorf("data2vec: image mask kind %q (block, random)", c.Mask.Kind)
		}
	case "audio":
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

// Validate checks ranges.
func (c OptimConfig) Validate() error {
	if !(c.LR > 0) || c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 || !(c.Eps > 0) || c.WeightDecay < 0 || c.ClipGradNorm < 0 || c.WarmupSteps < 0 {
		return fmt.Errorf("data2vec: optim: lr %v > 0, betas (%v, %v) in [0, 1), eps %v > 0, weight_decay %v, clip %v, warmup %d >= 0 required",
			c.LR, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, c.ClipGradNorm, c.WarmupSteps)
	}
	return nil
}

// Validate checks the decay range.
func (c EMAConfig) Validate() error {
	if c.Start < 0 || c.Start > 1 || c.End < 0 || c.End > 1 || c.AnnealSteps < 0 {
		return fmt.Errorf("data2vec: ema start %v and end %v must be in [0, 1], anneal_steps %d >= 0", c.Start, c.End, c.AnnealSteps)
	}
	return nil
}

// Validate checks the whole configuration.
func (c *Config) Validate() error {
	if c.Method != "data2vec" {
		return fmt.Errorf("data2vec: method %q in a data2vec config", c.Method)
	}
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
		return fmt.Errorf("data2vec: batch %d and steps %d must be >= 1", c.Batch, c.Steps)
	}
	return nil
}

func encoder(dim int64, layers int, heads int64, preLN bool, posConv int64) tr.Config {
	return tr.Config{Dim: dim, Layers: layers, Heads: heads, FFN: 4 * dim, LayerNormFirst: preLN,
		PosConvKernel: posConv, PosConvGroups: 16}
}

// presets: modality -> name -> config. The CPU presets use one libtorch
// thread: on a loaded 2-core machine two OpenMP threads made a text step
// 17x slower (50 s vs 3 s for 12 steps), and on an idle one the gain is small. "*-cpu" run in a few minutes on two
// CPU cores (make demo); "*-reproduce" (added in init below) are longer
// CPU runs (make reproduce); "*-base" are the paper's base models for a GPU.
var presets = map[string]map[string]func() Config{
	"text": {
		"text-base": func() Config {
			c := common("text", "text-base")
			c.Model.Encoder = encoder(768, 12, 12, false, 0)
			c.Model.Encoder.Dropout, c.Model.Encoder.AttnDropout = 0.1, 0.1
			c.Model.Vocab, c.Model.SeqLen = 30522, 512
			c.EMA = EMAConfig{0.999, 0.9999, 100000}
			c.Optim.LR, c.Optim.WarmupSteps = 2e-4, 4000
			c.Batch, c.Steps = 256, 1000000
			return c
		},
		"text-cpu": func() Config {
			c := common("text", "text-cpu")
			c.Device, c.Threads = "cpu", 1
			c.Model.Encoder = encoder(128, 3, 4, false, 0)
			c.Model.TopK = 2
			c.Model.Vocab, c.Model.SeqLen = 4000, 32
			c.EMA = EMAConfig{0.99, 0.999, 300}
			c.Optim.LR, c.Optim.WarmupSteps = 2e-3, 30
			c.Batch, c.Steps, c.LogEvery, c.CheckpointEvery = 16, 2000, 100, 500
			c.Collapse.After = 50
			return c
		},
	},
	"image": {
		"image-base": func() Config {
			c := common("image", "image-base")
			c.Model.Encoder = encoder(768, 12, 12, true, 0)
			c.Model.ImageSize, c.Model.Patch, c.Model.Channels = 224, 16, 3
			c.Model.Mask.MinPatches = 16
			c.Data = ""
			c.EMA = EMAConfig{0.999, 0.9998, 100000}
			c.Optim.LR, c.Optim.WarmupSteps = 2e-3, 10000
			c.Batch, c.Steps = 2048, 500000
			return c
		},
		"image-cpu": func() Config {
			c := common("image", "image-cpu")
			c.Device, c.Threads = "cpu", 1
			c.Model.Encoder = encoder(128, 4, 4, true, 0)
			c.Model.TopK = 3
			c.Model.Mask.MinPatches = 4
			// Instance-normalized targets (data2vec 2.0's choice): with the
			// reference's layer norm, 400 and 1,000 steps gave features
			// worse than random init on the kNN probe (48.9% vs 57.6%;
			// 45.9% vs 53.4%) and a falling target variance; instance norm
			// and 1,000 steps beat it (67.9% vs 57.6%; see
			// benchmarks/RESULTS.md (data2vec section)).
			c.Model.TargetNorm = "instance"
			c.EMA = EMAConfig{0.99, 0.999, 300}
			c.Optim.LR, c.Optim.WarmupSteps = 1.5e-3, 40
			c.Batch, c.Steps, c.LogEvery, c.Limit, c.CheckpointEvery = 32, 1000, 50, 20000, 250
			c.Collapse.After = 50
			return c
		},
	},
	"audio": {
		"audio-base": func() Config {
			c := common("audio", "audio-base")
			c.Model.Encoder = encoder(768, 12, 12, false, 128)
			c.Model.Encoder.Dropout, c.Model.Encoder.AttnDropout = 0.1, 0.1
			c.Model.CNN = wavenc.Base()
			c.Model.CNN.Mode = "layer_norm"
			c.Model.MaxSamples = 320000
			c.EMA = EMAConfig{0.999, 0.9999, 30000}
			c.Optim.LR, c.Optim.WarmupSteps = 5e-4, 12000
			c.Batch, c.Steps = 8, 400000
			return c
		},
		"audio-cpu": func() Config {
			c := common("audio", "audio-cpu")
			c.Device, c.Threads = "cpu", 1
			c.Model.Encoder = encoder(128, 4, 4, false, 32)
			c.Model.TopK = 3
			c.Model.CNN = wavenc.Base()
			c.Model.CNN.Channels = []int64{64, 64, 64, 64, 64, 64, 64}
			c.Model.CNN.Mode = "layer_norm"
			c.Model.MaxSamples = 32000
			c.EMA = EMAConfig{0.99, 0.999, 300}
			c.Optim.LR, c.Optim.WarmupSteps = 1e-3, 40
			c.Batch, c.Steps, c.LogEvery, c.CheckpointEvery = 8, 300, 20, 100
			// The prediction variance dips below 0.01 around steps 50-90
			// (the student first regresses the mean target) and recovers
			// to ~0.3 by step 160 (measured); fairseq waits 5,000 updates.
			c.Collapse.After = 100
			return c
		},
	},
}

// The "*-reproduce" presets (make reproduce) are the "*-cpu" models
// trained three times longer, with the warm-up and the EMA anneal
// stretched alike (image: all 60,000 training images).
func init() {
	for _, mod := range Modalities {
		mod := mod
		presets[mod][mod+"-reproduce"] = func() Config {
			c := presets[mod][mod+"-cpu"]()
			c.Preset = mod + "-reproduce"
			c.Steps *= 3
			c.Optim.WarmupSteps *= 3
			c.EMA.AnnealSteps *= 3
			c.CheckpointEvery *= 3
			if mod == "image" {
				c.Limit = 0
			}
			return c
		}
	}
}

// common holds the per-modality reference settings (../shared/REFERENCE.md).
func common(modality, preset string) Config {
	c := Config{
		Method: "data2vec", Modality: modality, Preset: preset, Seed: 1, Device: "auto", BF16: true,
		Optim:    OptimConfig{LR: 5e-4, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 1, WarmupSteps: 1000},
		Collapse: CollapseConfig{MinTargetVar: 0.1, MinPredVar: 0.01, After: 5000},
		LogEvery: 100, CheckpointEvery: 5000,
	}
	m := &c.Model
	m.HeadLayers, m.TargetNorm = 1, "layer"
	switch modality {
	case "text":
		m.TopK, m.LossBeta, m.HeadLayers = 10, 4, 2
		m.Mask = MaskConfig{Kind: "span", Prob: 0.35, Length: 4}
		c.Data = "/usr/share/games/fortunes"
	case "image":
		m.TopK, m.LossBeta = 6, 2
		m.ImageSize, m.Patch, m.Channels = 28, 4, 1
		m.Mask = MaskConfig{Kind: "block", Prob: 0.6, MinPatches: 16}
		c.Data = "fashion-mnist:train"
	case "audio":
		m.TopK, m.LossBeta, m.TargetNorm = 8, 0, "instance"
		m.CNNGradScale = 1
		m.Mask = MaskConfig{Kind: "span", Prob: 0.65, Length: 10, MinMasks: 2}
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
	return out
}

// Preset returns the named preset of modality; "" is "<modality>-cpu".
func Preset(modality, name string) (Config, error) {
	ps, ok := presets[modality]
	if !ok {
		return Config{}, fmt.Errorf("data2vec: modality %q (%s)", modality, strings.Join(Modalities, ", "))
	}
	if name == "" {
		name = modality + "-cpu"
	}
	f, ok := ps[name]
	if !ok {
		return Config{}, fmt.Errorf("data2vec: no %s preset %q (available: %s)", modality, name, strings.Join(Presets(modality), ", "))
	}
	return f(), nil
}

// YAML renders the config.
func (c *Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if err := e.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), e.Close()
}

// LoadConfig reads a config.yaml; omitted fields keep its preset's values.
// Unknown fields are an error.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("data2vec: %w", err)
	}
	var head struct {
		Modality string `yaml:"modality"`
		Preset   string `yaml:"preset"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return Config{}, fmt.Errorf("data2vec: %s: %w", path, err)
	}
	c, err := Preset(head.Modality, head.Preset)
	if err != nil {
		return c, fmt.Errorf("data2vec: %s: %w", path, err)
	}
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if err := d.Decode(&c); err != nil {
		return c, fmt.Errorf("data2vec: %s: %w", path, err)
	}
	return c, nil
}

// audioMask is the audio span-mask configuration.
func (c MaskConfig) audioMask() audio.MaskConfig {
	return audio.MaskConfig{Prob: c.Prob, Length: c.Length, MinMasks: c.MinMasks, RequireSameMasks: true}
}
