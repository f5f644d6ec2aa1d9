package dino

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
)

// ModelConfig is DINO's model block: the backbone (the teacher's copy
// without stochastic depth) and the DINO head.
type ModelConfig struct {
	Arch nn.Arch    `yaml:"arch" json:"arch"`
	Head HeadConfig `yaml:"head" json:"head"`
}

// HeadConfig sizes the DINO head: Layers GELU MLP layers (Hidden wide) to the
// Bottleneck, L2 normalization, and the weight-normalized last layer to
// OutDim prototypes, its norm fixed to 1 when NormLastLayer.
type HeadConfig struct {
	OutDim        int64 `yaml:"out_dim" json:"out_dim"`
	Hidden        int64 `yaml:"hidden" json:"hidden"`
	Bottleneck    int64 `yaml:"bottleneck" json:"bottleneck"`
	Layers        int   `yaml:"layers" json:"layers"`
	NormLastLayer bool  `yaml:"norm_last_layer" json:"norm_last_layer"`
}

// Settings is DINO's own block. The learning rate follows the shared
// schedule; the weight decay rises along a cosine from optim.weight_decay
// to WeightDecayEnd over the run; the teacher's momentum follows
// Momentum; the teacher temperature warm-up and the last layer's freeze
// are counted in epochs of the training data (fractions allowed), which
// a run shorter than its preset scales with its length.
type Settings struct {
	StudentTemp             float64           `yaml:"student_temp" json:"student_temp"`
	TeacherTemp             float64           `yaml:"teacher_temp" json:"teacher_temp"`
	WarmupTeacherTemp       float64           `yaml:"warmup_teacher_temp" json:"warmup_teacher_temp"`
	WarmupTeacherTempEpochs float64           `yaml:"warmup_teacher_temp_epochs" json:"warmup_teacher_temp_epochs"`
	CenterMomentum          float64           `yaml:"center_momentum" json:"center_momentum"`
	FreezeLastLayerEpochs   float64           `yaml:"freeze_last_layer_epochs" json:"freeze_last_layer_epochs"`
	ClipGrad                float64           `yaml:"clip_grad" json:"clip_grad"` // per-parameter gradient norm clip (0: off)
	WeightDecayEnd          float64           `yaml:"weight_decay_end" json:"weight_decay_end"`
	Momentum                train.TauSchedule `yaml:"momentum" json:"momentum"`
	// Augment is the multi-crop recipe: two global views of one size
	// first (the teacher's), then any local views.
	Augment augment.Recipe `yaml:"augment" json:"augment"`
}

func model(c *train.Config) *ModelConfig { return c.Model.(*ModelConfig) }
func settings(c *train.Config) *Settings { return c.Settings.(*Settings) }

// config is the model's Config from the blocks.
func config(c *train.Config) Config {
	h, s := model(c).Head, settings(c)
	return Config{OutDim: h.OutDim, HiddenDim: h.Hidden, Bottleneck: h.Bottleneck, HeadLayers: h.Layers, NormLastLayer: h.NormLastLayer,
		StudentTemp: s.StudentTemp, TeacherTemp: s.TeacherTemp, WarmupTeacherTemp: s.WarmupTeacherTemp,
		WarmupTeacherTempEpochs: s.WarmupTeacherTempEpochs, CenterMomentum: s.CenterMomentum,
		FreezeLastLayerEpochs: s.FreezeLastLayerEpochs, ClipGrad: s.ClipGrad}
}

// defaults is DINO's ViT-S/16 recipe (main_dino.py and the README) at
// batch 256: AdamW lr 5e-4 x batch/256 with 10 warm-up epochs and a cosine
// to 1e-6, weight decay 0.04 -> 0.4, teacher momentum 0.996 -> 1, 65536
// prototypes, teacher temperature 0.04 -> 0.07 over 30 epochs, the last
// layer frozen for one epoch, per-parameter clipping at 3, drop path 0.1
// in the student, multi-crop 2 x 224 px + 8 x 96 px; 100 ImageNet epochs
// of 5,004 steps.
func defaults() train.Config {
	return train.Config{
		Method: "dino", Seed: 42, Device: "auto",
		Data: train.DataConfig{Modality: data.Image, Batch: 256, Prefetch: 2, MaxErrors: train.DefaultMaxErrors},
		Model: &ModelConfig{Arch: nn.Arch{Name: "vit-small", InChannels: 3, ImageSize: 224, Patch: 16, DropPath: 0.1},
			Head: HeadConfig{OutDim: 65536, Hidden: 2048, Bottleneck: 256, Layers: 3, NormLastLayer: true}},
		Optim: train.OptimConfig{Name: "adamw", LR: 5e-4, ScaleLR: true, WeightDecay: 0.04, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
			Momentum: 0.9, Eta: 1e-3, ExcludeBiasNorm: true},
		Schedule:   train.ScheduleConfig{Steps: 500400, WarmupSteps: 50040, Kind: "cosine", FinalLR: 1e-6},
		Checkpoint: train.CheckpointConfig{Every: 5000, Keep: 3},
		Log:        train.LogConfig{Every: 50},
		Monitor:    train.MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
		Settings: &Settings{StudentTemp: 0.1, TeacherTemp: 0.07, WarmupTeacherTemp: 0.04, WarmupTeacherTempEpochs: 30,
			CenterMomentum: 0.9, FreezeLastLayerEpochs: 1, ClipGrad: 3, WeightDecayEnd: 0.4,
			Momentum: train.TauSchedule{Kind: "cosine", Base: 0.996, End: 1}, Augment: augment.DINO(224, 96, 8)},
	}
}

// fmnist is the common part of the Fashion-MNIST CPU presets: BYOL's
// ConvNet, a CPU-sized head, multi-crop with 28-pixel global and
// 12-pixel local views, AdamW.
func fmnist(c *train.Config) {
	m, s := model(c), settings(c)
	m.Arch = nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	m.Head = HeadConfig{OutDim: 2048, Hidden: 512, Bottleneck: 128, Layers: 3, NormLastLayer: true}
	s.Augment = sslkit.FashionMNISTMultiCrop("dino-fmnist", 0.4, 4, 12, [2]float64{0.1, 0.4})
	s.Momentum = train.TauSchedule{Kind: "cosine", Base: 0.99, End: 1}
	s.WarmupTeacherTempEpochs, s.FreezeLastLayerEpochs = 0.5, 0.1
	s.WeightDecayEnd = 1e-4
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
	{Name: "default", Summary: "ViT-S/16, multi-crop 2 x 224 + 8 x 96 px, AdamW, 100 ImageNet epochs at batch 256",
		Source: "DINO main_dino.py defaults and README ViT-S/16 recipe (Caron et al. 2021)"},
	{Name: "cifar", Summary: "ResNet-18 with the CIFAR stem on 32 px, LARS, two crops, 1000 epochs of CIFAR-10",
		Source: "solo-learn scripts/pretrain/cifar/dino.yaml and solo/methods/dino.py defaults (LARS without clip_lr)", Apply: func(c *train.Config) {
			model(c).Arch = nn.Arch{Name: "resnet18-cifar", InChannels: 3}
			model(c).Head = HeadConfig{OutDim: 4096, Hidden: 2048, Bottleneck: 256, Layers: 3, NormLastLayer: true}
			s := settings(c)
			s.Augment = sslkit.CIFARAsymmetric()
			s.Momentum.Base = 0.9995
			s.WarmupTeacherTempEpochs, s.ClipGrad = 50, 0
			c.Optim = train.OptimConfig{Name: "lars", LR: 0.3, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-6, Eta: 0.02,
				Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true}
			s.WeightDecayEnd = 1e-6
			c.Schedule = train.ScheduleConfig{Steps: 195000, WarmupSteps: 1950, Kind: "cosine"}
		}},
	{Name: "fmnist-quick", Summary: "small ConvNet on Fashion-MNIST with multi-crop, 200 steps (a few minutes on 2 CPU cores)",
		Source: "CPU recipe (benchmarks/imgmethods/EXPERIMENTS.md)", Apply: fmnist},
	{Name: "fmnist-reproduce", Summary: "the Fashion-MNIST comparison's run: teacher temperature 0.04 throughout, AdamW 1e-3, 3,300 steps (`make reproduce` cuts it to its CPU budget)",
		Source: "fmnist-quick with main_dino.py's teacher temperature 0.04 held (0.07 flattened the teacher on small nets) and the last layer frozen 0.3 epoch (benchmarks/imgmethods/EXPERIMENTS.md, pilot dino-p1)", Apply: func(c *train.Config) {
			fmnist(c)
			s := settings(c)
			s.TeacherTemp, s.WarmupTeacherTemp, s.FreezeLastLayerEpochs = 0.04, 0.04, 0.3
			c.Optim.LR = 1e-3
			sslkit.FashionMNISTReproduce(c, &model(c).Arch, &s.Augment, 100)
		}},
	{Name: "smoke", Summary: "the smallest network and input: 20 steps in seconds on 2 CPU cores, to check a set-up",
		Source: "fmnist-quick, shrunk", Apply: func(c *train.Config) {
			fmnist(c)
			model(c).Arch.Widths = []int64{8, 16}
			model(c).Head = HeadConfig{OutDim: 64, Hidden: 32, Bottleneck: 16, Layers: 3, NormLastLayer: true}
			settings(c).Augment = sslkit.FashionMNISTMultiCrop("dino-smoke", 0.4, 2, 12, [2]float64{0.1, 0.4})
			sslkit.Smoke(c, 32)
		}},
}

// validate checks DINO's blocks.
func validate(c *train.Config) error {
	s := settings(c)
	if err := config(c).Validate(); err != nil {
		return err
	}
	if err := s.Momentum.Validate(); err != nil {
		return fmt.Errorf("dino: momentum: %w", err)
	}
	if !(s.WeightDecayEnd >= 0) {
		return fmt.Errorf("dino: weight_decay_end %v must be >= 0", s.WeightDecayEnd)
	}
	if c.Optim.ClipGradNorm != 0 {
		return fmt.Errorf("dino: optim.clip_grad_norm %v: DINO clips each parameter's gradient (dino.clip_grad); set optim.clip_grad_norm 0", c.Optim.ClipGradNorm)
	}
	if err := sslkit.ValidateViews("dino", c, model(c).Arch, s.Augment, 2, true); err != nil {
		return err
	}
	if g1, g2 := s.Augment.ViewSpec(0), s.Augment.ViewSpec(1); g1.Size != g2.Size {
		return fmt.Errorf("dino: the two global views (the recipe's first two) must have one size, got %d and %d", g1.Size, g2.Size)
	}
	return nil
}

// scale shortens the epoch-counted schedules (teacher temperature
// warm-up, last-layer freeze) in proportion to a run shorter than its
// preset, so that they take the same fraction of it.
func scale(c *train.Config, f float64) []string {
	s := settings(c)
	var notes []string
	if w := s.WarmupTeacherTempEpochs; w > 0 {
		s.WarmupTeacherTempEpochs = w * f
		notes = append(notes, fmt.Sprintf("dino: teacher temperature warm-up scaled from %g to %.4g epochs", w, s.WarmupTeacherTempEpochs))
	}
	if e := s.FreezeLastLayerEpochs; e > 0 {
		s.FreezeLastLayerEpochs = e * f
		notes = append(notes, fmt.Sprintf("dino: last-layer freeze scaled from %g to %.4g epochs", e, s.FreezeLastLayerEpochs))
	}
	return notes
}
