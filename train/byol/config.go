package byol

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
)

// Model is BYOL's model block: the backbone and the projector/predictor
// sizes (Linear(Hidden) -> BatchNorm -> ReLU -> Linear(Out)).
type Model struct {
	Arch  nn.Arch `yaml:"arch" json:"arch"`
	Heads Heads   `yaml:"heads" json:"heads"`
}

// Heads sizes the projector and predictor.
type Heads struct {
	Hidden int64 `yaml:"hidden" json:"hidden"`
	Out    int64 `yaml:"out" json:"out"`
}

// Settings is BYOL's own block: the target's EMA schedule, the two-view
// recipe, and whether non-finite steps are skipped.
type Settings struct {
	Tau     train.TauSchedule `yaml:"tau" json:"tau"`
	Augment augment.Recipe    `yaml:"augment" json:"augment"`
	// SkipNonFinite skips (and counts) steps whose loss or gradient norm
	// is NaN or Inf.
	SkipNonFinite bool `yaml:"skip_nonfinite" json:"skip_nonfinite"`
}

// FashionMNISTNorm is Fashion-MNIST's pixel mean and std.
var FashionMNISTNorm = augment.Normalize{Mean: []float64{0.2860}, Std: []float64{0.3530}}

// FashionMNISTRecipe is the two-view BYOL recipe for 28x28 gray images:
// crops of scale (0.2, 1) resized back to 28 (bilinear), flip 0.5,
// brightness/contrast jitter 0.4 with p 0.8, solarize p 0 / 0.2, no blur
// (too small), normalized with FashionMNISTNorm, one channel.
func FashionMNISTRecipe() augment.Recipe {
	v := augment.View{
		Name: "view1", Size: 28, Scale: [2]float64{0.2, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3},
		Interp: augment.Bilinear, FlipP: 0.5, JitterP: 0.8, Jitter: augment.Jitter{Brightness: 0.4, Contrast: 0.4},
		Normalize: FashionMNISTNorm,
	}
	v2 := v
	v2.Name, v2.SolarizeP = "view2", 0.2
	return augment.Recipe{Name: "byol-fmnist", Channels: 1, Views: []augment.View{v, v2}}
}

// defaults is DeepMind's ImageNet recipe: ResNet-18, 224 px, LARS lr 0.2
// x batch/256, wd 1.5e-6, eta 1e-3, tau 0.996 cosine, heads 4096/256.
func defaults() train.Config {
	return train.Config{
		Method: "byol", Seed: 42, Device: "auto",
		Data:  train.DataConfig{Modality: data.Image, Batch: 256, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &Model{Arch: nn.Arch{Name: "resnet18", InChannels: 3}, Heads: Heads{Hidden: 4096, Out: 256}},
		Optim: train.OptimConfig{Name: "lars", LR: 0.2, ScaleLR: true, Momentum: 0.9, WeightDecay: 1.5e-6, Eta: 1e-3,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true},
		Schedule:   train.ScheduleConfig{Steps: 100000, WarmupSteps: 5000, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 1000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings: &Settings{Tau: train.TauSchedule{Kind: "cosine", Base: 0.996, End: 1},
			Augment: augment.BYOL(224, true), SkipNonFinite: true},
	}
}

func model(c *train.Config) *Model       { return c.Model.(*Model) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// fmnist is the common part of the Fashion-MNIST CPU presets.
func fmnist(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	m.Heads = Heads{Hidden: 512, Out: 128}
	c.Data.Spec = "fashion-mnist:train"
	s.Augment = FashionMNISTRecipe()
	c.Data.Batch = 256
	c.Device = "cpu"
	c.Optim = train.OptimConfig{Name: "adamw", LR: 2e-3, Momentum: 0.9, WeightDecay: 1e-4, ExcludeBiasNorm: true,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3}
	s.Tau = train.TauSchedule{Kind: "cosine", Base: 0.99, End: 1}
	c.Schedule.FinalLR = 0
	c.Log.Every = 10
	c.Checkpoint = train.CheckpointConfig{Every: 100, Keep: 2}
	c.Monitor = train.MonitorConfig{Every: 0, Train: "fashion-mnist:train", Test: "fashion-mnist:test", NTrain: 10000, NTest: 2000, K: 200, T: 0.1}
}

var presets = []train.Preset{
	{Name: "default", Summary: "ResNet-18, 224 px, LARS, 100k steps", Source: "DeepMind BYOL ImageNet recipe (Grill et al. 2020, Appendix J)"},
	{Name: "cifar", Summary: "ResNet-18 with the CIFAR stem on 32 px images, SGD (the GPU step-time benchmark's configuration)",
		Source: "solo-learn cifar/byol.yaml (tau 0.99, warmup)", Apply: func(c *train.Config) {
			model(c).Arch = nn.Arch{Name: "resnet18-cifar", InChannels: 3}
			settings(c).Augment = augment.BYOL(32, false)
			c.Optim = train.OptimConfig{Name: "sgd", LR: 0.4, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-5, ExcludeBiasNorm: true,
				Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3}
			settings(c).Tau.Base = 0.99
			c.Schedule.WarmupSteps = 2000
		}},
	{Name: "fmnist-quick", Summary: "the `make demo` run: small ConvNet on Fashion-MNIST, ~3-4 minutes on 2 CPU cores",
		Source: "CPU recipe measured in benchmarks/RESULTS.md (AdamW: paper LARS rates collapse with Adam)", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{16, 32, 64}
			c.Schedule.Steps = 200
			c.Schedule.WarmupSteps = 20
		}},
	{Name: "fmnist-reproduce", Summary: "the `make reproduce` CPU run: 3,300 steps (< 30 minutes on 2 idle cores)",
		Source: "fmnist-quick with tau from 0.97 and crops 0.4-1 (each +0.4-0.6 online kNN points at step 600, benchmarks/RESULTS.md)", Apply: func(c *train.Config) {
			fmnist(c)
			c.Schedule.Steps = 3300
			c.Schedule.WarmupSteps = 100
			settings(c).Tau.Base = 0.97
			for i := range settings(c).Augment.Views {
				settings(c).Augment.Views[i].Scale[0] = 0.4
			}
			c.Checkpoint.Every = 500
			c.Monitor.Every = 500
		}},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fmnist-quick, shrunk", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{8, 16}
			model(c).Heads = Heads{Hidden: 64, Out: 32}
			c.Data.Batch = 32
			c.Schedule.Steps = 20
			c.Schedule.WarmupSteps = 2
			c.Log.Every = 5
			c.Checkpoint.Every = 10
		}},
}

// validate checks BYOL's blocks.
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	if c.Data.Batch < 2 {
		return fmt.Errorf("byol: data.batch %d: BatchNorm needs at least 2", c.Data.Batch)
	}
	if m.Heads.Hidden <= 0 || m.Heads.Out <= 0 {
		return fmt.Errorf("byol: model.heads needs positive hidden and out sizes, got %+v", m.Heads)
	}
	if err := s.Tau.Validate(); err != nil {
		return err
	}
	if s.Augment.NumViews() != 2 {
		return fmt.Errorf("byol: needs a two-view recipe, %q has %d views", s.Augment.Name, s.Augment.NumViews())
	}
	if ch := s.Augment.Channels; ch != 0 && ch != m.Arch.InChannels {
		return fmt.Errorf("byol: recipe makes %d-channel views but model.arch.in_channels is %d", ch, m.Arch.InChannels)
	}
	if c.Monitor.Every > 0 && c.Log.Every > 0 && c.Monitor.Every%c.Log.Every != 0 {
		return fmt.Errorf("byol: monitor.every %d must be a multiple of log.every %d", c.Monitor.Every, c.Log.Every)
	}
	return s.Augment.Validate()
}
