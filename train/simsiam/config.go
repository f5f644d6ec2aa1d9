package simsiam

import (
	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

// ModelConfig is SimSiam's model block: the backbone, the 3-layer
// projector and the bottleneck predictor.
type ModelConfig struct {
	Arch  nn.Arch `yaml:"arch" json:"arch"`
	Heads Heads   `yaml:"heads" json:"heads"`
}

// Heads sizes the projector (Hidden, Hidden, Out) and the predictor
// (Out -> PredHidden -> Out).
type Heads struct {
	Hidden     int64 `yaml:"hidden" json:"hidden"`
	Out        int64 `yaml:"out" json:"out"`
	PredHidden int64 `yaml:"pred_hidden" json:"pred_hidden"`
}

// Settings is SimSiam's own block: the predictor's fixed learning rate
// and the two-view recipe.
type Settings struct {
	// FixPredictorLR keeps the predictor at the base learning rate
	// (optim.lr after batch scaling) while the rest follows the schedule.
	FixPredictorLR bool           `yaml:"fix_predictor_lr" json:"fix_predictor_lr"`
	Augment        augment.Recipe `yaml:"augment" json:"augment"`
}

func model(c *train.Config) *ModelConfig { return c.Model.(*ModelConfig) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

func config(c *train.Config) Config {
	h := model(c).Heads
	return Config{ProjHidden: h.Hidden, ProjOut: h.Out, PredHidden: h.PredHidden, FixPredictorLR: settings(c).FixPredictorLR}
}

// defaults is the paper's ImageNet recipe (Chen & He 2021, section 4 and
// appendix A) on ResNet-18 at batch 256: SGD lr 0.05 x batch/256,
// momentum 0.9, weight decay 1e-4, cosine without warm-up, the predictor
// at the fixed base rate, projector 2048-2048-2048, predictor bottleneck
// 512, SimSiam's views at 224 px; 100 epochs of ImageNet-1k.
func defaults() train.Config {
	return train.Config{
		Method: "simsiam", Seed: 42, Device: "auto",
		Data:  train.DataConfig{Modality: data.Image, Batch: 256, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &ModelConfig{Arch: nn.Arch{Name: "resnet18", InChannels: 3}, Heads: Heads{Hidden: 2048, Out: 2048, PredHidden: 512}},
		Optim: train.OptimConfig{Name: "sgd", LR: 0.05, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-4, Eta: 1e-3,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		Schedule:   train.ScheduleConfig{Steps: 500400, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 5000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings:   &Settings{FixPredictorLR: true, Augment: augment.SimSiam(224)},
	}
}

// fmnist is the common part of the Fashion-MNIST CPU presets.
func fmnist(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	m.Heads = Heads{Hidden: 512, Out: 512, PredHidden: 128}
	s.Augment = sslkit.FashionMNISTPair("simsiam-fmnist", 0.2, 0)
	s.FixPredictorLR = true
	c.Data.Spec = "fashion-mnist:train"
	c.Data.Batch = 256
	c.Device = "cpu"
	c.Optim = train.OptimConfig{Name: "sgd", LR: 0.06, ScaleLR: true, Momentum: 0.9, WeightDecay: 5e-4,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3}
	c.Schedule = train.ScheduleConfig{Steps: 200, WarmupSteps: 0, Kind: "cosine"}
	c.Log.Every = 10
	c.Checkpoint = train.CheckpointConfig{Every: 100, Keep: 2}
	c.Monitor = sslkit.FashionMNISTMonitor()
}

var presets = []train.Preset{
	{Name: "default", Summary: "ResNet-18, 224 px, SGD with the fixed-rate predictor, 100 ImageNet epochs at batch 256",
		Source: "SimSiam paper ImageNet recipe (Chen & He 2021), ResNet-18 for ResNet-50"},
	{Name: "cifar", Summary: "ResNet-18 with the CIFAR stem on 32 px, SGD, 1000 epochs of CIFAR-10",
		Source: "solo-learn scripts/pretrain/cifar/simsiam.yaml (with the paper's fixed predictor rate)", Apply: func(c *train.Config) {
			model(c).Arch = nn.Arch{Name: "resnet18-cifar", InChannels: 3}
			settings(c).Augment = sslkit.CIFARSymmetric(false)
			c.Optim = train.OptimConfig{Name: "sgd", LR: 0.5, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-5,
				Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3}
			c.Schedule = train.ScheduleConfig{Steps: 195000, WarmupSteps: 1950, Kind: "cosine"}
		}},
	{Name: "fmnist-quick", Summary: "small ConvNet on Fashion-MNIST, 200 steps (a few minutes on 2 CPU cores)",
		Source: "CPU recipe: BYOL's fmnist ConvNet, the paper's SGD and its CIFAR lr/wd (benchmarks/imgmethods/EXPERIMENTS.md)", Apply: fmnist},
	{Name: "fmnist-reproduce", Summary: "the Fashion-MNIST comparison's run: crops 0.4-1, 3,300 steps (`make reproduce` cuts it to its CPU budget)",
		Source: "fmnist-quick with BYOL fmnist-reproduce's crops, no warm-up as in the paper (benchmarks/imgmethods/EXPERIMENTS.md, pilot simsiam-p1)", Apply: func(c *train.Config) {
			fmnist(c)
			sslkit.FashionMNISTReproduce(c, &model(c).Arch, &settings(c).Augment, 0)
		}},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fmnist-quick, shrunk", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{8, 16}
			model(c).Heads = Heads{Hidden: 64, Out: 64, PredHidden: 16}
			sslkit.Smoke(c, 32)
		}},
}

// validate checks SimSiam's blocks.
func validate(c *train.Config) error {
	if err := config(c).Validate(); err != nil {
		return err
	}
	return sslkit.ValidateViews("simsiam", c, model(c).Arch, settings(c).Augment, 2, false)
}
