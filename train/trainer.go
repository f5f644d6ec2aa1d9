package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/op"
)

// Metrics is one line of metrics.jsonl. Fields that a step did not measure
// are omitted.
type Metrics struct {
	Step          int64    `json:"step"`
	Epoch         int      `json:"epoch"`
	Loss          float64  `json:"loss"`
	LR            float64  `json:"lr"`
	Tau           float64  `json:"tau"`
	SamplesPerSec float64  `json:"samples_per_sec"`
	StepMS        float64  `json:"step_ms"`
	DataWaitFrac  float64  `json:"data_wait_frac"`
	NaNSkipped    int64    `json:"nan_skipped"`
	EmbStd        float64  `json:"emb_std"`
	KNNTop1       *float64 `json:"knn_top1,omitempty"`
	ElapsedSec    float64  `json:"elapsed_sec"`
	RSSMB         float64  `json:"rss_mb"` // resident set size of the process (Linux; 0 elsewhere)
}

// rssMB reads the process's resident set size from /proc/self/statm.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		return 0
	}
	return float64(res*int64(os.Getpagesize())) / (1 << 20)
}

// Status is what a hook sees: the step just completed and the latest
// metrics.
type Status struct {
	Step    int64
	Loss    float64 // this step's loss
	Metrics *Metrics
	Config  *Config
	trainer *trainer
}

// Encoder returns the current teacher (or student) backbone as an Encoder
// sharing the training weights; valid only during the hook call.
func (s *Status) Encoder(network string) *Encoder {
	n := s.trainer.model.target
	if network == "student" {
		n = s.trainer.model.online
	}
	return &Encoder{n: n, in: inputSpec(s.Config), dev: s.trainer.model.dev, borrowed: true}
}

// Hook runs every Every steps (and not at all when Every is 0). A hook
// error stops training (after a checkpoint).
type Hook struct {
	Name  string
	Every int64
	Fn    func(ctx context.Context, s *Status) error
}

// RunOptions are the non-config inputs of Run.
type RunOptions struct {
	// Resume continues the run in Config.Dir from its newest checkpoint.
	// When cfg holds only Dir, the folder's config.yaml is used; otherwise
	// cfg (normally that file with device or thread changes) must match
	// the checkpoint's architecture, optimizer, batch and seed.
	Resume bool
	// Source replaces Config.Data.Path (library use: in-memory data).
	Source Source
	// Hooks run after the built-in ones (metrics, monitor, checkpoint).
	Hooks []Hook
	// StopAfter, if > 0, ends the run after this many total steps with a
	// checkpoint, as an interrupt would (tests, time-boxed jobs).
	StopAfter int64
	// Progress receives one line per logged step (nil: none).
	Progress io.Writer
}

// Result summarizes a run.
type Result struct {
	Dir         string
	Steps       int64     // total steps done (including those before a resume)
	Losses      []float64 // losses of the steps run by this call
	NaNSkipped  int64
	Seconds     float64
	Checkpoint  string // last checkpoint written
	Interrupted bool
	Last        Metrics
}

type trainer struct {
	cfg     *Config
	model   *byol
	step    int64
	skipped int64
	pstate  *pipeline.State
	lastLR  float64
	lastTau float64
}

// Run trains cfg.Method on the configured data until cfg.Steps and writes
// the run folder, on the loop every method shares (Loop: checkpoints,
// resume, hooks, metrics.jsonl). When ctx is cancelled it writes a
// checkpoint and returns an error wrapping ctx.Err() together with the
// Result so far. Run locks its goroutine to one OS thread for its duration.
func Run(ctx context.Context, cfg Config, o RunOptions) (res *Result, err error) {
	defer op.LockThread()()
	if cfg.Dir == "" {
		return nil, errors.New("train: config has no run folder (dir)")
	}
	if o.Resume && cfg.Method == "" {
		c, err := LoadConfig(filepath.Join(cfg.Dir, "config.yaml"))
		if err != nil {
			return nil, err
		}
		c.Dir = cfg.Dir
		cfg = c
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dev, err := ParseDevice(cfg.Device)
	if err != nil {
		return nil, err
	}
	SetNumThreads(cfg.Threads)
	if err := PrepareRunDir("train", cfg.Dir, o.Resume); err != nil {
		return nil, err
	}
	if !o.Resume {
		y, err := cfg.YAML()
		if err != nil {
			return nil, err
		}
		if err := writeAtomic(filepath.Join(cfg.Dir, "config.yaml"), y); err != nil {
			return nil, err
		}
	}
	model, err := newBYOL(&cfg, dev)
	if err != nil {
		return nil, err
	}
	defer model.free()
	t := &trainer{cfg: &cfg, model: model}
	return t.run(ctx, o)
}

func (t *trainer) run(ctx context.Context, o RunOptions) (res *Result, err error) {
	cfg := t.cfg
	src := o.Source
	if src == nil {
		if src, err = OpenSource(cfg.Data); err != nil {
			return nil, err
		}
	}
	stream, err := batchStream(src, cfg.Data, cfg.Batch, cfg.Seed)
	if err != nil {
		return nil, err
	}
	hooks := t.builtinHooks(o)
	res = &Result{Dir: cfg.Dir}
	sched := cfg.LRSchedule()
	// The pipeline starts at the first step, after a resume has restored
	// its position; it runs on its own context so that an interrupt stops
	// the loop between steps, not in the middle of fetching a batch.
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	var it *pipeline.Iter[Batch]
	defer func() {
		if it != nil {
			it.Close()
		}
	}()
	var start, winStart time.Time
	var winWait time.Duration
	var winSteps, lossN int
	var lossSum float64
	step := func(ctx context.Context, step int64) (any, error) {
		if it == nil {
			var err error
			it, err = pipeline.Start(pctx, stream, pipeline.RunOptions{Resume: t.pstate,
				Errors: pipeline.ErrorPolicy{Skip: cfg.Data.MaxBadFraction > 0, MaxFraction: cfg.Data.MaxBadFraction}})
			if err != nil {
				return nil, fmt.Errorf("train: %w", err)
			}
			start, winStart = time.Now(), time.Now()
		}
		w0 := time.Now()
		s, err := it.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, fmt.Errorf("train: data: %w: %w", err, ErrStopBeforeStep)
		}
		winWait += time.Since(w0)
		st := it.State()
		v1, err := t.model.toDevice(s.Value.Views[0], s.Value.Shape[0])
		if err != nil {
			return nil, err
		}
		v2, err := t.model.toDevice(s.Value.Views[1], s.Value.Shape[1])
		if err != nil {
			op.Free(v1)
			return nil, err
		}
		lr := sched.At(t.step)
		tau := cfg.Tau.At(t.step, cfg.Steps)
		logNow := cfg.LogEvery > 0 && (t.step+1)%cfg.LogEvery == 0
		r, err := t.model.step(v1, v2, lr, tau, cfg.Optim.ClipGradNorm, logNow)
		op.Free(v1)
		op.Free(v2)
		if err != nil {
			return nil, err
		}
		t.step++
		t.pstate = &st
		t.lastLR, t.lastTau = lr, tau
		if r.skipped {
			t.skipped++
		} else {
			lossSum += r.loss
			lossN++
		}
		res.Losses = append(res.Losses, r.loss)
		winSteps++
		status := &Status{Step: t.step, Loss: r.loss, Config: cfg, trainer: t}
		if logNow {
			el := time.Since(winStart)
			m := &Metrics{Step: t.step, Epoch: s.Epoch, Loss: lossSum / math.Max(float64(lossN), 1), LR: lr, Tau: tau,
				SamplesPerSec: float64(winSteps*cfg.Batch) / el.Seconds(), StepMS: el.Seconds() * 1000 / float64(winSteps),
				DataWaitFrac: winWait.Seconds() / el.Seconds(), NaNSkipped: t.skipped, EmbStd: embStd(r.feat, r.featDim),
				ElapsedSec: time.Since(start).Seconds(), RSSMB: rssMB()}
			status.Metrics = m
			res.Last = *m
			winStart, winWait, winSteps, lossSum, lossN = time.Now(), 0, 0, 0, 0
		}
		var line any
		if status.Metrics != nil {
			line = status.Metrics
		}
		for _, h := range hooks {
			if h.Every > 0 && t.step%h.Every == 0 || (h.Every == -1 && status.Metrics != nil) {
				if err := h.Fn(ctx, status); err != nil {
					return line, fmt.Errorf("train: hook %s: %w: %w", h.Name, err, ErrStopRun)
				}
			}
		}
		if m := status.Metrics; m != nil && o.Progress != nil {
			fmt.Fprintf(o.Progress, "step %d/%d loss %.4f lr %.3g tau %.4f %.0f img/s data-wait %.0f%% emb-std %.4f\n",
				m.Step, cfg.Steps, m.Loss, m.LR, m.Tau, m.SamplesPerSec, 100*m.DataWaitFrac, m.EmbStd)
		}
		return line, nil
	}
	loop := &Loop{Method: cfg.Method, Dir: cfg.Dir, Steps: cfg.Steps, Seed: cfg.Seed, Batch: cfg.Batch,
		CheckpointEvery: cfg.Checkpoint.Every, Keep: cfg.Checkpoint.Keep, Resume: o.Resume, StopAfter: o.StopAfter,
		Step: step,
		Save: func() (map[string]STensor, int64, error) {
			ts, err := t.snapshot()
			t.plots(o) // every checkpoint redraws the charts, the last one included
			return ts, t.model.opt.steps, err
		},
		Load: t.restore,
		FillState: func(st *State) {
			c := t.cfg
			st.Arch, st.Heads, st.Optim, st.Pipeline, st.LR, st.Tau = c.Arch, c.Heads, c.Optim.Name, t.pstate, t.lastLR, t.lastTau
			st.NaNSkipped = t.skipped
			st.RNG = fmt.Sprintf("stateless streams keyed by seed %d", c.Seed)
		},
	}
	lr, err := loop.Run(ctx)
	if lr != nil {
		res.Steps, res.NaNSkipped, res.Seconds, res.Interrupted, res.Checkpoint = lr.Steps, t.skipped, lr.Seconds, lr.Interrupted, lr.Checkpoint
	}
	return res, err
}

// plots redraws the run's PNG charts; a failure is reported, not fatal.
func (t *trainer) plots(o RunOptions) {
	if err := WritePlots(t.cfg.Dir); err != nil && o.Progress != nil {
		fmt.Fprintf(o.Progress, "train: warning: plots: %v\n", err)
	}
}

// builtinHooks: the kNN monitor, then the caller's hooks. The metrics
// hook (Every -1) runs on every logged step.
func (t *trainer) builtinHooks(o RunOptions) []Hook {
	var hs []Hook
	if m := t.cfg.Monitor; m.Every > 0 && m.Train != "" && m.Test != "" {
		hs = append(hs, monitorHook(t.cfg))
	}
	return append(hs, o.Hooks...)
}

// snapshot returns the checkpoint tensors: online network, target, and
// the optimizer slots.
func (t *trainer) snapshot() (tensors map[string]STensor, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	tensors = map[string]STensor{}
	snapshot(tensors, "online.", t.model.online.mod)
	snapshot(tensors, "target.", t.model.target.mod)
	for pname, slots := range t.model.opt.slots {
		for sname, st := range slots {
			v := t.model.online.mod.byName[pname]
			tensors["optim."+pname+"."+sname] = STensor{Shape: v.Shape, F32: op.ToFloat32(st)}
		}
	}
	return tensors, nil
}

// restore loads model, teacher, optimizer, step and data position from a
// checkpoint that Loop read and verified.
func (t *trainer) restore(path string, tensors map[string]STensor, st *State) (err error) {
	defer op.LockThread()()
	if err := st.checkCompatible(path, t.cfg); err != nil {
		return err
	}
	if err := loadInto(path, t.model.online.mod, "online.", tensors, nil); err != nil {
		return err
	}
	if err := loadInto(path, t.model.target.mod, "target.", tensors, nil); err != nil {
		return err
	}
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	for _, p := range t.model.online.mod.Params() {
		for _, sname := range t.model.opt.slotNames() {
			s, ok := tensors["optim."+p.Name+"."+sname]
			if !ok {
				if st.OptSteps == 0 {
					continue
				}
				return fmt.Errorf("train: checkpoint %s: %w: missing optimizer state %s.%s", path, ErrBadCheckpoint, p.Name, sname)
			}
			if fmt.Sprint(s.Shape) != fmt.Sprint(p.Shape) {
				return fmt.Errorf("train: checkpoint %s: %w: optimizer state %s.%s has shape %v", path, ErrBadCheckpoint, p.Name, sname, s.Shape)
			}
			c, err := fromFloat32CPU(s.F32, s.Shape...)
			if err != nil {
				return err
			}
			if t.model.dev != gotch.CPU {
				var out tensor
				libTo(&out, c, t.model.dev)
				op.Free(c)
				c = out
			}
			if t.model.opt.slots[p.Name] == nil {
				t.model.opt.slots[p.Name] = map[string]tensor{}
			}
			t.model.opt.slots[p.Name][sname] = c
		}
	}
	t.step, t.skipped, t.model.opt.steps, t.pstate = st.Step, st.NaNSkipped, st.OptSteps, st.Pipeline
	t.lastLR, t.lastTau = st.LR, st.Tau
	return nil
}

// truncateMetrics drops metrics lines after step (written after the
// checkpoint a resume starts from).
func truncateMetrics(path string, step int64) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("train: %w", err)
	}
	var out bytes.Buffer
	for _, line := range bytes.Split(data, []byte("\n")) {
		var m struct {
			Step int64 `json:"step"`
		}
		if len(line) == 0 || json.Unmarshal(line, &m) != nil || m.Step > step {
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return writeAtomic(path, out.Bytes())
}
