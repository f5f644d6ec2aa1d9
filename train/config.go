package train

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sslpipe/sslpipe/train/data"
)

// ErrConfig is wrapped by every error about an invalid configuration (a
// value out of range, an unknown field or preset); the command line maps
// it to a usage error (exit 2).
var ErrConfig = errors.New("invalid configuration")

// Config is every option of a training run, for every method: config.yaml
// in a run folder is this struct. The shared blocks (data, optim,
// schedule, checkpoint, log, monitor) mean the same for every method;
// Model and Settings are the method's own blocks (pointers to its structs,
// written under the keys "model" and the method's name).
type Config struct {
	Method string `yaml:"method" json:"method"`
	Preset string `yaml:"preset" json:"preset"`
	// Out is the run folder.
	Out  string `yaml:"out" json:"out"`
	Seed uint64 `yaml:"seed" json:"seed"`
	// Device is auto (CUDA when available), cpu, cuda or cuda:N.
	Device string `yaml:"device" json:"device"`
	// BF16 runs matrix products and convolutions in bfloat16 on CUDA
	// (autocast); ignored on the CPU.
	BF16 bool `yaml:"bf16" json:"bf16"`
	// Threads is libtorch's intra-op thread count (0: chosen with
	// data.workers so that the two do not oversubscribe the cores).
	Threads int `yaml:"threads" json:"threads"`

	Data       DataConfig       `yaml:"data" json:"data"`
	Model      any              `yaml:"model" json:"model"`
	Optim      OptimConfig      `yaml:"optim" json:"optim"`
	Schedule   ScheduleConfig   `yaml:"schedule" json:"schedule"`
	Checkpoint CheckpointConfig `yaml:"checkpoint" json:"checkpoint"`
	Log        LogConfig        `yaml:"log" json:"log"`
	Monitor    MonitorConfig    `yaml:"monitor" json:"monitor"`
	// Settings is the method's own block, under the key named after the
	// method.
	Settings any `yaml:"-" json:"settings"`
}

// DataConfig says where examples come from and how they are read.
type DataConfig struct {
	// Spec is a preprocess output folder, a shard glob, a raw folder or a
	// built-in set such as fashion-mnist:train (see package train/data).
	Spec string `yaml:"spec" json:"spec"`
	// Modality is image, audio or text: read from the dataset; needed
	// only for raw folders that mix kinds.
	Modality string `yaml:"modality" json:"modality"`
	// Tokenizer encodes raw text folders (preprocessed text brings its
	// own).
	Tokenizer string `yaml:"tokenizer,omitempty" json:"tokenizer,omitempty"`
	// Batch is the global batch size (split evenly between ranks).
	Batch int `yaml:"batch" json:"batch"`
	// Workers decode and augment in parallel (0: chosen with threads).
	Workers  int `yaml:"workers" json:"workers"`
	Prefetch int `yaml:"prefetch" json:"prefetch"` // batches made ahead of the step
	// Limit, if > 0, uses only the first Limit samples of each epoch.
	Limit int `yaml:"limit" json:"limit"`
	// Labels is a frame-label set joined to audio data by sample (HuBERT's
	// iteration-2 labels, written by `sslpipe hubert labels`).
	Labels string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// MaxErrors is how many bad samples a run skips (each written to
	// RUN/errors.jsonl) before it stops with exit code 4; < 0: no limit.
	MaxErrors int `yaml:"max_errors" json:"max_errors"`
}

// DefaultMaxErrors is the bad-sample budget of every command that reads
// user data.
const DefaultMaxErrors = 100

// ScheduleConfig is the run length and the learning-rate schedule:
// linear warm-up over WarmupSteps, then Kind "cosine" (to FinalLR),
// "linear" (to 0, fairseq's polynomial decay) or "constant".
type ScheduleConfig struct {
	Steps       int64   `yaml:"steps" json:"steps"`
	WarmupSteps int64   `yaml:"warmup_steps" json:"warmup_steps"`
	Kind        string  `yaml:"kind" json:"kind"`
	FinalLR     float64 `yaml:"final_lr" json:"final_lr"`
}

// CheckpointConfig says when checkpoints are written and how many kept.
type CheckpointConfig struct {
	Every int64 `yaml:"every" json:"every"` // steps (0: only at the end and on interrupt)
	Keep  int   `yaml:"keep" json:"keep"`   // newest kept (0: 3)
}

// LogConfig says how often metrics.jsonl and the progress line are
// written.
type LogConfig struct {
	Every int64 `yaml:"every" json:"every"`
}

// MonitorConfig is the online probe: every Every steps the method's
// encoder embeds NTrain labelled examples of Train and NTest of Test, and
// the weighted kNN top-1 (K, T) is logged as knn_top1 and shown on the
// progress line.
type MonitorConfig struct {
	Every  int64   `yaml:"every" json:"every"` // 0: off
	Train  string  `yaml:"train" json:"train"`
	Test   string  `yaml:"test" json:"test"`
	NTrain int     `yaml:"n_train" json:"n_train"`
	NTest  int     `yaml:"n_test" json:"n_test"`
	K      int     `yaml:"k" json:"k"`
	T      float64 `yaml:"t" json:"t"`
}

// OptimConfig selects and tunes an optimizer (package train/nn implements
// them: sgd, lars and adamw as PyTorch 1.13 defines them).
type OptimConfig struct {
	Name string  `yaml:"name" json:"name"` // sgd, lars or adamw
	LR   float64 `yaml:"lr" json:"lr"`     // base learning rate (before batch scaling)
	// ScaleLR applies the linear scaling rule lr*batch/256.
	ScaleLR     bool    `yaml:"scale_lr" json:"scale_lr"`
	Momentum    float64 `yaml:"momentum" json:"momentum"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	Eta         float64 `yaml:"eta" json:"eta"` // LARS trust coefficient
	Beta1       float64 `yaml:"beta1" json:"beta1"`
	Beta2       float64 `yaml:"beta2" json:"beta2"`
	Eps         float64 `yaml:"eps" json:"eps"`
	// ExcludeBiasNorm exempts biases and normalization parameters from
	// weight decay for SGD and AdamW too (LARS always exempts them).
	ExcludeBiasNorm bool    `yaml:"exclude_bias_norm" json:"exclude_bias_norm"`
	ClipGradNorm    float64 `yaml:"clip_grad_norm" json:"clip_grad_norm"` // 0: off
}

// Validate checks ranges.
func (c OptimConfig) Validate() error {
	switch c.Name {
	case "sgd", "lars", "adamw":
	default:
		return fmt.Errorf("train: %w: optim.name %q: want sgd, lars or adamw", ErrConfig, c.Name)
	}
	if !finite(c.LR, c.Momentum, c.WeightDecay, c.Eta, c.Beta1, c.Beta2, c.Eps, c.ClipGradNorm) {
		return fmt.Errorf("train: %w: optim values must be finite numbers", ErrConfig)
	}
	if !(c.LR > 0) || c.Momentum < 0 || c.Momentum >= 1 || c.WeightDecay < 0 || c.ClipGradNorm < 0 {
		return fmt.Errorf("train: %w: optim: lr %v must be > 0, momentum %v in [0, 1), weight_decay %v and clip_grad_norm %v >= 0", ErrConfig, c.LR, c.Momentum, c.WeightDecay, c.ClipGradNorm)
	}
	if c.Name == "adamw" && !(c.Beta1 >= 0 && c.Beta1 < 1 && c.Beta2 >= 0 && c.Beta2 < 1 && c.Eps > 0) {
		return fmt.Errorf("train: %w: optim adamw: betas (%v, %v) must be in [0, 1) and eps %v > 0", ErrConfig, c.Beta1, c.Beta2, c.Eps)
	}
	if c.Name == "lars" && !(c.Eta > 0) {
		return fmt.Errorf("train: %w: optim lars: eta %v must be > 0", ErrConfig, c.Eta)
	}
	return nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// LR returns the base learning rate after batch scaling.
func (c *Config) LR() float64 {
	if c.Optim.ScaleLR {
		return c.Optim.LR * float64(c.Data.Batch) / 256
	}
	return c.Optim.LR
}

// LRAt is the learning rate of step k (0-based).
func (c *Config) LRAt(k int64) float64 {
	s, base := c.Schedule, c.LR()
	if k < s.WarmupSteps {
		return base * float64(k+1) / float64(s.WarmupSteps)
	}
	n := s.Steps - s.WarmupSteps
	if n <= 0 || s.Kind == "constant" {
		return base
	}
	f := math.Min(float64(k-s.WarmupSteps)/float64(n), 1)
	if s.Kind == "linear" {
		return base * math.Max(0, 1-f)
	}
	return s.FinalLR + (base-s.FinalLR)*(1+math.Cos(math.Pi*f))/2
}

// Validate checks the shared blocks and then the method's own (through
// its registration).
func (c *Config) Validate() error {
	m, err := Lookup(c.Method)
	if err != nil {
		return err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("train: %w: "+format, append([]any{ErrConfig}, a...)...)
	}
	if d := c.Device; d != "auto" && d != "cpu" && d != "cuda" && !strings.HasPrefix(d, "cuda:") {
		return bad("device %q: want auto, cpu, cuda or cuda:N", d)
	}
	if c.Threads < 0 || c.Data.Workers < 0 || c.Data.Prefetch < 0 || c.Data.Limit < 0 {
		return bad("threads %d, data.workers %d, data.prefetch %d and data.limit %d must be >= 0", c.Threads, c.Data.Workers, c.Data.Prefetch, c.Data.Limit)
	}
	if c.Data.Batch < 1 {
		return bad("data.batch %d must be >= 1", c.Data.Batch)
	}
	if c.Data.Modality != "" && !slices.Contains(m.Modalities, c.Data.Modality) {
		return bad("method %s does not train on %s data (it takes %s)", c.Method, c.Data.Modality, strings.Join(m.Modalities, ", "))
	}
	s := c.Schedule
	if s.Steps < 1 || s.WarmupSteps < 0 {
		return bad("schedule.steps %d must be >= 1 and warmup_steps %d >= 0", s.Steps, s.WarmupSteps)
	}
	switch s.Kind {
	case "cosine", "linear", "constant":
	default:
		return bad("schedule.kind %q: want cosine, linear or constant", s.Kind)
	}
	if !finite(s.FinalLR) || s.FinalLR < 0 {
		return bad("schedule.final_lr %v must be a finite number >= 0", s.FinalLR)
	}
	if c.Checkpoint.Every < 0 || c.Checkpoint.Keep < 0 || c.Log.Every < 0 || c.Monitor.Every < 0 {
		return bad("checkpoint.every, checkpoint.keep, log.every and monitor.every must be >= 0")
	}
	if mo := c.Monitor; mo.Every > 0 {
		if mo.Train == "" || mo.Test == "" || mo.K < 1 || !(mo.T > 0) || !finite(mo.T) || mo.NTrain < 1 || mo.NTest < 1 {
			return bad("monitor: every %d needs train and test sets, n_train and n_test >= 1, k >= 1 and t > 0", mo.Every)
		}
	}
	if err := c.Optim.Validate(); err != nil {
		return err
	}
	if m.Validate != nil {
		if err := m.Validate(c); err != nil {
			if !errors.Is(err, ErrConfig) {
				err = fmt.Errorf("%w: %w", ErrConfig, err)
			}
			return err
		}
	}
	return nil
}

// YAML renders the config: the shared fields, then the model block, then
// the method's own block under its name.
func (c *Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	if err := e.Encode(c); err != nil {
		return nil, err
	}
	if c.Settings != nil {
		if err := e.Encode(map[string]any{c.Method: c.Settings}); err != nil {
			return nil, err
		}
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	// The two documents become one mapping.
	return bytes.ReplaceAll(b.Bytes(), []byte("\n---\n"), []byte("\n")), nil
}

// Fingerprint is the part of the config a resumed run must share with its
// checkpoint: everything but the run folder, device, threads, workers,
// prefetch, bf16, logging and checkpoint intervals, and the error budget.
func (c Config) Fingerprint() string {
	c.Out, c.Device, c.Threads, c.BF16 = "", "", 0, false
	c.Data.Workers, c.Data.Prefetch, c.Data.MaxErrors = 0, 0, 0
	c.Log, c.Checkpoint = LogConfig{}, CheckpointConfig{}
	c.Monitor.Every = 0
	y, _ := c.YAML()
	return string(y)
}

// LoadConfig reads a YAML config file (see ParseConfig).
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("train: %w", err)
	}
	return ParseConfig(path, data, "")
}

// ParseConfig parses YAML config data (name labels errors). Fields it
// omits keep the values of its method's preset (its own preset: key, or
// defaultPreset when it has none, or the method's default). Unknown
// fields are an error.
func ParseConfig(name string, data []byte, defaultPreset string) (Config, error) {
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return Config{}, fmt.Errorf("train: %w: %s: %v", ErrConfig, name, err)
	}
	var head struct {
		Method string `yaml:"method"`
		Preset string `yaml:"preset"`
	}
	yaml.Unmarshal(data, &head)
	if head.Method == "" {
		return Config{}, fmt.Errorf("train: %w: %s: no method: key", ErrConfig, name)
	}
	if head.Preset == "" {
		head.Preset = defaultPreset
	}
	c, err := PresetConfig(head.Method, head.Preset)
	if err != nil {
		return c, fmt.Errorf("train: %s: %w", name, err)
	}
	// Shared fields first (the model and method blocks decoded into the
	// method's own structs below).
	shared := map[string]yaml.Node{}
	for k, v := range top {
		if k != "model" && k != c.Method {
			shared[k] = v
		}
	}
	if err := strictDecode(shared, &c); err != nil {
		return c, fmt.Errorf("train: %w: %s: %v", ErrConfig, name, err)
	}
	if n, ok := top["model"]; ok {
		if c.Model == nil {
			return c, fmt.Errorf("train: %w: %s: method %s has no model block", ErrConfig, name, c.Method)
		}
		if err := strictDecode(&n, c.Model); err != nil {
			return c, fmt.Errorf("train: %w: %s: model: %v", ErrConfig, name, err)
		}
	}
	if n, ok := top[c.Method]; ok {
		if c.Settings == nil {
			return c, fmt.Errorf("train: %w: %s: method %s has no %s block", ErrConfig, name, c.Method, c.Method)
		}
		if err := strictDecode(&n, c.Settings); err != nil {
			return c, fmt.Errorf("train: %w: %s: %s: %v", ErrConfig, name, c.Method, err)
		}
	}
	return c, nil
}

// strictDecode re-encodes v and decodes it into dst rejecting unknown
// fields (yaml.Node.Decode has no such option).
func strictDecode(v any, dst any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(dst); err != nil && err.Error() != "EOF" {
		return err
	}
	return nil
}

// LoadConfigPreset is LoadConfig with the preset used when the file names
// none.
func LoadConfigPreset(path, defaultPreset string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("train: %w", err)
	}
	return ParseConfig(path, data, defaultPreset)
}

// ResolveConfig completes c for the opened dataset d (the modality, then
// the method's data-dependent fields) and validates it.
func ResolveConfig(c *Config, d *data.Dataset) error {
	m, err := Lookup(c.Method)
	if err != nil {
		return err
	}
	if c.Data.Modality == "" {
		c.Data.Modality = d.Modality
	}
	if m.Resolve != nil {
		if err := m.Resolve(c, d); err != nil {
			return err
		}
	}
	return c.Validate()
}

// ScaleSchedule shortens the step-counted parts of a schedule made for
// presetSteps to c.Schedule.Steps (warm-up, and the method's own through
// Method.Scale) in proportion, and returns a note for each change.
func ScaleSchedule(c *Config, presetSteps int64) []string {
	if presetSteps <= 0 || c.Schedule.Steps >= presetSteps {
		return nil
	}
	f := float64(c.Schedule.Steps) / float64(presetSteps)
	var notes []string
	if w := c.Schedule.WarmupSteps; w > 0 {
		c.Schedule.WarmupSteps = ScaleSteps(w, f)
		notes = append(notes, fmt.Sprintf("--steps %d is shorter than the preset's %d: warm-up scaled from %d to %d steps (give --warmup to set it)",
			c.Schedule.Steps, presetSteps, w, c.Schedule.WarmupSteps))
	}
	if m, err := Lookup(c.Method); err == nil && m.Scale != nil {
		notes = append(notes, m.Scale(c, f)...)
	}
	return notes
}

// ScaleSteps is n*f rounded, at least 1 when n > 0.
func ScaleSteps(n int64, f float64) int64 {
	if n <= 0 {
		return n
	}
	return max(1, int64(math.Round(float64(n)*f)))
}
