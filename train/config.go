package train

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sslpipe/sslpipe/augment"
)

// Config is every option of a training run. config.yaml in a run folder
// is this struct; DefaultConfig and Preset fill it, LoadConfig reads it,
// command-line flags override single fields.
type Config struct {
	Method string `yaml:"method" json:"method"` // byol
	Preset string `yaml:"preset" json:"preset"`
	Seed   uint64 `yaml:"seed" json:"seed"`
	// Device is auto (CUDA when available), cpu, cuda or cuda:N.
	Device string `yaml:"device" json:"device"`
	// BF16 runs convolutions and linear layers in bfloat16 on CUDA
	// (autocast); ignored on the CPU.
	BF16    bool `yaml:"bf16" json:"bf16"`
	Threads int  `yaml:"threads" json:"threads"` // libtorch intra-op threads (0: all cores)

	Arch  Arch       `yaml:"arch" json:"arch"`
	Heads Heads      `yaml:"heads" json:"heads"`
	Data  DataConfig `yaml:"data" json:"data"`

	Batch int   `yaml:"batch" json:"batch"`
	Steps int64 `yaml:"steps" json:"steps"`

	Optim       OptimConfig `yaml:"optim" json:"optim"`
	WarmupSteps int64       `yaml:"warmup_steps" json:"warmup_steps"`
	FinalLR     float64     `yaml:"final_lr" json:"final_lr"`
	Tau         TauSchedule `yaml:"tau" json:"tau"`

	Checkpoint CheckpointConfig `yaml:"checkpoint" json:"checkpoint"`
	LogEvery   int64            `yaml:"log_every" json:"log_every"`
	Monitor    MonitorConfig    `yaml:"monitor" json:"monitor"`
	Dir        string           `yaml:"dir" json:"dir"` // run folder
}

// CheckpointConfig says when checkpoints are written and how many kept.
type CheckpointConfig struct {
	Every int64 `yaml:"every" json:"every"` // steps (0: only at the end and on interrupt)
	Keep  int   `yaml:"keep" json:"keep"`   // newest kept (0: 3)
}

// MonitorConfig is the online kNN monitor: every Every steps the teacher
// backbone embeds Train labelled and Test labelled images (taken from the
// sets named, e.g. fashion-mnist:train / fashion-mnist:test) and the
// weighted kNN top-1 (K, T) is logged as knn_top1.
type MonitorConfig struct {
	Every  int64   `yaml:"every" json:"every"` // 0: off
	Train  string  `yaml:"train" json:"train"`
	Test   string  `yaml:"test" json:"test"`
	NTrain int     `yaml:"n_train" json:"n_train"`
	NTest  int     `yaml:"n_test" json:"n_test"`
	K      int     `yaml:"k" json:"k"`
	T      float64 `yaml:"t" json:"t"`
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

// DefaultConfig returns the defaults of method (only "byol" exists):
// DeepMind's ImageNet recipe (ResNet-18, 224 px, LARS lr 0.2 x batch/256,
// wd 1.5e-6, eta 1e-3, tau 0.996 cosine, heads 4096/256).
func DefaultConfig(method string) (Config, error) {
	if method != "byol" {
		return Config{}, fmt.Errorf("train: unknown method %q (available: byol)", method)
	}
	return Config{
		Method: "byol", Preset: "default", Seed: 42, Device: "auto",
		Arch:  Arch{Name: "resnet18", InChannels: 3},
		Heads: Heads{Hidden: 4096, Out: 256},
		Data:  DataConfig{Path: "", Workers: 0, Prefetch: 2, MaxBadFraction: 0.01, Augment: augment.BYOL(224, true)},
		Batch: 256, Steps: 100000,
		Optim: OptimConfig{Name: "lars", LR: 0.2, ScaleLR: true, Momentum: 0.9, WeightDecay: 1.5e-6, Eta: 1e-3,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true, SkipNonFinite: true},
		WarmupSteps: 5000, FinalLR: 0,
		Tau:        TauSchedule{Kind: "cosine", Base: 0.996, End: 1},
		Checkpoint: CheckpointConfig{Every: 1000, Keep: 3},
		LogEvery:   50,
		Monitor:    MonitorConfig{K: 200, T: 0.1, NTrain: 5000, NTest: 1000},
	}, nil
}

// presets maps method/preset to a function adjusting the defaults.
var presets = map[string]map[string]func(*Config){
	"byol": {
		"default": func(*Config) {},
		// cifar: ResNet-18 with the CIFAR stem on 32 px images, SGD, the
		// configuration of the GPU step-time benchmark.
		"cifar": func(c *Config) {
			c.Arch = Arch{Name: "resnet18-cifar", InChannels: 3}
			c.Data.Augment = augment.BYOL(32, false)
			c.Optim = OptimConfig{Name: "sgd", LR: 0.4, ScaleLR: true, Momentum: 0.9, WeightDecay: 1e-5, ExcludeBiasNorm: true,
				Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3, SkipNonFinite: true}
			c.Tau.Base = 0.99
			c.WarmupSteps = 2000
		},
		// fmnist-quick: the `make demo` run, ~3-4 minutes on 2 CPU cores.
		"fmnist-quick": func(c *Config) {
			fmnist(c)
			c.Arch.Widths = []int64{16, 32, 64}
			c.Steps = 200
			c.WarmupSteps = 20
		},
		// fmnist-reproduce: the `make reproduce` CPU run (< 30 minutes on 2 idle cores:
		// 3300 steps of ~0.47 s plus the online kNN monitor).
		// Against fmnist-quick's recipe it uses a faster teacher (tau from
		// 0.97, not 0.99) and milder crops (scale 0.4-1, not 0.2-1): each
		// gave +0.4-0.6 points of online kNN at step 600 of a 3600-step
		// schedule (79.25% and 79.0% vs 78.65%; benchmarks/RESULTS.md).
		"fmnist-reproduce": func(c *Config) {
			fmnist(c)
			c.Steps = 3300
			c.WarmupSteps = 100
			c.Tau.Base = 0.97
			for i := range c.Data.Augment.Views {
				c.Data.Augment.Views[i].Scale[0] = 0.4
			}
			c.Checkpoint.Every = 500
			c.Monitor.Every = 500
		},
	},
}

// fmnist is the common part of the Fashion-MNIST CPU presets.
func fmnist(c *Config) {
	c.Arch = Arch{Name: "convnet", InChannels: 1, Widths: []int64{32, 64, 128}, Pool: 2}
	c.Heads = Heads{Hidden: 512, Out: 128}
	c.Data.Path = "fashion-mnist:train"
	c.Data.Augment = FashionMNISTRecipe()
	c.Batch = 256
	c.Device = "cpu"
	c.Optim = OptimConfig{Name: "adamw", LR: 2e-3, Momentum: 0.9, WeightDecay: 1e-4, ExcludeBiasNorm: true,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3, SkipNonFinite: true}
	c.Tau = TauSchedule{Kind: "cosine", Base: 0.99, End: 1}
	c.FinalLR = 0
	c.LogEvery = 10
	c.Checkpoint = CheckpointConfig{Every: 100, Keep: 2}
	c.Monitor = MonitorConfig{Every: 0, Train: "fashion-mnist:train", Test: "fashion-mnist:test", NTrain: 10000, NTest: 2000, K: 200, T: 0.1}
}

// Presets lists the presets of method.
func Presets(method string) []string {
	var out []string
	for k := range presets[method] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Preset returns method's defaults adjusted by the named preset.
func Preset(method, name string) (Config, error) {
	c, err := DefaultConfig(method)
	if err != nil {
		return c, err
	}
	if name == "" {
		name = "default"
	}
	f, ok := presets[method][name]
	if !ok {
		return c, fmt.Errorf("train: method %s has no preset %q (available: %s)", method, name, strings.Join(Presets(method), ", "))
	}
	f(&c)
	c.Preset = name
	return c, nil
}

// Validate checks the whole configuration.
func (c *Config) Validate() error {
	if c.Method != "byol" {
		return fmt.Errorf("train: unknown method %q", c.Method)
	}
	if c.Device != "auto" && c.Device != "cpu" && c.Device != "" && c.Device != "cuda" && !strings.HasPrefix(c.Device, "cuda:") {
		return fmt.Errorf("train: unknown device %q (want auto, cpu, cuda or cuda:N)", c.Device)
	}
	if c.Batch < 2 {
		return fmt.Errorf("train: batch %d: BatchNorm needs at least 2", c.Batch)
	}
	if c.Steps <= 0 || c.WarmupSteps < 0 {
		return fmt.Errorf("train: steps %d must be > 0 and warmup_steps %d >= 0", c.Steps, c.WarmupSteps)
	}
	if c.Monitor.Every > 0 && (c.LogEvery <= 0 || c.Monitor.Every%c.LogEvery != 0) {
		return fmt.Errorf("train: monitor.every %d must be a multiple of log_every %d", c.Monitor.Every, c.LogEvery)
	}
	if err := c.Optim.Validate(); err != nil {
		return err
	}
	if err := c.Tau.Validate(); err != nil {
		return err
	}
	if c.Data.Augment.NumViews() != 2 {
		return fmt.Errorf("train: byol needs a two-view recipe, %q has %d views", c.Data.Augment.Name, c.Data.Augment.NumViews())
	}
	want := c.Arch.InChannels
	if ch := c.Data.Augment.Channels; ch != 0 && ch != want {
		return fmt.Errorf("train: recipe makes %d-channel views but arch.in_channels is %d", ch, want)
	}
	return c.Data.Augment.Validate()
}

// LR returns the base learning rate after batch scaling.
func (c *Config) LR() float64 {
	if c.Optim.ScaleLR {
		return ScaledLR(c.Optim.LR, c.Batch)
	}
	return c.Optim.LR
}

// LRSchedule returns the run's learning-rate schedule.
func (c *Config) LRSchedule() LRSchedule {
	return LRSchedule{Base: c.LR(), Final: c.FinalLR, Warmup: c.WarmupSteps, Total: c.Steps}
}

// YAML renders the config.
func (c *Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if err := e.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), e.Close()
}

// LoadConfig reads a YAML config; fields it omits keep the defaults of
// its method and preset. Unknown fields are an error.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("train: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses YAML config data (name labels errors).
func ParseConfig(name string, data []byte) (Config, error) {
	var head struct {
		Method string `yaml:"method"`
		Preset string `yaml:"preset"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return Config{}, fmt.Errorf("train: %s: %w", name, err)
	}
	if head.Method == "" {
		head.Method = "byol"
	}
	c, err := Preset(head.Method, head.Preset)
	if err != nil {
		return c, fmt.Errorf("train: %s: %w", name, err)
	}
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if err := d.Decode(&c); err != nil {
		return c, fmt.Errorf("train: %s: %w", name, err)
	}
	return c, nil
}
