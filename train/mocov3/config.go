package mocov3

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

// ModelConfig is MoCo v3's model block: the backbone, the projector
// (Layers Linear-BatchNorm layers, the last BatchNorm without affine) and
// the predictor (Out -> PredHidden -> Out).
type ModelConfig struct {
	Arch  nn.Arch `yaml:"arch" json:"arch"`
	Heads Heads   `yaml:"heads" json:"heads"`
}

// Heads sizes the projector and the predictor; Layers is the projector's
// (3 for ViTs, 2 for ResNets in the paper).
type Heads struct {
	Hidden     int64 `yaml:"hidden" json:"hidden"`
	Out        int64 `yaml:"out" json:"out"`
	PredHidden int64 `yaml:"pred_hidden" json:"pred_hidden"`
	Layers     int   `yaml:"layers" json:"layers"`
	// NoBN builds both heads without BatchNorm (Config.NoBN).
	NoBN bool `yaml:"no_bn,omitempty" json:"no_bn,omitempty"`
}

// Settings is MoCo v3's own block: the contrastive temperature, the
// momentum encoder's decay schedule and the two-view recipe.
type Settings struct {
	Temperature float64           `yaml:"temperature" json:"temperature"`
	Momentum    train.TauSchedule `yaml:"momentum" json:"momentum"`
	Augment     augment.Recipe    `yaml:"augment" json:"augment"`
}

func model(c *train.Config) *ModelConfig { return c.Model.(*ModelConfig) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

func config(c *train.Config) Config {
	h := model(c).Heads
	return Config{ProjHidden: h.Hidden, ProjOut: h.Out, PredHidden: h.PredHidden, ProjLayers: h.Layers, Temperature: settings(c).Temperature, NoBN: h.NoBN}
}

// defaults is the paper's ViT-S/16 recipe (Chen, Xie & He 2021; the
// official main_moco.py with --optimizer adamw --lr 1.5e-4
// --weight-decay .1 --epochs 300 --warmup-epochs 40 --moco-m-cos
// --moco-t .2) at batch 256: AdamW lr 1.5e-4 x batch/256, momentum 0.99
// rising to 1 along a cosine, temperature 0.2, 3-layer projector 4096/256,
// predictor 4096, BYOL's asymmetric views at 224 px; 300 ImageNet epochs
// of 5,004 steps. The random frozen patch projection (--stop-grad-conv1)
// is not implemented.
func defaults() train.Config {
	return train.Config{
		Method: "mocov3", Seed: 42, Device: "auto",
		Data: train.DataConfig{Modality: data.Image, Batch: 256, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &ModelConfig{Arch: nn.Arch{Name: "vit-small", InChannels: 3, ImageSize: 224, Patch: 16},
			Heads: Heads{Hidden: 4096, Out: 256, PredHidden: 4096, Layers: 3}},
		Optim: train.OptimConfig{Name: "adamw", LR: 1.5e-4, ScaleLR: true, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
			Momentum: 0.9, Eta: 1e-3, ExcludeBiasNorm: true},
		Schedule:   train.ScheduleConfig{Steps: 1501200, WarmupSteps: 200160, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 5000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings: &Settings{Temperature: 0.2, Momentum: train.TauSchedule{Kind: "cosine", Base: 0.99, End: 1},
			Augment: augment.BYOL(224, true)},
	}
}

// fmnist is the common part of the Fashion-MNIST CPU presets.
func fmnist(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	m.Heads = Heads{Hidden: 1024, Out: 128, PredHidden: 1024, Layers: 2}
	s.Temperature = 0.2
	s.Momentum = train.TauSchedule{Kind: "cosine", Base: 0.99, End: 1}
	s.Augment = sslkit.FashionMNISTPair("mocov3-fmnist", 0.2, 0.2)
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
	{Name: "default", Summary: "ViT-S/16 at 224 px, AdamW, 300 ImageNet epochs at batch 256",
		Source: "MoCo v3 paper and official README ViT-S/16 recipe (main_moco.py --optimizer adamw --lr 1.5e-4 --weight-decay .1 --moco-t .2 --moco-m-cos), without --stop-grad-conv1"},
	{Name: "resnet", Summary: "ResNet-18 at 224 px, LARS, 100 ImageNet epochs at batch 256",
		Source: "MoCo v3 official main_moco.py ResNet-50 defaults (LARS lr 0.6, wd 1e-6, T 1.0, 2-layer projector, 10 warm-up epochs), ResNet-18 for ResNet-50", Apply: func(c *train.Config) {
			model(c).Arch = nn.Arch{Name: "resnet18", InChannels: 3}
			model(c).Heads.Layers = 2
			settings(c).Temperature = 1
			c.Optim = train.OptimConfig{Name: "lars", LR: 0.6, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-6, Eta: 1e-3,
				Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true}
			c.Schedule = train.ScheduleConfig{Steps: 500400, WarmupSteps: 50040, Kind: "cosine"}
		}},
	{Name: "cifar", Summary: "ResNet-18 with the CIFAR stem on 32 px, LARS, 1000 epochs of CIFAR-10",
		Source: "solo-learn scripts/pretrain/cifar/mocov3.yaml (LARS without clip_lr)", Apply: func(c *train.Config) {
			model(c).Arch = nn.Arch{Name: "resnet18-cifar", InChannels: 3}
			model(c).Heads.Layers = 2
			settings(c).Augment = sslkit.CIFARAsymmetric()
			c.Optim = train.OptimConfig{Name: "lars", LR: 0.3, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-6, Eta: 0.02,
				Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true}
			c.Schedule = train.ScheduleConfig{Steps: 195000, WarmupSteps: 1950, Kind: "cosine"}
		}},
	{Name: "fmnist-quick", Summary: "small ConvNet on Fashion-MNIST, 200 steps (a few minutes on 2 CPU cores)",
		Source: "CPU recipe: BYOL's fmnist ConvNet and AdamW (benchmarks/imgmethods/EXPERIMENTS.md)", Apply: fmnist},
	{Name: "fmnist-reproduce", Summary: "the Fashion-MNIST comparison's run: crops 0.4-1, 3,300 steps (`make reproduce` cuts it to its CPU budget)",
		Source: "fmnist-quick with BYOL fmnist-reproduce's crops (benchmarks/imgmethods/EXPERIMENTS.md, pilot mocov3-p1)", Apply: func(c *train.Config) {
			fmnist(c)
			sslkit.FashionMNISTReproduce(c, &model(c).Arch, &settings(c).Augment, 100)
		}},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fmnist-quick, shrunk", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{8, 16}
			model(c).Heads = Heads{Hidden: 64, Out: 32, PredHidden: 64, Layers: 2}
			sslkit.Smoke(c, 32)
		}},
}

// validate checks MoCo v3's blocks.
func validate(c *train.Config) error {
	if err := config(c).Validate(); err != nil {
		return err
	}
	if err := settings(c).Momentum.Validate(); err != nil {
		return fmt.Errorf("mocov3: momentum: %w", err)
	}
	return sslkit.ValidateViews("mocov3", c, model(c).Arch, settings(c).Augment, 2, false)
}
