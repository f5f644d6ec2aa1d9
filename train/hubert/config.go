package hubert

import (
	"fmt"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// Settings is HuBERT's own config block (under the key hubert:). The
// model is Config.Model (a *ModelConfig); the optimizer, schedule and data
// are the shared blocks.
type Settings struct {
	// MaxSamples caps each crop (fairseq max_sample_size): a batch is
	// cropped to its shortest usable utterance, at most MaxSamples, at
	// random frame-aligned offsets.
	MaxSamples int `yaml:"max_samples" json:"max_samples"`
	// CNNLRScale multiplies the learning rate of the CNN feature encoder
	// (parameters under wav2vec2.feature_extractor.); 0 means 1. Adam
	// normalizes away the CNN gradient scale (model.cnn_grad_scale), so
	// short runs at high learning rates slow the CNN down here instead: at
	// 10x fairseq's rate the feature penalty otherwise drives every CNN
	// unit into GELU's flat negative side within ~20 steps.
	CNNLRScale float64 `yaml:"cnn_lr_scale" json:"cnn_lr_scale"`
	// Valid is a held-out audio dataset with frame labels of the same k (a
	// preprocess output folder; optional): every ValEvery steps and at the
	// end the masked and unmasked prediction accuracy on ValidCount of its
	// utterances (evenly strided; 0: all) is logged as val_acc_m,
	// val_acc_u and val_loss_m. Each utterance is cut to 4 x MaxSamples
	// and masked with a fixed draw, so every validation sees the same
	// inputs.
	Valid string `yaml:"valid" json:"valid"`
	// ValidLabels is a label set joined to Valid (iteration 2: the labels
	// `sslpipe hubert labels` wrote for it).
	ValidLabels string `yaml:"valid_labels,omitempty" json:"valid_labels,omitempty"`
	ValidCount  int    `yaml:"valid_count" json:"valid_count"`
	// ValEvery is the number of steps between validations (0: only at
	// the end). A validation's figures go on the next metrics line.
	ValEvery int64 `yaml:"val_every" json:"val_every"`

	// resolved notes what Resolve changed, for the run's log.
	resolved string
}

// baseModel is HuBERT base (95M parameters): the wav2vec 2.0 CNN, a
// 12-layer 768-wide post-LN Transformer, 100 k-means classes.
func baseModel() ModelConfig {
	return ModelConfig{
		CNN: wavenc.Base(),
		Encoder: tr.Config{Dim: 768, Layers: 12, Heads: 12, FFN: 3072, PosConvKernel: 128, PosConvGroups: 16,
			Dropout: 0.1, AttnDropout: 0.1, ActDropout: 0.0, LayerDrop: 0.05},
		ProjDropout: 0.1, FinalDim: 256, NumClasses: 100, LogitTemp: 0.1, FeaturePenalty: 10, CNNGradScale: 0.1,
		Mask: audio.MaskConfig{Prob: 0.8, Length: 10, MinMasks: 2, RequireSameMasks: true},
	}
}

// smallModel is baseModel with ch CNN channels and a layers x dim
// Transformer without dropout.
func smallModel(ch, dim int64, layers int) ModelConfig {
	m := baseModel()
	m.CNN.Channels = []int64{ch, ch, ch, ch, ch, ch, ch}
	m.Encoder = tr.Config{Dim: dim, Layers: layers, Heads: 4, FFN: 4 * dim, PosConvKernel: 16, PosConvGroups: 8,
		Dropout: 0.0, AttnDropout: 0.0, LayerDrop: 0}
	m.ProjDropout = 0
	return m
}

// defaults is the hubert-base preset: fairseq's HuBERT base pretraining
// recipe with a batch of 8 crops of 4 s per step.
func defaults() train.Config {
	return train.Config{
		Method: "hubert", Seed: 1, Device: "auto", BF16: true,
		Data:  train.DataConfig{Modality: data.Audio, Batch: 8, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: ptr(baseModel()),
		Optim: train.OptimConfig{Name: "adamw", LR: 5e-4, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 10,
			Momentum: 0.9, Eta: 1e-3},
		Schedule:   train.ScheduleConfig{Steps: 400000, WarmupSteps: 32000, Kind: "linear"},
		Checkpoint: train.CheckpointConfig{Every: 10000, Keep: 3},
		Log:        train.LogConfig{Every: 100},
		Monitor:    train.MonitorConfig{K: 20, T: 0.07, NTrain: 2000, NTest: 500},
		Settings:   &Settings{MaxSamples: 64000, ValEvery: 5000, ValidCount: 256},
	}
}

func ptr[T any](v T) *T { return &v }

func model(c *train.Config) *ModelConfig { return c.Model.(*ModelConfig) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// cpu is the common part of the CPU presets. They differ from the
// reference in two documented ways: the unmasked frames are also trained
// on (unmasked_weight 1, the paper's alpha = 0.5), which gets a small
// model past the "predict the label prior" plateau in hundreds rather
// than thousands of steps, and the learning rate is higher with a short
// warm-up. One libtorch thread: a small model gains little from a second,
// and OpenMP threads on a busy machine can cost 10x.
func cpu(c *train.Config, ch, dim int64, layers int) {
	m := model(c)
	*m = smallModel(ch, dim, layers)
	m.UnmaskedWeight = 1
	c.Threads = 1
	c.Device, c.BF16 = "cpu", false
	settings(c).MaxSamples = 16000
	settings(c).ValidCount = 0
}

var presets = []train.Preset{
	{Name: "hubert-base", Summary: "HuBERT base (95M parameters), iteration-1 recipe, batch 8 x 4 s, bf16 on a GPU",
		Source: "fairseq examples/hubert/config/pretrain/hubert_base_librispeech.yaml (model, Adam (0.9, 0.98) eps 1e-6, wd 0.01, " +
			"lr 5e-4, 32k warm-up, 400k updates, polynomial decay, clip 10); batch 8 x 4 s per step (the GPU speed benchmark's) instead of 32 GPUs x 1.4M samples",
		Modality: data.Audio},
	{Name: "cpu-small", Summary: "the `make demo` run: 2 x 96-wide Transformer, 1000 steps of 4 x 1 s, about 2 minutes on 2 CPU cores",
		Source: "hubert-base shrunk, trained on unmasked frames too and at a higher LR (measured in benchmarks/RESULTS.md)", Modality: data.Audio,
		Apply: func(c *train.Config) {
			cpu(c, 32, 96, 2)
			c.Data.Batch = 4
			c.Schedule.Steps, c.Schedule.WarmupSteps = 1000, 50
			c.Optim.LR = 4e-3
			c.Log.Every, c.Checkpoint.Every = 50, 250
			settings(c).ValEvery = 100
		}},
	{Name: "cpu-reproduce", Summary: "the `make reproduce` CPU run: 3 x 128-wide Transformer, 3000 steps of 8 x 1 s (about 340 CPU-seconds, one thread)",
		Source: "cpu-small, larger and longer (benchmarks/RESULTS.md)", Modality: data.Audio,
		Apply: func(c *train.Config) {
			cpu(c, 48, 128, 3)
			c.Data.Batch = 8
			c.Schedule.Steps, c.Schedule.WarmupSteps = 3000, 150
			c.Optim.LR = 3e-3
			c.Log.Every, c.Checkpoint.Every = 50, 1000
			settings(c).ValEvery = 250
		}},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps of 2 x 0.5 s in seconds on 2 CPU cores, to check a set-up",
		Source: "cpu-small, shrunk", Modality: data.Audio,
		Apply: func(c *train.Config) {
			cpu(c, 16, 32, 1)
			m := model(c)
			m.Encoder.Heads, m.Encoder.FFN, m.FinalDim = 2, 64, 16
			c.Data.Batch = 2
			settings(c).MaxSamples = 8000
			c.Schedule.Steps, c.Schedule.WarmupSteps = 20, 2
			c.Optim.LR = 4e-3
			c.Log.Every, c.Checkpoint.Every = 5, 10
			settings(c).ValEvery, settings(c).ValidCount = 10, 8
		}},
}

// validate checks HuBERT's blocks.
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	if err := m.Validate(); err != nil {
		return err
	}
	if rf := m.CNN.ReceptiveField(); s.MaxSamples < rf {
		return fmt.Errorf("hubert: hubert.max_samples %d is shorter than the CNN's receptive field %d", s.MaxSamples, rf)
	}
	if !(s.CNNLRScale >= 0) {
		return fmt.Errorf("hubert: hubert.cnn_lr_scale %v must be >= 0", s.CNNLRScale)
	}
	if s.ValEvery < 0 || s.ValidCount < 0 {
		return fmt.Errorf("hubert: hubert.val_every %d and valid_count %d must be >= 0", s.ValEvery, s.ValidCount)
	}
	if s.ValidLabels != "" && s.Valid == "" {
		return fmt.Errorf("hubert: hubert.valid_labels needs hubert.valid")
	}
	return nil
}

// LabelRate is the frame rate of the labels the model predicts: one per
// CNN frame (50 Hz for the wav2vec 2.0 CNN at 16 kHz).
func (c ModelConfig) LabelRate() float64 {
	return float64(SampleRate) / float64(c.CNN.Stack().Stride())
}

// resolve checks that the dataset carries frame labels the model can
// predict (50 Hz, from km.npy members or a joined label set) and sets
// model.num_classes to their k, so that the model's dictionary is the
// labels' by construction.
func resolve(c *train.Config, d *data.Dataset) error {
	m, s := model(c), settings(c)
	if d.Modality != data.Audio {
		return fmt.Errorf("hubert: %w: %s holds %s data; HuBERT trains on audio", train.ErrConfig, d.Spec, d.Modality)
	}
	if d.LabelRate == 0 {
		return fmt.Errorf("hubert: %w: %s has no frame labels: preprocess it with `sslpipe preprocess --modality audio --features mfcc --deltas --kmeans 100` (iteration 1), or join a label set with --labels (data.labels; `sslpipe hubert labels` writes one)",
			train.ErrConfig, d.Spec)
	}
	if err := m.CNN.Validate(); err != nil {
		return fmt.Errorf("hubert: %w: %w", train.ErrConfig, err)
	}
	if r := m.LabelRate(); float64(d.LabelRate) != r {
		return fmt.Errorf("hubert: %w: %s has labels at %d Hz but the CNN makes %g frames per second (preprocess --label-rate 50)", train.ErrConfig, d.Spec, d.LabelRate, r)
	}
	switch k := d.LabelK; {
	case k == 0:
		s.resolved = fmt.Sprintf("%s does not say how many label values it has; model.num_classes %d is used (a label outside it is a bad sample)", d.Spec, m.NumClasses)
	case k < 2:
		return fmt.Errorf("hubert: %w: %s has labels of k = %d values; HuBERT needs k >= 2", train.ErrConfig, d.Spec, k)
	case k != m.NumClasses:
		s.resolved = fmt.Sprintf("model.num_classes set to %d, the k of %s's labels (was %d)", k, d.Spec, m.NumClasses)
		m.NumClasses = k
	}
	return nil
}
