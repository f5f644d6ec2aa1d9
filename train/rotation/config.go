package rotation

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

// Model is the model block: the backbone whose features a linear layer
// classifies into the four rotations.
type Model struct {
	Arch nn.Arch `yaml:"arch" json:"arch"`
}

// Input is what the network takes: Channels x Size x Size images
// (converted and resized bilinearly when the data differ), normalized
// (fields size, channels, normalize).
type Input = sslkit.Input

// Settings is the method's own block.
type Settings struct {
	Input Input `yaml:"input" json:"input"`
	// AllRotations puts the four rotations of every image in the same
	// batch (RotNet's choice, which the paper found better than one random
	// rotation per image); false draws one rotation per image from the
	// sample's key. A batch of B images is then 4B inputs.
	AllRotations bool `yaml:"all_rotations" json:"all_rotations"`
	// FlipP flips an image horizontally before rotating it (0: never).
	FlipP float64 `yaml:"flip_p" json:"flip_p"`
	// SkipNonFinite skips (and counts) steps whose loss or gradient norm
	// is NaN or Inf.
	SkipNonFinite bool `yaml:"skip_nonfinite" json:"skip_nonfinite"`
}

// FashionMNISTNorm is Fashion-MNIST's pixel mean and std.
var FashionMNISTNorm = sslkit.FashionMNISTNorm

func model(c *train.Config) *Model       { return c.Model.(*Model) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// defaults is RotNet's ImageNet recipe (Gidaris et al. 2018, section 3.1
// and the released code): all four rotations of each image in a batch of
// 192 images, SGD lr 0.01, momentum 0.9, weight decay 5e-4, 30 epochs
// (about 200k steps; the paper's step decay at epochs 10, 20, 25 is a
// cosine here). ResNet-18 replaces their AlexNet/NIN.
func defaults() train.Config {
	return train.Config{
		Method: "rotation", Seed: 42, Device: "auto",
		Data:  train.DataConfig{Modality: data.Image, Batch: 192, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &Model{Arch: nn.Arch{Name: "resnet18", InChannels: 3}},
		Optim: train.OptimConfig{Name: "sgd", LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3},
		Schedule:   train.ScheduleConfig{Steps: 200000, WarmupSteps: 0, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 2000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings: &Settings{Input: Input{Size: 224, Channels: 3, Normalize: augment.ImageNet},
			AllRotations: true, FlipP: 0.5, SkipNonFinite: true},
	}
}

// fmnist is the Fashion-MNIST CPU setting: the ConvNet of BYOL's CPU
// presets (so the probe compares like with like) on 28 px gray images,
// RotNet's CIFAR optimizer (SGD lr 0.1, momentum 0.9, weight decay 5e-4)
// on batches of 64 images x 4 rotations.
func fmnist(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	s.Input = Input{Size: 28, Channels: 1, Normalize: FashionMNISTNorm}
	s.FlipP = 0.5
	sslkit.PretextCPU(c, 64, 1080)
	c.Optim = train.OptimConfig{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3}
}

var presets = []train.Preset{
	{Name: "default", Summary: "ResNet-18, 224 px, all four rotations of 192 images per batch, SGD 0.01, 200k steps",
		Source: "RotNet ImageNet recipe (Gidaris et al. 2018, sec. 3.1 and their released config)"},
	{Name: "cifar", Summary: "ResNet-18 with the CIFAR stem on 32 px images, batch 128, SGD 0.1, 100 epochs of 50k images",
		Source: "RotNet CIFAR-10 recipe (Gidaris et al. 2018: SGD 0.1, momentum 0.9, wd 5e-4, batch 128, 100 epochs)", Apply: func(c *train.Config) {
			model(c).Arch = nn.Arch{Name: "resnet18-cifar", InChannels: 3}
			settings(c).Input = Input{Size: 32, Channels: 3, Normalize: augment.Normalize{Mean: []float64{0.4914, 0.4822, 0.4465}, Std: []float64{0.2470, 0.2435, 0.2616}}}
			c.Data.Batch = 128
			c.Optim.LR = 0.1
			c.Schedule.Steps = 39100
		}},
	{Name: "fmnist", Summary: "the pretext comparison's CPU run: BYOL's ConvNet (32-64-128, 2x2 pool) on Fashion-MNIST, 64 images x 4 rotations, 1,080 steps (10 CPU minutes, benchmarks/pretext)",
		Source: "RotNet CIFAR optimizer (SGD 0.1, momentum 0.9, wd 5e-4); steps from the CPU timing in benchmarks/RESULTS.md (Pretext tasks)", Apply: fmnist},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fmnist, shrunk", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{8, 16}
			sslkit.Smoke(c, 16)
		}},
}

// validate checks the method's blocks.
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	in := s.Input
	if err := in.Check("rotation", m.Arch); err != nil {
		return err
	}
	if !(s.FlipP >= 0 && s.FlipP <= 1) {
		return fmt.Errorf("rotation: flip_p %v outside [0, 1]", s.FlipP)
	}
	if c.Data.Batch < 2 && !s.AllRotations {
		return fmt.Errorf("rotation: data.batch %d: BatchNorm needs at least 2 inputs", c.Data.Batch)
	}
	return in.Normalize.Validate()
}
