package jigsaw

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

// Model is the model block: the backbone every tile goes through (shared
// weights: Noroozi & Favaro's context-free network), the per-tile layer
// (fc6) and the joint layer (fc7) before the permutation classifier.
type Model struct {
	Arch nn.Arch `yaml:"arch" json:"arch"`
	// Tile is the width of the per-tile layer (Linear + ReLU on each
	// tile's backbone features; 1024 in the paper).
	Tile int64 `yaml:"tile" json:"tile"`
	// Joint is the width of the layer on the concatenated tiles (4096).
	Joint int64 `yaml:"joint" json:"joint"`
}

// Input is what the backbone takes at evaluation (the whole image):
// Channels x Size x Size, normalized. Puzzles are cut from the image
// converted to Channels and resized to Size.
type Input = sslkit.Input

// Settings is the method's own block.
type Settings struct {
	Input Input `yaml:"input" json:"input"`
	// Puzzle is the geometry (augment.Jigsaw: grid, window, tile).
	Puzzle augment.Jigsaw `yaml:"puzzle" json:"puzzle"`
	// Permutations is the number of tile orders (the classes), chosen
	// from the run's seed by maximal Hamming distance (Criterion:
	// augment.MaxMinHamming or augment.MeanHamming) and saved as
	// RUN/permutations.json.
	Permutations int    `yaml:"permutations" json:"permutations"`
	Criterion    string `yaml:"criterion" json:"criterion"`
	// TileNorm normalizes every tile to zero mean and unit standard
	// deviation on its own (the paper's guard against matching tiles by
	// their low-level statistics); false applies Input.Normalize.
	TileNorm bool `yaml:"tile_norm" json:"tile_norm"`
	// SkipNonFinite skips (and counts) steps whose loss or gradient norm
	// is NaN or Inf.
	SkipNonFinite bool `yaml:"skip_nonfinite" json:"skip_nonfinite"`
}

// FashionMNISTNorm is Fashion-MNIST's pixel mean and std.
var FashionMNISTNorm = sslkit.FashionMNISTNorm

func model(c *train.Config) *Model       { return c.Model.(*Model) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// defaults is Noroozi & Favaro's ImageNet recipe (2016, sec. 3-4): images
// resized to 256, a 225 x 225 window cut into 3 x 3 cells of 75 with a
// 64 x 64 tile at a random offset in each, 1,000 permutations of maximal
// Hamming distance, each tile normalized on its own, fc6 1024 per tile,
// fc7 4096, batch 256, lr 0.01, 350k iterations. ResNet-18 replaces their
// AlexNet trunk.
func defaults() train.Config {
	return train.Config{
		Method: "jigsaw", Seed: 42, Device: "auto",
		Data:  train.DataConfig{Modality: data.Image, Batch: 256, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &Model{Arch: nn.Arch{Name: "resnet18", InChannels: 3}, Tile: 1024, Joint: 4096},
		Optim: train.OptimConfig{Name: "sgd", LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3},
		Schedule:   train.ScheduleConfig{Steps: 350000, Kind: "cosine"},
		Checkpoint: train.CheckpointConfig{Every: 2000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings: &Settings{Input: Input{Size: 256, Channels: 3, Normalize: augment.ImageNet},
			Puzzle: augment.DefaultJigsaw, Permutations: 1000, Criterion: augment.MaxMinHamming,
			TileNorm: true, SkipNonFinite: true},
	}
}

// fmnist is the Fashion-MNIST CPU setting. The paper's geometry scaled to
// 28 px: a 27 x 27 window (of the 28 x 28 image) in 3 x 3 cells of 9 with
// an 8 x 8 tile in each (8/9 of a cell, the paper's 64/75 = 0.85 being
// the nearest ratio that leaves a 1-pixel jitter), so that the ConvNet's
// two 2x2 pools take a tile to the 2 x 2 grid its features average over.
// 100 permutations (the paper's smallest set in its Table 2), fc6 256,
// fc7 512, and the optimizer of the rotation comparison (SGD 0.1).
func fmnist(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	m.Tile, m.Joint = 256, 512
	s.Input = Input{Size: 28, Channels: 1, Normalize: FashionMNISTNorm}
	s.Puzzle = augment.Jigsaw{Grid: 3, Crop: 27, Tile: 8}
	s.Permutations = 100
	sslkit.PretextCPU(c, 128, 2180)
	c.Optim = train.OptimConfig{Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3}
}

var presets = []train.Preset{
	{Name: "default", Summary: "ResNet-18 trunk per 64 px tile of a 225 px window, 1,000 permutations, SGD 0.01, 350k steps",
		Source: "Noroozi & Favaro 2016 (sec. 3-4: 3x3 tiles of 64 in cells of 75, 1000 permutations, per-tile normalization, batch 256, lr 0.01, 350k iterations)"},
	{Name: "fmnist", Summary: "the pretext comparison's CPU run: BYOL's ConvNet on 8 px tiles of a 27 px window of Fashion-MNIST, 100 permutations, 2,180 steps (10 CPU minutes) (benchmarks/pretext)",
		Source: "Noroozi & Favaro 2016 scaled to 28 px (tile/cell 8/9, 100 permutations); SGD as the rotation comparison; steps from the CPU timing in benchmarks/RESULTS.md (Pretext tasks)", Apply: fmnist},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fmnist, shrunk", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{8, 16}
			model(c).Tile, model(c).Joint = 16, 32
			settings(c).Permutations = 10
			sslkit.Smoke(c, 16)
		}},
}

// validate checks the method's blocks.
func validate(c *train.Config) error {
	m, s := model(c), settings(c)
	in := s.Input
	if err := in.Check("jigsaw", m.Arch); err != nil {
		return err
	}
	if m.Tile <= 0 || m.Joint <= 0 {
		return fmt.Errorf("jigsaw: model.tile %d and model.joint %d must be positive", m.Tile, m.Joint)
	}
	if err := s.Puzzle.Validate(); err != nil {
		return fmt.Errorf("jigsaw: %w", err)
	}
	if s.Puzzle.Crop > in.Size {
		return fmt.Errorf("jigsaw: puzzle window %d is larger than the %d px input", s.Puzzle.Crop, in.Size)
	}
	if s.Criterion != augment.MaxMinHamming && s.Criterion != augment.MeanHamming {
		return fmt.Errorf("jigsaw: criterion %q: want %s or %s", s.Criterion, augment.MaxMinHamming, augment.MeanHamming)
	}
	n := s.Puzzle.Grid * s.Puzzle.Grid
	total := 1
	for i := 2; i <= n; i++ {
		total *= i
	}
	if s.Permutations < 2 || s.Permutations > total || s.Permutations > 10000 {
		return fmt.Errorf("jigsaw: permutations %d: want 2 to %d (all orders of %d tiles, at most 10000)", s.Permutations, min(total, 10000), n)
	}
	if c.Data.Batch < 2 {
		return fmt.Errorf("jigsaw: data.batch %d: BatchNorm needs at least 2 puzzles", c.Data.Batch)
	}
	return in.Normalize.Validate()
}
