package data2vec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// ErrCollapse is returned when the collapse monitor stops a run
// (Collapse.Stop).
var ErrCollapse = errors.New("data2vec: representation collapse")

// StepResult reports one update.
type StepResult struct {
	Loss               float64
	TargetVar, PredVar float64 // Variance of the masked targets and predictions
	GradNorm           float64 // before clipping
	Masked             int     // masked positions in the batch
	Skipped            bool    // non-finite loss or gradient: no update
}

// Optimizer owns a model's AdamW state.
type Optimizer struct {
	m   *Model
	cfg OptimConfig
	opt *tr.AdamW
}

// NewOptimizer makes the optimizer of cfg for m's student.
func NewOptimizer(m *Model, cfg OptimConfig) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ac := tr.AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay}
	return &Optimizer{m: m, cfg: cfg, opt: tr.NewAdamW(ac)}, nil
}

// Free releases the optimizer state.
func (o *Optimizer) Free() { o.opt.Free() }

// Steps is the number of updates applied.
func (o *Optimizer) Steps() int64 { return o.opt.Steps() }

// State returns the AdamW moments as checkpoint entries
// "optim.<param>.exp_avg" and "optim.<param>.exp_avg_sq".
func (o *Optimizer) State() (map[string]train.STensor, error) {
	return o.opt.State(o.m.Params, "optim.")
}

// SetState restores what State returned after steps updates.
func (o *Optimizer) SetState(src string, ts map[string]train.STensor, steps int64) error {
	return o.opt.SetState(src, o.m.Params, ts, "optim.", steps)
}

// Step runs student and teacher on b, back-propagates the loss, clips the
// gradient norm and applies one AdamW update with learning rate lr (the
// teacher is not touched: call Model.UpdateTeacher after). A non-finite
// loss or gradient skips the update. The caller locks the OS thread.
func (o *Optimizer) Step(b *Batch, lr float64) (r StepResult, err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	out := o.m.Loss(&tp, b)
	r.Masked = out.Masked
	// Loss and monitors are read with the gradient norm, after the backward
	// pass is queued: one device sync per step. A non-finite loss gives a
	// non-finite gradient norm, and the update is skipped.
	stats := []op.Tensor{out.Loss}
	tv, pv := varianceTensor(&tp, out.Target), varianceTensor(&tp, out.Pred)
	if tv != nil && pv != nil {
		stats = append(stats, tv, pv)
	}
	var vals []float64
	r.GradNorm, vals, r.Skipped = o.opt.MinimizeReading(&tp, o.m.Params.List(), out.Loss, o.cfg.ClipGradNorm, lr, stats...)
	r.Loss = vals[0]
	if len(vals) == 3 {
		r.TargetVar, r.PredVar = vals[1], vals[2]
	}
	if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
		r.Skipped = true
	}
	return r, nil
}

// Metrics is one line of metrics.jsonl (averages over the steps since the
// previous line).
type Metrics struct {
	Step             int64   `json:"step"`
	Epoch            int     `json:"epoch"`
	Loss             float64 `json:"loss"`
	TargetVar        float64 `json:"target_var"`
	PredVar          float64 `json:"pred_var"`
	MinTargetVar     float64 `json:"min_target_var"` // smallest per-step target variance in the window
	LR               float64 `json:"lr"`
	Tau              float64 `json:"tau"`
	GradNorm         float64 `json:"grad_norm"`
	MaskedFrac       float64 `json:"masked_frac"`
	StepMS           float64 `json:"step_ms"`
	ExamplesPerSec   float64 `json:"examples_per_sec"`
	ElapsedSec       float64 `json:"elapsed_sec"`
	NaNSkipped       int64   `json:"nan_skipped"`
	CollapseWarnings int64   `json:"collapse_warnings"`
}

// RunOptions are the non-config inputs of Train.
type RunOptions struct {
	Progress  io.Writer // one line per logged step (nil: none)
	StopAfter int64     // if > 0, stop with a checkpoint after this many total steps
	// Resume continues the run in Config.Dir from its newest checkpoint
	// (same batches, masks, learning rate and EMA schedule as an
	// uninterrupted run). The config must match the checkpoint's except
	// for device, threads, bf16 and the logging and checkpoint intervals.
	Resume bool
	// Hooks run every Every steps after the step's metrics are written.
	Hooks []train.LoopHook
}

// Result summarizes a run.
type Result struct {
	Dir        string
	Start      int64 // step the run started (or resumed) at
	Steps      int64
	Seconds    float64
	Params     int64
	Curve      []Metrics
	Losses     []float64 // loss of every step of this call (NaN: skipped)
	First      Metrics   // first logged line
	Final      Metrics
	Checkpoint string // last checkpoint written
	Interrupt  bool
}

// Fingerprint is the part of cfg that a resumed run must share with the
// checkpoint (everything but device, threads, bf16, the run folder, the
// logging and checkpoint intervals and the collapse monitor), as YAML.
func (c Config) Fingerprint() string {
	c.Device, c.Threads, c.BF16, c.Dir = "", 0, false, ""
	c.LogEvery, c.CheckpointEvery, c.Collapse = 0, 0, CollapseConfig{}
	y, _ := c.YAML()
	return string(y)
}

// source draws training batches.
type source struct {
	n     int
	batch func(idx []int, r *rand.Rand) (*Batch, error)
}

// prepare loads the data of cfg's modality (text: trains or loads the
// tokenizer and sets cfg.Model.Vocab and cfg.Tokenizer).
func prepare(ctx context.Context, cfg *Config, progress io.Writer) (*source, error) {
	switch cfg.Modality {
	case "text":
		docs, err := ReadTextDocs(cfg.Data)
		if err != nil {
			return nil, err
		}
		if cfg.Limit > 0 && cfg.Limit < len(docs) {
			docs = docs[:cfg.Limit]
		}
		var tok *text.Tokenizer
		if cfg.Tokenizer == "" {
			if tok, err = TrainTokenizer(ctx, docs, cfg.Model.Vocab); err != nil {
				return nil, err
			}
			cfg.Tokenizer = filepath.Join(cfg.Dir, "tokenizer.json")
			if err := tok.Save(cfg.Tokenizer); err != nil {
				return nil, err
			}
		} else if tok, err = text.LoadTokenizer(cfg.Tokenizer); err != nil {
			return nil, err
		}
		cfg.Model.Vocab = tok.VocabSize()
		td, err := NewTextData(tok, docs, cfg.Model.SeqLen, cfg.Model.Mask)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			fmt.Fprintf(progress, "data2vec: %d documents, vocabulary %d, %d sequences of %d tokens\n", len(docs), cfg.Model.Vocab, len(td.Seqs), cfg.Model.SeqLen)
		}
		return &source{n: len(td.Seqs), batch: func(idx []int, r *rand.Rand) (*Batch, error) { return td.Batch(idx, r), nil }}, nil
	case "image":
		s, err := LoadImages(cfg.Data, cfg.Model, cfg.Limit)
		if err != nil {
			return nil, err
		}
		d, err := NewImageData(s.Images, cfg.Model)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			fmt.Fprintf(progress, "data2vec: %d images %dx%d, %d patches of %dx%d\n", s.Images.N, cfg.Model.ImageSize, cfg.Model.ImageSize, d.spec.Rows*d.spec.Cols, cfg.Model.Patch, cfg.Model.Patch)
		}
		return &source{n: s.Images.N, batch: func(idx []int, r *rand.Rand) (*Batch, error) { return d.Batch(idx, r, true), nil }}, nil
	default:
		waves, _, err := LoadWaves(cfg.Data, cfg.Model.CNN.ReceptiveField(), cfg.Limit)
		if err != nil {
			return nil, err
		}
		var secs float64
		for _, w := range waves {
			secs += float64(len(w)) / SampleRate
		}
		if progress != nil {
			fmt.Fprintf(progress, "data2vec: %d utterances (%.0f s of audio)\n", len(waves), secs)
		}
		return &source{n: len(waves), batch: func(idx []int, r *rand.Rand) (*Batch, error) { return AudioBatch(waves, idx, cfg.Model, r) }}, nil
	}
}

// Train pretrains data2vec as cfg says on train/'s shared loop
// (train.Loop) and writes the run folder: config.yaml, metrics.jsonl,
// checkpoints/ (student, teacher, AdamW moments and step every
// CheckpointEvery steps, on an interrupt and at the end; the newest 3
// kept), model.safetensors (student and teacher; config and step in the
// metadata) and, for text, tokenizer.json. When ctx is cancelled a
// checkpoint and the weights are written and ctx's error returned with
// the Result so far. Train locks its goroutine to one OS thread.
func Train(ctx context.Context, cfg Config, o RunOptions) (res *Result, err error) {
	defer op.LockThread()()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dev, err := train.ParseDevice(cfg.Device)
	if err != nil {
		return nil, err
	}
	train.SetNumThreads(cfg.Threads)
	train.ManualSeed(int64(cfg.Seed))
	if err := train.PrepareRunDir("data2vec", cfg.Dir, o.Resume); err != nil {
		return nil, err
	}
	src, err := prepare(ctx, &cfg, o.Progress)
	if err != nil {
		return nil, err
	}
	y, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	if err := train.WriteFileAtomic(filepath.Join(cfg.Dir, "config.yaml"), y); err != nil {
		return nil, err
	}
	m, err := NewModel(cfg.Modality, cfg.Model, cfg.Seed, dev)
	if err != nil {
		return nil, err
	}
	defer m.Free()
	m.BF16 = cfg.BF16 && dev.IsCuda()
	opt, err := NewOptimizer(m, cfg.Optim)
	if err != nil {
		return nil, err
	}
	defer opt.Free()

	res = &Result{Dir: cfg.Dir, Params: m.Params.Count()}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "data2vec %s: %d student parameters, top-%d %s-normalized targets, device %s\n",
			cfg.Modality, res.Params, cfg.Model.TopK, cfg.Model.TargetNorm, train.DeviceName(dev))
	}
	start := time.Now()
	var acc struct {
		n                           int
		loss, tv, pv, gn, mfrac, ex float64
		minTV                       float64
		t0                          time.Time
		skipped                     int64
	}
	reset := func() {
		acc.n, acc.loss, acc.tv, acc.pv, acc.gn, acc.mfrac, acc.ex, acc.skipped = 0, 0, 0, 0, 0, 0, 0, 0
		acc.minTV, acc.t0 = math.Inf(1), time.Now()
	}
	reset()
	var warnings, skippedTotal int64
	sampler := train.NewEpochSampler(src.n, cfg.Batch, cfg.Seed)
	var epoch int
	stepFn := func(ctx context.Context, step int64) (any, error) {
		var idx []int
		idx, epoch = sampler.Next()
		b, err := src.batch(idx, rand.New(rand.NewPCG(cfg.Seed^0xd2f, uint64(step))))
		if err != nil {
			return nil, err
		}
		lr := cfg.Optim.LRAt(step, cfg.Steps)
		r, err := opt.Step(b, lr)
		if err != nil {
			return nil, err
		}
		step++
		tau := cfg.EMA.TauAt(step)
		if err := m.UpdateTeacher(tau); err != nil {
			return nil, err
		}
		if r.Skipped {
			acc.skipped++
			skippedTotal++
			res.Losses = append(res.Losses, math.NaN())
		} else {
			acc.n++
			acc.loss += r.Loss
			acc.tv += r.TargetVar
			acc.pv += r.PredVar
			acc.gn += r.GradNorm
			acc.minTV = math.Min(acc.minTV, r.TargetVar)
			res.Losses = append(res.Losses, r.Loss)
		}
		acc.mfrac += float64(r.Masked) / float64(b.B*b.T)
		acc.ex += float64(b.B)
		var stop error
		if step > cfg.Collapse.After && (r.TargetVar < cfg.Collapse.MinTargetVar || r.PredVar < cfg.Collapse.MinPredVar) {
			warnings++
			if o.Progress != nil && (warnings == 1 || cfg.Collapse.Stop) {
				fmt.Fprintf(o.Progress, "data2vec: WARNING step %d: target variance %.4f (min %.3g), prediction variance %.4f (min %.3g): collapse?\n",
					step, r.TargetVar, cfg.Collapse.MinTargetVar, r.PredVar, cfg.Collapse.MinPredVar)
			}
			if cfg.Collapse.Stop {
				stop = fmt.Errorf("%w at step %d: target variance %.4f, prediction variance %.4f: %w", ErrCollapse, step, r.TargetVar, r.PredVar, train.ErrStopRun)
			}
		}
		if stop == nil && !(cfg.LogEvery > 0 && step%cfg.LogEvery == 0 || step == cfg.Steps || step == 1) {
			return nil, nil
		}
		n := math.Max(float64(acc.n), 1)
		el := time.Since(acc.t0).Seconds()
		steps := math.Max(float64(acc.n)+float64(acc.skipped), 1)
		met := Metrics{Step: step, Epoch: epoch, Loss: acc.loss / n, TargetVar: acc.tv / n, PredVar: acc.pv / n, MinTargetVar: acc.minTV,
			LR: lr, Tau: tau, GradNorm: acc.gn / n, MaskedFrac: acc.mfrac / steps, StepMS: 1000 * el / steps, ExamplesPerSec: acc.ex / el,
			ElapsedSec: time.Since(start).Seconds(), NaNSkipped: skippedTotal, CollapseWarnings: warnings}
		if math.IsInf(met.MinTargetVar, 0) {
			met.MinTargetVar = 0
		}
		if len(res.Curve) == 0 {
			res.First = met
		}
		res.Curve = append(res.Curve, met)
		res.Final = met
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "step %d/%d loss %.4f target_var %.3f pred_var %.3f tau %.5f lr %.2g masked %.2f %.0f ms/step\n",
				step, cfg.Steps, met.Loss, met.TargetVar, met.PredVar, tau, lr, met.MaskedFrac, met.StepMS)
		}
		reset()
		return met, stop
	}
	loop := &train.Loop{Method: "data2vec", Dir: cfg.Dir, Steps: cfg.Steps, Seed: cfg.Seed, Batch: cfg.Batch,
		Fingerprint: cfg.Fingerprint(), CheckpointEvery: cfg.CheckpointEvery, Resume: o.Resume, StopAfter: o.StopAfter, Hooks: o.Hooks,
		Step: stepFn,
		Save: func() (map[string]train.STensor, int64, error) {
			ts, err := m.Params.Tensors("")
			if err != nil {
				return nil, 0, err
			}
			tt, err := m.Teacher.Tensors("")
			if err != nil {
				return nil, 0, err
			}
			ot, err := opt.State()
			if err != nil {
				return nil, 0, err
			}
			maps.Copy(ts, tt)
			maps.Copy(ts, ot)
			return ts, opt.Steps(), nil
		},
		Load: func(path string, ts map[string]train.STensor, st *train.State) error {
			if err := m.Params.Load(path, ts, ""); err != nil {
				return err
			}
			if err := m.Teacher.Load(path, ts, ""); err != nil {
				return err
			}
			if err := opt.SetState(path, ts, st.OptSteps); err != nil {
				return err
			}
			for range st.Step { // the data order is a function of the step
				sampler.Next()
			}
			skippedTotal = st.Step - st.OptSteps
			return nil
		},
		Finish: func(steps int64, interrupted bool) error {
			return SaveWeights(filepath.Join(cfg.Dir, "model.safetensors"), m, cfg, steps)
		},
	}
	lr, err := loop.Run(ctx)
	if lr != nil {
		res.Start, res.Steps, res.Seconds, res.Checkpoint, res.Interrupt = lr.Start, lr.Steps, lr.Seconds, lr.Checkpoint, lr.Interrupted
	}
	return res, err
}

// SaveWeights writes the student's and the teacher's parameters as
// safetensors with metadata "sslpipe" = {"method":"data2vec",
// "modality":..., "step":N, "config":<YAML>}, atomically.
func SaveWeights(path string, m *Model, cfg Config, step int64) error {
	ts, err := m.Params.Tensors("")
	if err != nil {
		return err
	}
	tt, err := m.Teacher.Tensors("")
	if err != nil {
		return err
	}
	for k, v := range tt {
		ts[k] = v
	}
	y, err := cfg.YAML()
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(map[string]any{"method": "data2vec", "modality": cfg.Modality, "step": step, "config": string(y)})
	return train.WriteSafetensorsFile(path, ts, map[string]string{"sslpipe": string(meta)})
}

// OpenRun loads a run's config and weights on dev (random: a freshly
// initialized model of the same config and seed instead of the weights,
// the random-init baseline). For text the run's tokenizer is returned.
func OpenRun(dir string, dev gotch.Device, random bool) (*Model, Config, *text.Tokenizer, error) {
	defer op.LockThread()()
	cfg, err := LoadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return nil, cfg, nil, err
	}
	var tok *text.Tokenizer
	if cfg.Modality == "text" {
		path := filepath.Join(dir, "tokenizer.json") // the run's own (trained) tokenizer, wherever the folder moved
		if _, err := os.Stat(path); err != nil {
			path = cfg.Tokenizer
		}
		if tok, err = text.LoadTokenizer(path); err != nil {
			return nil, cfg, nil, err
		}
	}
	m, err := NewModel(cfg.Modality, cfg.Model, cfg.Seed, dev)
	if err != nil {
		return nil, cfg, nil, err
	}
	if random {
		return m, cfg, tok, nil
	}
	p := filepath.Join(dir, "model.safetensors")
	data, err := os.ReadFile(p)
	if err == nil {
		var ts map[string]train.STensor
		if ts, _, err = train.ParseSafetensors(data); err == nil {
			if err = m.Params.Load(p, ts, ""); err == nil {
				err = m.Teacher.Load(p, ts, "")
			}
		}
	}
	if err != nil {
		m.Free()
		return nil, cfg, nil, fmt.Errorf("data2vec: %s: %w", p, err)
	}
	return m, cfg, tok, nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
