package simclr

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

// ModelConfig is SimCLR's model block: the backbone and the projector
// (Linear(Hidden) -> BatchNorm -> ReLU -> Linear(Out)).
type ModelConfig struct {
	Arch  nn.Arch `yaml:"arch" json:"arch"`
	Heads Heads   `yaml:"heads" json:"heads"`
}

// Heads sizes the projector; NoBN leaves its BatchNorm out (Config.NoBN).
type Heads struct {
	Hidden int64 `yaml:"hidden" json:"hidden"`
	Out    int64 `yaml:"out" json:"out"`
	NoBN   bool  `yaml:"no_bn,omitempty" json:"no_bn,omitempty"`
}

// Settings is SimCLR's own block: the NT-Xent temperature and the
// two-view recipe.
type Settings struct {
	Temperature float64        `yaml:"temperature" json:"temperature"`
	Augment     augment.Recipe `yaml:"augment" json:"augment"`
}

func model(c *train.Config) *ModelConfig { return c.Model.(*ModelConfig) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// config is the model's Config from the blocks.
func config(c *train.Config) Config {
	m := model(c)
	return Config{ProjHidden: m.Heads.Hidden, ProjOut: m.Heads.Out, Temperature: settings(c).Temperature, NoBN: m.Heads.NoBN}
}

// defaults is the paper's ImageNet recipe (Chen et al. 2020, section B.1)
// on ResNet-18 at batch 256: LARS lr 0.3 x batch/256, weight decay 1e-6,
// trust coefficient 1e-3, 10 warm-up epochs then cosine, temperature
// 0.1, projector 2048/128, SimCLR's views at 224 px; 100 epochs of
// ImageNet-1k (5,004 steps each).
func defaults() train.Config {
	return train.Config{
		Method: "simclr", Seed: 42, Device: "auto",
		Data:  train.DataConfig{Modality: data.Image, Batch: 256, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &ModelConfig{Arch: nn.Arch{Name: "resnet18", InChannels: 3}, Heads: Heads{Hidden: 2048, Out: 128}},
		Optim: train.OptimConfig{Name: "lars", LR: 0.3, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-6, Eta: 1e-3,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true},
		Schedule:   train.ScheduleConfig{Steps: 500400, WarmupSteps: 50040, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 5000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings:   &Settings{Temperature: 0.1, Augment: augment.SimCLR(224)},
	}
}

// fmnist is the common part of the Fashion-MNIST CPU presets: BYOL's
// ConvNet (32-64-128, 2x2 pooled grid, 512-d features), 28-pixel gray
// views, AdamW, one libtorch thread per run.
func fmnist(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	m.Heads = Heads{Hidden: 512, Out: 128}
	s.Temperature = 0.2
	s.Augment = sslkit.FashionMNISTPair("simclr-fmnist", 0.2, 0)
	c.Data.Spec = "fashion-mnist:train"
	c.Data.Batch = 256
	c.Device = "cpu"
	c.Optim = train.OptimConfig{Name: "adamw", LR: 2e-3, Momentum: 0.9, WeightDecay: 1e-4, ExcludeBiasNorm: true,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3}
	c.Schedule = train.ScheduleConfig{Steps: 200, WarmupSteps: 20, Kind: "cosine"}
	c.Log.Every = 10
	c.Checkpoint = train.CheckpointConfig{Every: 100, Keep: 2}
	c.Monitor = sslkit.FashionMNISTMonitor()
}

var presets = []train.Preset{
	{Name: "default", Summary: "ResNet-18, 224 px, LARS, 100 ImageNet epochs at batch 256",
		Source: "SimCLR paper ImageNet recipe (Chen et al. 2020, B.1), ResNet-18 for ResNet-50"},
	{Name: "cifar", Summary: "ResNet-18 with the CIFAR stem on 32 px, LARS, 1000 epochs of CIFAR-10",
		Source: "solo-learn scripts/pretrain/cifar/simclr.yaml (LARS without clip_lr)", Apply: func(c *train.Config) {
			model(c).Arch = nn.Arch{Name: "resnet18-cifar", InChannels: 3}
			model(c).Heads = Heads{Hidden: 2048, Out: 256}
			settings(c).Temperature = 0.2
			settings(c).Augment = sslkit.CIFARSymmetric(true)
			c.Optim = train.OptimConfig{Name: "lars", LR: 0.4, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-4, Eta: 0.02,
				Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true}
			c.Schedule = train.ScheduleConfig{Steps: 195000, WarmupSteps: 1950, Kind: "cosine"}
		}},
	{Name: "vit-s16", Summary: "ViT-S/16 at 224 px (drop path 0.1), AdamW, the ImageNet schedule",
		Source: "the default recipe with DINO's ViT-S/16 backbone and AdamW (lr 5e-4 x batch/256, wd 0.05)", Apply: func(c *train.Config) {
			model(c).Arch = nn.Arch{Name: "vit-small", InChannels: 3, ImageSize: 224, Patch: 16, DropPath: 0.1}
			c.Optim = train.OptimConfig{Name: "adamw", LR: 5e-4, ScaleLR: true, WeightDecay: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
				Momentum: 0.9, Eta: 1e-3, ExcludeBiasNorm: true}
		}},
	{Name: "fmnist-quick", Summary: "small ConvNet on Fashion-MNIST, 200 steps (a few minutes on 2 CPU cores)",
		Source: "CPU recipe: BYOL's fmnist ConvNet and AdamW (benchmarks/imgmethods/EXPERIMENTS.md)", Apply: fmnist},
	{Name: "fmnist-reproduce", Summary: "the Fashion-MNIST comparison's run: crops 0.4-1, 3,300 steps (`make reproduce` cuts it to its CPU budget)",
		Source: "fmnist-quick with BYOL fmnist-reproduce's crops (benchmarks/imgmethods/EXPERIMENTS.md, pilot simclr-p1)", Apply: func(c *train.Config) {
			fmnist(c)
			sslkit.FashionMNISTReproduce(c, &model(c).Arch, &settings(c).Augment, 100)
		}},
	{Name: "fmnist-multicrop", Summary: "the best Fashion-MNIST run inside 30 minutes: the ConvNet's full 7x7 grid (6,272-d features), two 28-pixel views and two 12-pixel local crops, temperature 0.1, 3,200 steps (27.5 minutes on 2 idle cores with --nproc-per-node 2)",
		Source: "fmnist-reproduce with the 7x7 grid and DINO's fmnist local crops (benchmarks/imgmethods/EXPERIMENTS.md, pilots simclr-p10, simclr-p14 and simclr-p15; 86.91% kNN in benchmarks/RESULTS.md)", Apply: func(c *train.Config) {
			fmnist(c)
			m, s := model(c), settings(c)
			sslkit.FashionMNISTReproduce(c, &m.Arch, &s.Augment, 97)
			m.Arch.Pool = 7
			s.Augment.Views = append(s.Augment.Views, sslkit.FashionMNISTLocal(2, 12, [2]float64{0.1, 0.4}))
			s.Temperature = 0.1
			c.Schedule.Steps = 3200
		}},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fmnist-quick, shrunk", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{8, 16}
			model(c).Heads = Heads{Hidden: 64, Out: 32}
			sslkit.Smoke(c, 32)
		}},
}

// validate checks SimCLR's blocks.
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	if err := config(c).Validate(); err != nil {
		return err
	}
	if m.Heads.Hidden <= 0 || m.Heads.Out <= 0 {
		return fmt.Errorf("simclr: model.heads needs positive hidden and out sizes, got %+v", m.Heads)
	}
	return sslkit.ValidateViews("simclr", c, m.Arch, s.Augment, 2, true)
}
