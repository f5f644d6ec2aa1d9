package inpainting

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

// Model is the model block: the encoder backbone and the decoder that
// reconstructs the image from the backbone's features.
type Model struct {
	Arch    nn.Arch `yaml:"arch" json:"arch"`
	Decoder Decoder `yaml:"decoder" json:"decoder"`
}

// Decoder maps the backbone's feature vector to an image: a linear layer
// (the context encoder's channel-wise fully connected bottleneck) to
// Channels[0] maps of Grid x Grid, then per further entry of Channels a
// 2x bicubic upsampling, a 3x3 convolution, BatchNorm and ReLU, and a
// final 3x3 convolution to the image channels. The output side is
// Grid * 2^(len(Channels)-1) and must equal the input size.
type Decoder struct {
	Grid     int     `yaml:"grid" json:"grid"`
	Channels []int64 `yaml:"channels,flow" json:"channels"`
}

// Input is what the network takes: Channels x Size x Size images
// (converted and resized bilinearly when the data differ), normalized;
// the reconstruction target is the same image.
type Input = sslkit.Input

// Settings is the method's own block.
type Settings struct {
	Input Input `yaml:"input" json:"input"`
	// Mask is the region hidden from the encoder (augment.Inpaint:
	// random rectangles up to a coverage, or the central square with an
	// overlap ring).
	Mask augment.Inpaint `yaml:"mask" json:"mask"`
	// OverlapWeight is the loss weight of the center mask's overlap ring
	// (visible in the input, still reconstructed): 10 in the context
	// encoder.
	OverlapWeight float64 `yaml:"overlap_weight" json:"overlap_weight"`
	// FlipP flips an image horizontally before masking (0: never).
	FlipP float64 `yaml:"flip_p" json:"flip_p"`
	// SkipNonFinite skips (and counts) steps whose loss or gradient norm
	// is NaN or Inf.
	SkipNonFinite bool `yaml:"skip_nonfinite" json:"skip_nonfinite"`
}

// FashionMNISTNorm is Fashion-MNIST's pixel mean and std.
var FashionMNISTNorm = sslkit.FashionMNISTNorm

func model(c *train.Config) *Model       { return c.Model.(*Model) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// defaults is the context encoder's feature-learning setting (Pathak et
// al. 2016): 128 px inputs, random-region masks covering up to a quarter
// of the image filled with the mean pixel, an L2 reconstruction loss on
// the masked pixels, Adam lr 2e-4 (beta1 0.5), batch 64. ResNet-18
// replaces their AlexNet encoder; the decoder upsamples with
// resize-convolutions instead of transposed convolutions; the
// adversarial term of their joint loss (weight 0.001, for sharp
// inpainting) is left out.
func defaults() train.Config {
	return train.Config{
		Method: "inpainting", Seed: 42, Device: "auto",
		Data: train.DataConfig{Modality: data.Image, Batch: 64, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &Model{Arch: nn.Arch{Name: "resnet18", InChannels: 3},
			Decoder: Decoder{Grid: 4, Channels: []int64{512, 256, 128, 64, 64, 32}}},
		Optim:      train.OptimConfig{Name: "adamw", LR: 2e-4, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8, Momentum: 0.9, Eta: 1e-3},
		Schedule:   train.ScheduleConfig{Steps: 100000, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 2000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings: &Settings{Input: Input{Size: 128, Channels: 3, Normalize: augment.ImageNet},
			Mask:          augment.Inpaint{Kind: augment.InpaintRandom, Coverage: 0.25},
			OverlapWeight: 10, FlipP: 0.5, SkipNonFinite: true},
	}
}

// fmnist is the Fashion-MNIST CPU setting: BYOL's ConvNet as the encoder,
// a decoder from 7x7 to 28x28, random rectangles (sides 3-11 px) covering
// a quarter of the image filled with the Fashion-MNIST mean pixel (73),
// the context encoder's Adam (lr 2e-4 scaled to 1e-3 for the short CPU
// run, beta1 0.5).
func fmnist(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	m.Decoder = Decoder{Grid: 7, Channels: []int64{64, 32, 16}}
	s.Input = Input{Size: 28, Channels: 1, Normalize: FashionMNISTNorm}
	s.Mask = augment.Inpaint{Kind: augment.InpaintRandom, Coverage: 0.25, Fill: []uint8{73}}
	s.FlipP = 0.5
	sslkit.PretextCPU(c, 128, 750)
	c.Optim = train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8, Momentum: 0.9, Eta: 1e-3}
}

var presets = []train.Preset{
	{Name: "default", Summary: "ResNet-18 encoder, 128 px, random-region masks (a quarter of the image), L2 on masked pixels, Adam 2e-4, batch 64",
		Source: "Pathak et al. 2016 context encoders (random-region masks, L2 reconstruction, Adam lr 2e-4 beta1 0.5, batch 64); adversarial term omitted"},
	{Name: "center", Summary: "default with the central 64 x 64 square masked, a 4-pixel overlap ring weighted 10x",
		Source: "Pathak et al. 2016 central-region setting (overlapPred 4, ring weight 10)", Apply: func(c *train.Config) {
			settings(c).Mask = augment.Inpaint{Kind: augment.InpaintCenter, Fraction: 0.5, Overlap: 4}
		}},
	{Name: "fmnist", Summary: "the pretext comparison's CPU run: BYOL's ConvNet encoder, 28 px Fashion-MNIST, random rectangles covering 25%, 750 steps (10 CPU minutes) (benchmarks/pretext)",
		Source: "Pathak et al. 2016 random-region setting at 28 px; Adam beta1 0.5 at lr 1e-3; steps from the CPU timing in benchmarks/RESULTS.md (Pretext tasks)", Apply: fmnist},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fmnist, shrunk", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{8, 16}
			model(c).Decoder = Decoder{Grid: 7, Channels: []int64{8, 8, 8}}
			sslkit.Smoke(c, 16)
		}},
}

// validate checks the method's blocks.
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	in := s.Input
	if err := in.Check("inpainting", m.Arch); err != nil {
		return err
	}
	d := m.Decoder
	if d.Grid < 1 || len(d.Channels) == 0 || len(d.Channels) > 12 {
		return fmt.Errorf("inpainting: decoder grid %d and %d channel stages: want grid >= 1 and 1 to 12 stages", d.Grid, len(d.Channels))
	}
	for _, ch := range d.Channels {
		if ch < 1 {
			return fmt.Errorf("inpainting: decoder channels %v must be positive", d.Channels)
		}
	}
	if out := d.Grid << (len(d.Channels) - 1); out != in.Size {
		return fmt.Errorf("inpainting: the decoder makes %d px images (grid %d, %d upsamplings) but the input is %d px", out, d.Grid, len(d.Channels)-1, in.Size)
	}
	if err := s.Mask.Validate(); err != nil {
		return fmt.Errorf("inpainting: %w", err)
	}
	if !(s.OverlapWeight > 0) || !(s.FlipP >= 0 && s.FlipP <= 1) {
		return fmt.Errorf("inpainting: overlap_weight %v must be > 0 and flip_p %v in [0, 1]", s.OverlapWeight, s.FlipP)
	}
	if c.Data.Batch < 2 {
		return fmt.Errorf("inpainting: data.batch %d: BatchNorm needs at least 2", c.Data.Batch)
	}
	return in.Normalize.Validate()
}
