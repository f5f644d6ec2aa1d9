package colorization

import (
	"fmt"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

// Model is the model block: the backbone that encodes the lightness and
// the head that predicts every output pixel's distribution over the ab
// bins.
type Model struct {
	// Arch takes one channel (the lightness).
	Arch nn.Arch `yaml:"arch" json:"arch"`
	// Head maps the backbone's features to Width maps of the output grid
	// (a linear layer), then a 3x3 convolution-BatchNorm-ReLU and a 1x1
	// convolution to the bins.
	Head int64 `yaml:"head" json:"head"`
}

// Settings is the method's own block.
type Settings struct {
	// Size is the side of the network's input (the lightness of a crop);
	// the targets are on a grid of Size/Downsample (Zhang et al. predict
	// at a quarter of the input's resolution).
	Size       int `yaml:"size" json:"size"`
	Downsample int `yaml:"downsample" json:"downsample"`
	// Scale and Ratio are the random crop (torchvision's
	// RandomResizedCrop parameters; scale [1, 1] and ratio [1, 1] take the
	// whole image), resized bilinearly to Size; FlipP flips it.
	Scale [2]float64 `yaml:"scale,flow" json:"scale"`
	Ratio [2]float64 `yaml:"ratio,flow" json:"ratio"`
	FlipP float64    `yaml:"flip_p" json:"flip_p"`
	// Grid is the ab bin size (10: the in-gamut bins of
	// augment.GamutABBins).
	Grid float64 `yaml:"grid" json:"grid"`
	// Neighbours and Sigma soft-encode each target pixel over its nearest
	// bins with Gaussian weights (5 and 5 in the paper).
	Neighbours int     `yaml:"neighbours" json:"neighbours"`
	Sigma      float64 `yaml:"sigma" json:"sigma"`
	// Rebalance is the class rebalancing: weights from the smoothed bin
	// distribution of a data pass over Images training images (evenly
	// spaced, each cropped as in epoch 0), mixed with the uniform one by
	// Lambda, smoothed with Sigma (0.5 and 5 in the paper); saved as
	// RUN/colorization.json.
	Rebalance Rebalance `yaml:"rebalance" json:"rebalance"`
	// SkipNonFinite skips (and counts) steps whose loss or gradient norm
	// is NaN or Inf.
	SkipNonFinite bool `yaml:"skip_nonfinite" json:"skip_nonfinite"`
}

// Rebalance configures the class rebalancing weights.
type Rebalance struct {
	Images int     `yaml:"images" json:"images"`
	Lambda float64 `yaml:"lambda" json:"lambda"`
	Sigma  float64 `yaml:"sigma" json:"sigma"`
}

func model(c *train.Config) *Model       { return c.Model.(*Model) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// defaults is Zhang, Isola & Efros's recipe (2016, sec. 2-3): 224 px
// inputs, targets at a quarter resolution, ab bins of 10 in the sRGB
// gamut, 5-nearest-bin soft encoding (sigma 5), class rebalancing with
// lambda 0.5 and sigma 5, Adam lr 3e-5 (betas 0.9, 0.99), weight decay
// 1e-3, batch 40, about 450k iterations. ResNet-18 replaces their VGG-style
// network, and the 313 released bins are the 309 computed in-gamut ones.
func defaults() train.Config {
	return train.Config{
		Method: "colorization", Seed: 42, Device: "auto",
		Data:       train.DataConfig{Modality: data.Image, Batch: 40, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model:      &Model{Arch: nn.Arch{Name: "resnet18", InChannels: 1}, Head: 256},
		Optim:      train.OptimConfig{Name: "adamw", LR: 3e-5, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 1e-3, Momentum: 0.9, Eta: 1e-3},
		Schedule:   train.ScheduleConfig{Steps: 450000, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 2000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings: &Settings{Size: 224, Downsample: 4, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, FlipP: 0.5,
			Grid: 10, Neighbours: 5, Sigma: 5, Rebalance: Rebalance{Images: 10000, Lambda: 0.5, Sigma: 5}, SkipNonFinite: true},
	}
}

// photos28 is the comparison's CPU setting: BYOL's ConvNet on the
// lightness of 28 px crops of colour photos, targets on the 7 x 7 grid.
// Fashion-MNIST is gray (every pixel's ab is 0: one bin, nothing to
// predict), so this preset trains on colour images given with --data and
// is probed on Fashion-MNIST's lightness like the other methods.
func photos28(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	m.Head = 64
	s.Size, s.Downsample = 28, 4
	s.Scale, s.Ratio = [2]float64{0.1, 0.6}, [2]float64{3.0 / 4, 4.0 / 3}
	s.Rebalance.Images = 1000
	sslkit.PretextCPU(c, 64, 3030)
	c.Data.Spec = "" // colour photos, given with --data
	c.Optim = train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 1e-3, Momentum: 0.9, Eta: 1e-3}
}

var presets = []train.Preset{
	{Name: "default", Summary: "ResNet-18 on the lightness of 224 px crops, 309 ab bins, rebalanced soft-encoded cross-entropy, Adam 3e-5, batch 40",
		Source: "Zhang, Isola & Efros 2016 (sec. 2-3: grid 10, 5-NN soft encoding sigma 5, rebalancing lambda 0.5 sigma 5, Adam 3e-5 betas 0.9/0.99 wd 1e-3, batch 40)"},
	{Name: "photos28", Summary: "the pretext comparison's CPU run: BYOL's ConvNet on 28 px crops of colour photos (--data), 7x7 targets, 3,030 steps (10 CPU minutes); probe Fashion-MNIST (benchmarks/pretext)",
		Source: "Zhang et al. 2016's loss and rebalancing at 28 px; Adam at lr 1e-3 for the short CPU run; steps from the CPU timing in benchmarks/RESULTS.md (Pretext tasks)", Apply: photos28},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "photos28, shrunk", Apply: func(c *train.Config) {
			photos28(c)
			model(c).Arch.Widths = []int64{8, 16}
			model(c).Head = 8
			settings(c).Rebalance.Images = 64
			sslkit.Smoke(c, 16)
		}},
}

// validate checks the method's blocks.
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	if m.Arch.InChannels != 1 {
		return fmt.Errorf("colorization: model.arch.in_channels is %d: the network sees the lightness only (1)", m.Arch.InChannels)
	}
	if m.Head < 1 {
		return fmt.Errorf("colorization: model.head %d must be positive", m.Head)
	}
	if s.Size < 8 || s.Size > 4096 || s.Downsample < 1 || s.Size%s.Downsample != 0 {
		return fmt.Errorf("colorization: size %d must be in [8, 4096] and a multiple of downsample %d", s.Size, s.Downsample)
	}
	if !(s.Scale[0] > 0 && s.Scale[0] <= s.Scale[1] && s.Scale[1] <= 1) || !(s.Ratio[0] > 0 && s.Ratio[0] <= s.Ratio[1]) {
		return fmt.Errorf("colorization: crop scale %v must be in (0, 1] and ratio %v positive, each ordered", s.Scale, s.Ratio)
	}
	if !(s.FlipP >= 0 && s.FlipP <= 1) {
		return fmt.Errorf("colorization: flip_p %v outside [0, 1]", s.FlipP)
	}
	if !(s.Grid >= 1 && s.Grid <= 128) || s.Neighbours < 1 || s.Neighbours > 16 || !(s.Sigma > 0) {
		return fmt.Errorf("colorization: grid %v must be in [1, 128], neighbours %d in [1, 16] and sigma %v > 0", s.Grid, s.Neighbours, s.Sigma)
	}
	r := s.Rebalance
	if r.Images < 1 || !(r.Lambda > 0 && r.Lambda <= 1) || !(r.Sigma > 0) {
		return fmt.Errorf("colorization: rebalance images %d must be >= 1, lambda %v in (0, 1] and sigma %v > 0", r.Images, r.Lambda, r.Sigma)
	}
	if c.Data.Batch < 2 {
		return fmt.Errorf("colorization: data.batch %d: BatchNorm needs at least 2", c.Data.Batch)
	}
	return nil
}
