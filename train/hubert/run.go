package hubert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/plot"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// Metrics is one line of metrics.jsonl (averages over the LogEvery steps
// since the previous line; val_* on validation steps only).
type Metrics struct {
	Step           int64    `json:"step"`
	Epoch          int      `json:"epoch"`
	Loss           float64  `json:"loss"`
	LossM          float64  `json:"loss_m"`      // cross-entropy on masked frames
	LossU          float64  `json:"loss_u"`      // cross-entropy on unmasked frames (not trained on by default)
	FeatPen        float64  `json:"feature_pen"` // mean squared CNN feature (before the weight)
	AccM           float64  `json:"acc_m"`       // masked-frame prediction accuracy (train batches)
	AccU           float64  `json:"acc_u"`       // unmasked-frame accuracy
	LR             float64  `json:"lr"`
	GradNorm       float64  `json:"grad_norm"`
	StepMS         float64  `json:"step_ms"`
	AudioSecPerSec float64  `json:"audio_sec_per_sec"`
	ElapsedSec     float64  `json:"elapsed_sec"`
	NaNSkipped     int64    `json:"nan_skipped"`
	RSSMB          float64  `json:"rss_mb,omitempty"`    // resident memory of the process (Linux)
	ValAccM        *float64 `json:"val_acc_m,omitempty"` // masked accuracy on the held-out valid split
	ValAccU        *float64 `json:"val_acc_u,omitempty"`
	ValLossM       *float64 `json:"val_loss_m,omitempty"`
}

// RunOptions are the non-config inputs of Train.
type RunOptions struct {
	// Progress receives one line per logged step (nil: none).
	Progress io.Writer
	// StopAfter, if > 0, ends the run after this many total steps with a
	// checkpoint, as an interrupt would (tests, time-boxed jobs).
	StopAfter int64
	// Resume continues the run in Config.Dir from its newest checkpoint
	// (same batches, masks and schedule as an uninterrupted run). The
	// config must match the checkpoint's except for device, threads,
	// bf16 and the logging and checkpoint intervals.
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
	Chance     float64   // 1/k
	Curve      []Metrics // logged lines of this call
	Losses     []float64 // loss of every step of this call (NaN: skipped)
	Final      Metrics
	Checkpoint string // last checkpoint written
	Interrupt  bool
}

// Fingerprint is the part of cfg that a resumed run must share with the
// checkpoint (everything but device, threads, bf16, the run folder and
// the logging and checkpoint intervals), as YAML.
func (c Config) Fingerprint() string {
	c.Device, c.Threads, c.BF16, c.Dir = "", 0, false, ""
	c.LogEvery, c.ValEvery, c.CheckpointEvery = 0, 0, 0
	y, _ := c.YAML()
	return string(y)
}

// Train pretrains HuBERT as cfg says on train/'s shared loop (train.Loop)
// and writes the run folder: config.yaml, metrics.jsonl, checkpoints/
// (model, AdamW moments and step every CheckpointEvery steps, on an
// interrupt and at the end; the newest 3 kept), model.safetensors
// (torchaudio names; config and step in the metadata) and plots/. The
// labels are validated (LoadCorpus) before the model is built. When ctx
// is cancelled a checkpoint and the weights are written and ctx's error
// returned with the Result so far. Train locks its goroutine to one OS
// thread.
func Train(ctx context.Context, cfg Config, o RunOptions) (res *Result, err error) {
	defer op.LockThread()()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	corpus, err := LoadCorpus(cfg.Data, cfg.Labels, cfg.Model.CNN, cfg.Model.NumClasses)
	if err != nil {
		return nil, err
	}
	dev, err := train.ParseDevice(cfg.Device)
	if err != nil {
		return nil, err
	}
	train.SetNumThreads(cfg.Threads)
	train.ManualSeed(int64(cfg.Seed))
	if err := train.PrepareRunDir("hubert", cfg.Dir, o.Resume); err != nil {
		return nil, err
	}
	y, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	if err := train.WriteFileAtomic(filepath.Join(cfg.Dir, "config.yaml"), y); err != nil {
		return nil, err
	}
	m, err := NewModel(cfg.Model, cfg.Seed, dev)
	if err != nil {
		return nil, err
	}
	defer m.Free()
	opt, err := NewOptimizer(m, cfg.Optim)
	if err != nil {
		return nil, err
	}
	defer opt.Free()

	res = &Result{Dir: cfg.Dir, Params: m.Params.Count(), Chance: 1 / float64(cfg.Model.NumClasses)}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "hubert: %d parameters, %d train utterances (%.0f s), %d valid, k=%d, device %s\n",
			res.Params, len(corpus.Train), corpus.Seconds, len(corpus.Valid), corpus.Meta.K, train.DeviceName(dev))
	}
	start := time.Now()
	sampler := train.NewEpochSampler(len(corpus.Train), cfg.Batch, cfg.Seed)
	var acc struct {
		n                           int
		loss, lossM, lossU, pen, gn float64
		cm, nm, cu, nu              int
		audio                       float64
		t0                          time.Time
		skipped                     int64
	}
	acc.t0 = time.Now()
	var skippedTotal int64
	step := func(ctx context.Context, step int64) (any, error) {
		idx, epoch := sampler.Next()
		b, err := MakeBatch(corpus.Train, idx, cfg.MaxSamples, cfg.Model, cfg.Seed, uint64(step))
		if err != nil {
			return nil, err
		}
		lr := cfg.Optim.LRAt(step, cfg.Steps)
		r, err := opt.Step(b, lr)
		if err != nil {
			return nil, err
		}
		step++
		if r.Skipped {
			acc.skipped++
			skippedTotal++
			res.Losses = append(res.Losses, math.NaN())
		} else {
			acc.n++
			acc.loss += r.Loss
			acc.lossM += r.LossM
			acc.lossU += r.LossU
			acc.pen += r.FeatPen
			acc.gn += r.GradNorm
			acc.cm += r.CorrectM
			acc.nm += r.CountM
			acc.cu += r.CorrectU
			acc.nu += r.CountU
			res.Losses = append(res.Losses, r.Loss)
		}
		acc.audio += float64(b.B*b.L) / SampleRate
		logNow := cfg.LogEvery > 0 && step%cfg.LogEvery == 0 || step == cfg.Steps
		valNow := cfg.ValEvery > 0 && step%cfg.ValEvery == 0 || step == cfg.Steps
		if !logNow && !valNow {
			return nil, nil
		}
		n := math.Max(float64(acc.n), 1)
		el := time.Since(acc.t0).Seconds()
		steps := float64(acc.n) + float64(acc.skipped)
		met := Metrics{Step: step, Epoch: epoch, Loss: acc.loss / n, LossM: acc.lossM / n, LossU: acc.lossU / n, FeatPen: acc.pen / n,
			AccM: ratio(acc.cm, acc.nm), AccU: ratio(acc.cu, acc.nu), LR: lr, GradNorm: acc.gn / n,
			StepMS: 1000 * el / math.Max(steps, 1), AudioSecPerSec: acc.audio / el, ElapsedSec: time.Since(start).Seconds(), NaNSkipped: skippedTotal,
			RSSMB: rssMB()}
		if valNow && len(corpus.Valid) > 0 {
			v, err := Validate(m, corpus.Valid, cfg.Model, cfg.Seed, cfg.MaxSamples*4)
			if err != nil {
				return nil, err
			}
			am, au, lm := v.AccM(), v.AccU(), v.LossM
			met.ValAccM, met.ValAccU, met.ValLossM = &am, &au, &lm
		}
		res.Curve = append(res.Curve, met)
		res.Final = met
		if o.Progress != nil {
			line := fmt.Sprintf("step %d/%d loss %.3f acc_m %.3f acc_u %.3f pen %.3f lr %.2g %.0f ms/step %.1f audio-s/s",
				step, cfg.Steps, met.Loss, met.AccM, met.AccU, met.FeatPen, lr, met.StepMS, met.AudioSecPerSec)
			if met.ValAccM != nil {
				line += fmt.Sprintf(" | valid acc_m %.3f acc_u %.3f", *met.ValAccM, *met.ValAccU)
			}
			fmt.Fprintln(o.Progress, line)
		}
		acc.n, acc.loss, acc.lossM, acc.lossU, acc.pen, acc.gn = 0, 0, 0, 0, 0, 0
		acc.cm, acc.nm, acc.cu, acc.nu, acc.audio, acc.skipped = 0, 0, 0, 0, 0, 0
		acc.t0 = time.Now()
		return met, nil
	}
	loop := &train.Loop{Method: "hubert", Dir: cfg.Dir, Steps: cfg.Steps, Seed: cfg.Seed, Batch: cfg.Batch,
		Fingerprint: cfg.Fingerprint(), CheckpointEvery: cfg.CheckpointEvery, Resume: o.Resume, StopAfter: o.StopAfter, Hooks: o.Hooks,
		Step: step,
		Save: func() (map[string]train.STensor, int64, error) {
			ts, err := m.Params.Tensors("")
			if err != nil {
				return nil, 0, err
			}
			os, err := opt.State()
			if err != nil {
				return nil, 0, err
			}
			maps.Copy(ts, os)
			return ts, opt.Steps(), nil
		},
		Load: func(path string, ts map[string]train.STensor, st *train.State) error {
			if err := m.Params.Load(path, ts, ""); err != nil {
				return err
			}
			if err := opt.SetState(path, ts, st.OptSteps); err != nil {
				return err
			}
			for range st.Step { // the data order is a function of the step
				sampler.Next()
			}
			skippedTotal = st.Step - st.OptSteps // every step either updates or is skipped
			return nil
		},
		Finish: func(steps int64, interrupted bool) error {
			if err := WritePlots(cfg.Dir); err != nil && o.Progress != nil {
				fmt.Fprintf(o.Progress, "hubert: plots: %v\n", err)
			}
			return SaveWeights(filepath.Join(cfg.Dir, "model.safetensors"), m, cfg, steps)
		},
	}
	lr, err := loop.Run(ctx)
	if lr != nil {
		res.Start, res.Steps, res.Seconds, res.Checkpoint, res.Interrupt = lr.Start, lr.Steps, lr.Seconds, lr.Checkpoint, lr.Interrupted
	}
	return res, err
}

// WritePlots draws RUN/plots/accuracy.png (masked and unmasked accuracy,
// train and held-out, against step) and RUN/plots/loss.png from
// RUN/metrics.jsonl.
func WritePlots(dir string) error {
	mp := filepath.Join(dir, "metrics.jsonl")
	acc, err := plot.ReadJSONL(mp, "step", "acc_m", "acc_u", "val_acc_m", "val_acc_u")
	if err != nil {
		return err
	}
	loss, err := plot.ReadJSONL(mp, "step", "loss", "loss_m", "loss_u", "feature_pen")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return fmt.Errorf("hubert: %w", err)
	}
	c := &plot.Chart{Title: "HuBERT prediction accuracy", XLabel: "step", YLabel: "accuracy", YMin: 0, YMax: 1, Series: acc}
	if err := c.WritePNG(filepath.Join(dir, "plots", "accuracy.png")); err != nil {
		return err
	}
	c = &plot.Chart{Title: "HuBERT loss", XLabel: "step", YLabel: "loss", Series: loss, LogY: true}
	return c.WritePNG(filepath.Join(dir, "plots", "loss.png"))
}

// rssMB reads the resident set size from /proc/self/statm (0 elsewhere).
func rssMB() float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	if _, err := fmt.Sscan(string(data), &size, &res); err != nil {
		return 0
	}
	return float64(res*int64(os.Getpagesize())) / (1 << 20)
}

// usable is how many samples of u have labels.
func usable(u *Utterance, stride, rf int) int {
	return min(len(u.Wave), stride*(len(u.Labels)-1)+rf)
}

// MakeBatch crops utts[idx] to a common frame-aligned length (the shortest
// usable length, at most maxSamples), at random frame-aligned offsets, and
// draws span masks (audio.SpanMaskBatch with per-utterance streams keyed by
// (seed, step, position)).
func MakeBatch(utts []Utterance, idx []int, maxSamples int, mc ModelConfig, seed, step uint64) (*Batch, error) {
	stack := mc.CNN.Stack()
	stride, rf := stack.Stride(), mc.CNN.ReceptiveField()
	L := maxSamples
	for _, i := range idx {
		L = min(L, usable(&utts[i], stride, rf))
	}
	T := stack.Frames(L)
	if T <= 0 {
		return nil, fmt.Errorf("%w: batch crop of %d samples gives no frames", ErrData, L)
	}
	b := &Batch{B: len(idx), L: L, Wave: make([]float32, 0, len(idx)*L), Labels: make([]int64, 0, len(idx)*T), Train: true}
	rngs := make([]*rand.Rand, len(idx))
	lengths := make([]int, len(idx))
	for k, i := range idx {
		u := &utts[i]
		rng := rand.New(rand.NewPCG(seed^0x4855, step<<16|uint64(k)))
		rngs[k] = rng
		lengths[k] = T
		jmax := (usable(u, stride, rf) - L) / stride
		j := 0
		if jmax > 0 {
			j = rng.IntN(jmax + 1)
		}
		b.Wave = append(b.Wave, u.Wave[j*stride:j*stride+L]...)
		for _, l := range u.Labels[j : j+T] {
			b.Labels = append(b.Labels, int64(l))
		}
	}
	masks, err := audio.SpanMaskBatch(rngs, lengths, T, mc.Mask)
	if err != nil {
		return nil, err
	}
	for _, mk := range masks {
		b.Mask = append(b.Mask, mk...)
	}
	b.Rng = rand.New(rand.NewPCG(seed^0x1d, step))
	return b, nil
}

// Validate measures masked and unmasked prediction accuracy on utts (one
// utterance at a time, at most maxSamples each, no dropout), with masks
// drawn from streams keyed by (seed, index) so every call sees the same
// masks.
func Validate(m *Model, utts []Utterance, mc ModelConfig, seed uint64, maxSamples int) (StepResult, error) {
	var tot StepResult
	var lossM float64
	for i := range utts {
		b, err := MakeBatch(utts, []int{i}, maxSamples, mc, seed^0x7a11d, uint64(i))
		if err != nil {
			return tot, err
		}
		b.Train = false
		r, err := m.Eval(b)
		if err != nil {
			return tot, err
		}
		tot.CorrectM += r.CorrectM
		tot.CountM += r.CountM
		tot.CorrectU += r.CorrectU
		tot.CountU += r.CountU
		lossM += r.LossM * float64(r.CountM)
	}
	tot.LossM = lossM / math.Max(float64(tot.CountM), 1)
	return tot, nil
}

// SaveWeights writes m's parameters (torchaudio names) as safetensors with
// metadata "sslpipe" = {"method":"hubert","step":N,"config":<YAML>},
// atomically (temp file, fsync, rename).
func SaveWeights(path string, m *Model, cfg Config, step int64) error {
	ts, err := m.Params.Tensors("")
	if err != nil {
		return err
	}
	return writeST(path, ts, cfg, step)
}

func writeST(path string, ts map[string]train.STensor, cfg Config, step int64) error {
	y, err := cfg.YAML()
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(map[string]any{"method": "hubert", "step": step, "config": string(y)})
	return train.WriteSafetensorsFile(path, ts, map[string]string{"sslpipe": string(meta)})
}

// OpenRun loads a finished (or interrupted) run's config and weights on dev.
func OpenRun(dir string, dev gotch.Device) (*Model, Config, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return nil, cfg, err
	}
	p := filepath.Join(dir, "model.safetensors")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, cfg, fmt.Errorf("hubert: %w", err)
	}
	ts, _, err := train.ParseSafetensors(data)
	if err != nil {
		return nil, cfg, fmt.Errorf("hubert: %s: %w", p, err)
	}
	m, err := NewModel(cfg.Model, cfg.Seed, dev)
	if err != nil {
		return nil, cfg, err
	}
	if err := m.Params.Load(p, ts, ""); err != nil {
		m.Free()
		return nil, cfg, err
	}
	return m, cfg, nil
}

// Embed returns, for each wave, the features of transformer block layer
// (0: the projected CNN features) averaged over time; long waves are cut
// to maxSamples (0: no cut). One utterance at a time, no dropout.
func Embed(m *Model, waves [][]float32, layer, maxSamples int) (out [][]float32, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	rf := m.Cfg.CNN.ReceptiveField()
	for i, w := range waves {
		if maxSamples > 0 && len(w) > maxSamples {
			w = w[:maxSamples]
		}
		if len(w) < rf {
			return nil, fmt.Errorf("%w: wave %d has %d samples, fewer than the receptive field %d", ErrData, i, len(w), rf)
		}
		var tp op.Tape
		x := m.Layer(&tp, w, 1, len(w), layer)
		out = append(out, op.ToFloat32(tp.MeanDims(x, false, 1)))
		tp.Drop()
	}
	return out, nil
}

// LayerFrames returns the frame features (T x D, 50 Hz) of transformer
// block layer for one wave.
func LayerFrames(m *Model, wave []float32, layer int) (out audio.Matrix, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	var tp op.Tape
	defer tp.Drop()
	x := m.Layer(&tp, wave, 1, len(wave), layer)
	s := op.Shape(x)
	return audio.Matrix{Rows: int(s[1]), Cols: int(s[2]), Data: op.ToFloat32(x)}, nil
}

// LayerLabels fits k-means (o.K, 500 in HuBERT's second iteration) on
// transformer block layer of the trained run and writes a labels folder
// for the pretraining folder root at 50 Hz.
func LayerLabels(ctx context.Context, run string, layer int, root, out string, o LabelOptions) (*LabelsMeta, error) {
	m, _, err := OpenRun(run, gotch.CPU)
	if err != nil {
		return nil, err
	}
	defer m.Free()
	if layer < 0 || layer > m.Cfg.Encoder.Layers {
		return nil, fmt.Errorf("hubert: %s: layer %d outside [0, %d]", run, layer, m.Cfg.Encoder.Layers)
	}
	if s := m.Cfg.CNN.Stack().Stride(); s != 320 {
		return nil, fmt.Errorf("hubert: %s: CNN stride %d, want 320 (50 Hz labels)", run, s)
	}
	abs, _ := filepath.Abs(run)
	ftype := fmt.Sprintf("hubert:%s:layer%d", filepath.Base(abs), layer)
	f := func(path string, w []float32) (audio.Matrix, error) {
		return LayerFrames(m, w, layer)
	}
	return makeLabels(ctx, root, out, ftype, 50, f, o)
}
