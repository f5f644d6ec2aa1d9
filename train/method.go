package train

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/op"
)

// Method is one self-supervised method: everything the trainer core, the
// command line and the probes need to know about it, registered once
// (Register, from the method package's init function). Adding a method
// touches no file outside its package.
type Method struct {
	Name    string
	Summary string
	// Modalities the method trains on (image, audio, text).
	Modalities []string
	// Defaults returns the method's defaults: every shared field plus
	// fresh Model and Settings blocks (pointers to the method's structs;
	// nil when it has none). Presets adjust a copy of them.
	Defaults func() Config
	// Presets, each with the source of its hyperparameters. DefaultPreset
	// names the one used when none is given, per modality ("" key: any).
	Presets       []Preset
	DefaultPreset map[string]string
	// Flags are the method's own command-line flags (beside the shared
	// ones), such as HuBERT's --labels.
	Flags []Flag
	// Resolve fills the data-dependent fields of c (vocabulary size from
	// the dataset's tokenizer, image channels, label count) once the
	// dataset is open; optional.
	Resolve func(c *Config, d *data.Dataset) error
	// Scale shortens the method's own step-counted schedules (an EMA
	// anneal, a temperature warm-up) by factor f when a run is shorter
	// than its preset, returning a note per change; optional.
	Scale func(c *Config, f float64) []string
	// Validate checks the method's blocks (the shared ones are checked by
	// Config.Validate); optional. Its errors are configuration errors.
	Validate func(c *Config) error
	// New builds the method's trainer (model, optimizer, teacher) for a
	// validated config.
	New func(env *Env) (Trainer, error)
	// Encoder opens the network that eval and embed use, from a run
	// folder or, with o.Random, with the run's seeded initial weights.
	Encoder func(run *RunInfo, o EncoderOptions) (Embedder, error)
}

// Preset is a named adjustment of a method's defaults.
type Preset struct {
	Name    string
	Summary string
	// Source names where the hyperparameters come from (a paper, a
	// reference repository's config, a measurement in RESULTS.md).
	Source string
	// Modality is the one the preset is made for ("" any).
	Modality string
	Apply    func(c *Config)
}

// Flag is a method's own command-line flag: Set applies its value to the
// config (an error names what is wrong with the value).
type Flag struct {
	Name, Usage string
	Set         func(c *Config, value string) error
}

// Env is what a method's constructor gets.
type Env struct {
	Config *Config
	// Data describes the dataset (modality, classes, tokenizer, label
	// rate); its examples reach the method through Trainer.Batches.
	Data   *data.Dataset
	Device gotch.Device
	// Log receives notes for the user (nil: discard).
	Log io.Writer
	// Rank and World are this process's place in a data-parallel run
	// (0 and 1 otherwise).
	Rank, World int
}

// Logf writes a note to env.Log.
func (e *Env) Logf(format string, a ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", a...)
	}
}

// Trainer is a method's training state (model, teacher, optimizer) for
// one run. The core calls Batches once, then Step for every step on one
// locked OS thread, State at each checkpoint and Load on resume.
type Trainer interface {
	// Batches turns this rank's example stream into the method's batches:
	// per-sample work (augmentation, cropping, masking) in pipeline.Map
	// stages with the given workers, then pipeline.Batches of batch
	// samples (DropLast) and a collation stage. Every random draw must
	// come from the samples' keys (pipeline.Sample.Rand, or seeds built
	// from Seed, Epoch and Index), so that batches do not depend on
	// worker counts or on where a run was resumed. Stages must not touch
	// libtorch (they run on pipeline goroutines).
	Batches(examples *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any]
	// Step trains on one batch from Batches.
	Step(ctx context.Context, batch any, s StepInfo) (StepResult, error)
	// State returns the tensors of a checkpoint (weights, teacher,
	// optimizer moments) and the number of optimizer updates applied.
	State() (map[string]STensor, int64, error)
	// Load restores what State returned, from the checkpoint at path.
	Load(path string, tensors map[string]STensor, st *State) error
	// Close frees the tensors.
	Close() error
}

// Finisher is implemented by trainers that write files at the end of a
// run (final weights for PyTorch, method plots).
type Finisher interface {
	Finish(dir string, steps int64, interrupted bool) error
}

// Monitored is implemented by trainers whose current encoder the online
// kNN monitor can probe.
type Monitored interface {
	// Embedder returns the current network as an Embedder that shares the
	// training weights; valid until the next Step.
	Embedder() Embedder
}

// Replicated is implemented by trainers that train data-parallel: the
// tensors rank 0 broadcasts at the start (weights, buffers, teacher).
type Replicated interface {
	ReplicatedTensors() []op.Tensor
}

// BufferSynced is implemented by trainers whose buffers (BatchNorm running
// statistics) rank 0 broadcasts before every step of a data-parallel run,
// as PyTorch DDP does with broadcast_buffers=True (the default): batch
// statistics stay per rank, running statistics follow rank 0.
type BufferSynced interface {
	SyncedBuffers() []op.Tensor
}

// StepInfo is what the core tells a step.
type StepInfo struct {
	Step  int64 // 0-based index of this step in the run
	Total int64 // the run's steps
	Epoch int
	LR    float64 // the schedule's learning rate for this step
	// Reduce, in a data-parallel run, averages gradients across ranks in
	// place; a method calls it between backward and the update (nil in
	// one process).
	Reduce func(grads []op.Tensor) error
	// AllGather, in a data-parallel run, concatenates every rank's x
	// along dimension 0 (rank order) with gradient: the backward pass
	// sends each rank the gradient of its own slice summed over ranks
	// (contrastive negatives from every rank). nil in one process (the
	// gather of one rank is x itself).
	AllGather func(tp *op.Tape, x op.Tensor) (op.Tensor, error)
	// AllReduceMean, in a data-parallel run, replaces each tensor by its
	// mean over the ranks, in place, outside autograd (a DINO center, batch
	// statistics). nil in one process.
	AllReduceMean func(ts []op.Tensor) error
	// World is the number of data-parallel processes (1 in one process)
	// and AllSum sums host values over them in place (nil in one
	// process). A loss averaged over a count that varies between samples
	// (masked frames) normalizes by the global count, as fairseq does:
	// with the local count n and the global N from AllSum, scaling the
	// local mean by World·n/N makes the averaged gradient that of the mean
	// over the global batch.
	World  int
	AllSum func(vals []float64) error
}

// GlobalScale is the factor World·n/N that turns a mean over this rank's
// n items into its share of the mean over all ranks' items (1 in one
// process).
func (s StepInfo) GlobalScale(n float64) (float64, error) {
	if s.AllSum == nil || s.World <= 1 {
		return 1, nil
	}
	v := []float64{n}
	if err := s.AllSum(v); err != nil {
		return 0, err
	}
	if v[0] <= 0 {
		return 1, nil
	}
	return float64(s.World) * n / v[0], nil
}

// StepResult is what a step reports. Metrics are averaged over the
// steps of a log window and written to metrics.jsonl under their names
// (snake_case), beside loss, lr and the throughput the core measures.
type StepResult struct {
	Loss    float64
	Skipped bool // non-finite loss or gradient: no update was applied
	Metrics map[string]float64
	// Samples is the number of training samples the step saw (0: the
	// batch size); Units/UnitName report a modality's own throughput
	// (audio seconds, tokens) per second when set.
	Samples  int
	Units    float64
	UnitName string
}

// RunInfo describes a run folder for Method.Encoder.
type RunInfo struct {
	Dir    string
	Config Config
}

// EncoderOptions selects the network of an Embedder.
type EncoderOptions struct {
	// Network is "teacher" or "student" ("": the method's default).
	Network string
	Device  string // auto, cpu, cuda...; "" cpu
	// Random builds the run's architecture with its seeded initial
	// weights instead of loading them (the random-init baseline).
	Random bool
	// Layer selects a layer where the method offers several (0: its
	// default).
	Layer int
	// Batch is the number of examples per forward pass (0: 64).
	Batch int
}

// Embedder maps examples to vectors: the representation eval and embed
// use. Calls are serialized by the caller.
type Embedder interface {
	// Embed returns one vector per example (evaluation mode).
	Embed(ex []data.Example) ([][]float32, error)
	Dim() int
	Close() error
}

var (
	regMu   sync.RWMutex
	methods = map[string]*Method{}
)

// Register adds a method; it panics on a duplicate or incomplete
// registration (a programming error).
func Register(m *Method) {
	regMu.Lock()
	defer regMu.Unlock()
	if m.Name == "" || m.Defaults == nil || m.New == nil || len(m.Modalities) == 0 {
		panic("train: Register: a method needs Name, Modalities, Defaults and New")
	}
	if _, dup := methods[m.Name]; dup {
		panic("train: method " + m.Name + " registered twice")
	}
	methods[m.Name] = m
}

// Lookup returns the named method.
func Lookup(name string) (*Method, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	m := methods[name]
	if m == nil {
		return nil, fmt.Errorf("train: %w: unknown method %q (available: %s)", ErrConfig, name, strings.Join(methodNames(), ", "))
	}
	return m, nil
}

// Methods lists the registered methods by name.
func Methods() []*Method {
	regMu.RLock()
	defer regMu.RUnlock()
	var out []*Method
	for _, n := range methodNames() {
		out = append(out, methods[n])
	}
	return out
}

func methodNames() []string {
	var ns []string
	for n := range methods {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// PresetNames lists a method's presets.
func (m *Method) PresetNames() []string {
	var out []string
	for _, p := range m.Presets {
		out = append(out, p.Name)
	}
	return out
}

// DefaultPresetFor is the preset used for modality when none is named.
func (m *Method) DefaultPresetFor(modality string) string {
	if p, ok := m.DefaultPreset[modality]; ok {
		return p
	}
	return m.DefaultPreset[""]
}

// PresetConfig returns method's defaults adjusted by the named preset ("":
// none, the defaults as they are).
func PresetConfig(method, name string) (Config, error) {
	m, err := Lookup(method)
	if err != nil {
		return Config{}, err
	}
	c := m.Defaults()
	c.Method = m.Name
	if name == "" {
		return c, nil
	}
	i := slices.IndexFunc(m.Presets, func(p Preset) bool { return p.Name == name })
	if i < 0 {
		return c, fmt.Errorf("train: %w: method %s has no preset %q (available: %s)", ErrConfig, method, name, strings.Join(m.PresetNames(), ", "))
	}
	p := m.Presets[i]
	if p.Apply != nil {
		p.Apply(&c)
	}
	c.Preset = name
	if p.Modality != "" && c.Data.Modality == "" {
		c.Data.Modality = p.Modality
	}
	return c, nil
}
