package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/op"
)

// ErrTooManyBadSamples is wrapped when a run skipped more unreadable
// samples than data.max_errors allows (the command line exits 4).
var ErrTooManyBadSamples = errors.New("too many bad samples")

// Collective is a data-parallel process group as the trainer core uses it
// (package train/dist implements it on libtorch's c10d).
type Collective interface {
	Rank() int
	World() int
	// Broadcast copies root's tensors to every rank, in place.
	Broadcast(ts []op.Tensor, root int) error
	// AverageGradients replaces every gradient by its mean over the ranks
	// (bucketed allreduce in a fixed order).
	AverageGradients(grads []op.Tensor) error
	// SumFloat64 sums vals over the ranks, in place (metrics).
	SumFloat64(vals []float64) error
	// GatherWithGrad concatenates every rank's x along dimension 0 with
	// gradient (StepInfo.AllGather); it raises errors through op.Fail.
	GatherWithGrad(tp *op.Tape, x op.Tensor) op.Tensor
	// AllReduceMean replaces tensors by their mean over the ranks, in place.
	AllReduceMean(ts []op.Tensor) error
	// Barrier waits for every rank.
	Barrier() error
	// Explain turns a failure of a collective inside a step into an error
	// naming the lost rank where it can (err otherwise).
	Explain(err error) error
}

// RunOptions are the non-config inputs of Run.
type RunOptions struct {
	// Resume continues the run in Config.Out from its newest checkpoint.
	Resume bool
	// Data is the dataset to train on (nil: data.Open(Config.Data.Spec)).
	// A library user can build their own with data.Custom, with any
	// source and pipeline stages in front of the method.
	Data *data.Dataset
	// Stages, if set, adds the caller's pipeline stages between the
	// dataset's examples and the method's own (a filter, an extra
	// augmentation, a mix of sources); they must keep every random draw
	// keyed by the sample, like the method's.
	Stages func(*pipeline.Stream[data.Example]) *pipeline.Stream[data.Example]
	// Progress receives the progress line (nil: none). TTY redraws one
	// line in place instead of printing one per log step.
	Progress io.Writer
	TTY      bool
	// StopAfter, if > 0, ends the run after this many total steps with a
	// checkpoint, as an interrupt would (tests, time-boxed jobs).
	StopAfter int64
	// Hooks run after every Every-th step.
	Hooks []LoopHook
	// Dist, in a data-parallel run, is the process group (nil: one
	// process). LocalProcs is the number of its processes on this machine
	// (they share its cores when threads and workers are chosen).
	Dist       Collective
	LocalProcs int
}

// Result summarizes a run.
type Result struct {
	Dir         string
	Start       int64 // the step the run began (or resumed) at
	Steps       int64 // total steps done
	Seconds     float64
	FinalLoss   float64 // average loss of the last log window
	NaNSkipped  int64
	BadSamples  int // unreadable samples skipped (RUN/errors.jsonl)
	Checkpoint  string
	Interrupted bool
	// Last is the last metrics line.
	Last map[string]float64
}

// AutoResources picks libtorch threads and pipeline workers together when
// they are 0: on the CPU the cores are split between the two (libtorch's
// intra-op threads thrash when they compete with busy decoders); on a GPU
// libtorch gets one thread and the decoders the rest.
func AutoResources(threads, workers int, cuda bool) (int, int) {
	return autoResources(threads, workers, cuda, runtime.NumCPU())
}

func autoResources(threads, workers int, cuda bool, cores int) (int, int) {
	cores = max(cores, 1)
	if workers == 0 {
		if cuda {
			workers = max(1, cores-1)
		} else {
			workers = max(1, cores/2)
		}
	}
	if threads == 0 {
		if cuda {
			threads = 1
		} else {
			threads = max(1, cores-workers)
		}
	}
	return threads, workers
}

// OpenData opens the dataset a config names.
func OpenData(c *Config) (*data.Dataset, error) {
	return data.Open(c.Data.Spec, data.Options{Modality: c.Data.Modality, Tokenizer: c.Data.Tokenizer, Workers: c.Data.Workers, Labels: c.Data.Labels})
}

// Run trains cfg.Method on the configured data until cfg.Schedule.Steps
// and writes the run folder (config.yaml, metrics.jsonl, errors.jsonl,
// checkpoints/, plots/ and the method's files) on the loop every method
// shares. When ctx is cancelled it writes a checkpoint and returns an
// error wrapping ctx.Err() together with the Result so far. Run locks its
// goroutine to one OS thread for its duration.
func Run(ctx context.Context, cfg Config, o RunOptions) (res *Result, err error) {
	defer op.LockThread()()
	TuneAllocator()
	m, err := Lookup(cfg.Method)
	if err != nil {
		return nil, err
	}
	if cfg.Out == "" {
		return nil, fmt.Errorf("train: %w: no run folder (out)", ErrConfig)
	}
	ds := o.Data
	if ds == nil {
		if ds, err = OpenData(&cfg); err != nil {
			return nil, err
		}
		defer ds.Close()
	}
	if cfg.Data.Modality == "" {
		cfg.Data.Modality = ds.Modality
	}
	if m.Resolve != nil {
		if err := m.Resolve(&cfg, ds); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rank, world := 0, 1
	if o.Dist != nil {
		rank, world = o.Dist.Rank(), o.Dist.World()
	}
	if cfg.Data.Batch%world != 0 {
		return nil, fmt.Errorf("train: %w: data.batch %d is not a multiple of the %d processes", ErrConfig, cfg.Data.Batch, world)
	}
	n := ds.Len()
	if cfg.Data.Limit > 0 {
		n = min(n, cfg.Data.Limit*world)
	}
	if n/world < cfg.Data.Batch/world {
		return nil, fmt.Errorf("train: %w: %s has %d samples per process, fewer than one batch of %d", ErrConfig, ds.Spec, n/world, cfg.Data.Batch/world)
	}
	dev, err := ParseDevice(cfg.Device)
	if err != nil {
		return nil, err
	}
	threads, workers := autoResources(cfg.Threads, cfg.Data.Workers, dev.IsCuda(), runtime.NumCPU()/max(o.LocalProcs, 1))
	SetNumThreads(threads)
	if rank == 0 {
		if err := PrepareRunDir(cfg.Method, cfg.Out, o.Resume); err != nil {
			return nil, err
		}
		if !o.Resume {
			y, err := cfg.YAML()
			if err != nil {
				return nil, err
			}
			if err := writeAtomic(filepath.Join(cfg.Out, "config.yaml"), y); err != nil {
				return nil, err
			}
		}
	}
	env := &Env{Config: &cfg, Data: ds, Device: dev, Log: o.Progress, Rank: rank, World: world}
	if o.Progress != nil && rank == 0 {
		fmt.Fprintf(o.Progress, "train: %s (preset %s) on %s %s data %s (%d samples), %d steps of %d, device %s, %d libtorch threads, %d workers, run folder %s\n",
			cfg.Method, orNone(cfg.Preset), ds.Kind, ds.Modality, ds.Spec, ds.Len(), cfg.Schedule.Steps, cfg.Data.Batch, DeviceName(dev), threads, workers, cfg.Out)
	}
	tr, err := m.New(env)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	r := &runner{cfg: &cfg, m: m, tr: tr, ds: ds, o: &o, rank: rank, world: world, workers: workers}
	return r.run(ctx)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// runner is one Run's state.
type runner struct {
	cfg     *Config
	m       *Method
	tr      Trainer
	ds      *data.Dataset
	o       *RunOptions
	rank    int
	world   int
	workers int

	it         *pipeline.Iter[any]
	pstate     *pipeline.State
	badSamples int
	skipped    int64
	lastLR     float64
	errFile    *os.File
	errW       *bufio.Writer

	// the current log window
	win struct {
		steps, lossN int
		loss         float64
		wait         time.Duration
		start        time.Time
		samples      int
		units        float64
		unitName     string
		sums         map[string]float64
		counts       map[string]int
		monitor      *float64
	}
	start time.Time
	cur   int64 // the step being taken
	res   *Result
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	r.res = &Result{Dir: cfg.Out}
	perRank := cfg.Data.Batch / r.world
	order := pipeline.Order{Seed: cfg.Seed, Epochs: -1, Shuffle: true, Rank: r.rank, World: r.world, Limit: cfg.Data.Limit}
	examples := r.ds.Stream(order)
	if r.o.Stages != nil {
		examples = r.o.Stages(examples)
	}
	batches := pipeline.Prefetch(r.tr.Batches(examples, perRank, r.workers), max(cfg.Data.Prefetch, 1))
	// The pipeline starts at the first step, after a resume has restored
	// its position; it runs on its own context so that an interrupt stops
	// the loop between steps, not in the middle of fetching a batch.
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	defer func() {
		if r.it != nil {
			r.it.Close()
		}
		if r.errW != nil {
			r.errW.Flush()
			r.errFile.Close()
		}
	}()
	var monitor *knnMonitor
	if mc := cfg.Monitor; mc.Every > 0 && r.rank == 0 {
		if _, ok := r.tr.(Monitored); ok {
			monitor = &knnMonitor{cfg: mc}
		} else if r.o.Progress != nil {
			fmt.Fprintf(r.o.Progress, "train: note: method %s has no encoder to monitor; monitor.every ignored\n", cfg.Method)
		}
	}
	r.win.sums, r.win.counts = map[string]float64{}, map[string]int{}
	// The step's batch, read by prepare before the ranks agree to take
	// the step.
	var (
		s    pipeline.Sample[any]
		wait time.Duration
		st   pipeline.State
	)
	prepare := func(_ context.Context, k int64) (err error) {
		if r.it == nil {
			if err := r.startPipeline(pctx, batches); err != nil {
				return err
			}
		}
		r.cur = k
		w0 := time.Now()
		if s, err = r.it.Next(); err != nil {
			return r.dataError(err)
		}
		wait, st = time.Since(w0), r.it.State()
		return nil
	}
	step := func(ctx context.Context, k int64) (any, error) {
		lr := cfg.LRAt(k)
		info := StepInfo{Step: k, Total: cfg.Schedule.Steps, Epoch: s.Epoch, LR: lr, World: r.world}
		if d := r.o.Dist; d != nil {
			info.Reduce, info.AllReduceMean, info.AllSum = d.AverageGradients, d.AllReduceMean, d.SumFloat64
			info.AllGather = func(tp *op.Tape, x op.Tensor) (y op.Tensor, err error) {
				defer op.Catch(&err)
				return d.GatherWithGrad(tp, x), nil
			}
		}
		if bs, ok := r.tr.(BufferSynced); ok && r.o.Dist != nil {
			if err := r.o.Dist.Broadcast(bs.SyncedBuffers(), 0); err != nil {
				return nil, r.o.Dist.Explain(fmt.Errorf("train: broadcasting buffers: %w", err))
			}
		}
		sr, err := r.tr.Step(ctx, s.Value, info)
		if err != nil && r.o.Dist != nil {
			err = r.o.Dist.Explain(err)
		}
		if err != nil && !errors.Is(err, ErrStopRun) {
			return nil, err
		}
		stop := err // the step was taken; the run stops after it (a collapse monitor)
		// A copy: prepare overwrites st with the next step's position.
		pst := st
		r.pstate, r.lastLR = &pst, lr
		r.account(sr, wait, perRank)
		done := k + 1
		if monitor != nil && done%cfg.Monitor.Every == 0 {
			acc, err := monitor.run(r.tr.(Monitored).Embedder())
			if err != nil {
				return nil, fmt.Errorf("train: monitor: %w", err)
			}
			r.win.monitor = &acc
		}
		// Lines due on every rank average the loss over the ranks (a
		// collective); a stop asked for by this rank alone logs its own.
		_, monitored := r.tr.(Monitored)
		due := cfg.Log.Every > 0 && done%cfg.Log.Every == 0 || done == cfg.Schedule.Steps ||
			monitored && cfg.Monitor.Every > 0 && done%cfg.Monitor.Every == 0
		if !due && stop == nil {
			return nil, nil
		}
		line := r.flushWindow(done, s.Epoch, lr, due)
		r.progress(line, done)
		if r.rank != 0 {
			return nil, stop
		}
		return line, stop
	}
	loop := &Loop{Method: cfg.Method, Dir: cfg.Out, Steps: cfg.Schedule.Steps, Seed: cfg.Seed, Batch: cfg.Data.Batch,
		Fingerprint: cfg.Fingerprint(), CheckpointEvery: cfg.Checkpoint.Every, Keep: cfg.Checkpoint.Keep,
		Resume: r.o.Resume, StopAfter: r.o.StopAfter, Hooks: r.o.Hooks, Prepare: prepare, Step: step,
		ReadOnly: r.rank != 0,
		Save: func() (map[string]STensor, int64, error) {
			if r.rank != 0 {
				_, n, err := r.tr.State()
				return nil, n, err
			}
			return r.tr.State()
		},
		Load: func(path string, ts map[string]STensor, st *State) error {
			if st.World != 0 && st.World != r.world || st.World == 0 && r.world != 1 {
				return fmt.Errorf("train: checkpoint %s: %w: made with %d processes, this run has %d (resume at the same world size)", path, ErrBadCheckpoint, max(st.World, 1), r.world)
			}
			if err := r.tr.Load(path, ts, st); err != nil {
				return err
			}
			r.pstate, r.badSamples, r.skipped, r.lastLR = st.Pipeline, st.BadSamples, st.NaNSkipped, st.LR
			if r.rank != 0 {
				rs, err := readRankState(path, r.rank)
				if err != nil {
					return err
				}
				r.pstate, r.badSamples = rs.Pipeline, rs.BadSamples
			}
			return truncateJSONL(r.errorsPath(), st.Step)
		},
		FillState: func(st *State) error {
			st.Pipeline, st.BadSamples, st.NaNSkipped, st.LR = r.pstate, r.badSamples, r.skipped, r.lastLR
			if r.world > 1 {
				st.World = r.world
			}
			st.RNG = fmt.Sprintf("streams keyed by seed %d, epoch, sample and step; libtorch reseeded every step", cfg.Seed)
			if r.rank != 0 {
				// Written before the barrier that follows every checkpoint.
				return writeRankState(CheckpointPath(cfg.Out, st.Step), r.rank, rankState{Step: st.Step, Pipeline: r.pstate, BadSamples: r.badSamples})
			}
			return nil
		},
		Finish: func(steps int64, interrupted bool) error {
			if r.o.Progress != nil && r.o.TTY {
				fmt.Fprintln(r.o.Progress)
			}
			if r.rank != 0 {
				return nil
			}
			var errs []error
			if f, ok := r.tr.(Finisher); ok {
				errs = append(errs, f.Finish(cfg.Out, steps, interrupted))
			}
			if err := WritePlots(cfg.Out); err != nil && r.o.Progress != nil {
				fmt.Fprintf(r.o.Progress, "train: warning: plots: %v\n", err)
			}
			return errors.Join(errs...)
		},
	}
	if d := r.o.Dist; d != nil {
		loop.Barrier = d.Barrier
		// One sum of three scalars per step: every rank stops (Ctrl-C, a
		// collapse check, a rank's unreadable data) before the same step.
		loop.Agree = func(vals []float64) error {
			if err := d.SumFloat64(vals); err != nil {
				return d.Explain(err)
			}
			return nil
		}
	}
	if d := r.o.Dist; d != nil {
		// Every rank starts from rank 0's weights and buffers (the seeds
		// already make them equal; this makes sure, as DDP does).
		if rep, ok := r.tr.(Replicated); ok {
			if err := d.Broadcast(rep.ReplicatedTensors(), 0); err != nil {
				return nil, fmt.Errorf("train: broadcasting the initial weights: %w", err)
			}
		}
		loop.Rank = r.rank
	}
	r.start = time.Now()
	lr, err := loop.Run(ctx)
	res := r.res
	if lr != nil {
		res.Start, res.Steps, res.Seconds, res.Interrupted, res.Checkpoint = lr.Start, lr.Steps, lr.Seconds, lr.Interrupted, lr.Checkpoint
	}
	res.NaNSkipped, res.BadSamples = r.skipped, r.badSamples
	return res, err
}

// startPipeline starts the batch stream at the resumed position.
func (r *runner) startPipeline(ctx context.Context, batches *pipeline.Stream[any]) error {
	n := r.cfg.Data.MaxErrors
	policy := pipeline.ErrorPolicy{Skip: n != 0, OnError: r.recordBadSample}
	if n > 0 {
		policy.MaxErrors = n
	}
	it, err := pipeline.Start(ctx, batches, pipeline.RunOptions{Resume: r.pstate, Errors: policy})
	if err != nil {
		return fmt.Errorf("train: data: %w", err)
	}
	r.it = it
	r.win.start = time.Now()
	return nil
}

// dataError turns a pipeline error into the loop's terms.
func (r *runner) dataError(err error) error {
	if errors.Is(err, io.EOF) {
		return err
	}
	var se *pipeline.SampleError
	if errors.As(err, &se) { // max_errors 0: the first bad sample stops the run
		r.recordBadSample(se)
		return fmt.Errorf("train: data: %w (data.max_errors %d): %w: %w", ErrTooManyBadSamples, r.cfg.Data.MaxErrors, err, ErrStopBeforeStep)
	}
	if errors.Is(err, pipeline.ErrTooManyErrors) {
		return fmt.Errorf("train: data: %w (data.max_errors %d, see %s): %w: %w", ErrTooManyBadSamples, r.cfg.Data.MaxErrors,
			filepath.Join(r.cfg.Out, "errors.jsonl"), err, ErrStopBeforeStep)
	}
	return fmt.Errorf("train: data: %w: %w", err, ErrStopBeforeStep)
}

// errorsPath is where this process reports bad samples: RUN/errors.jsonl
// (RUN/errors.rank<N>.jsonl for the other ranks of a data-parallel run).
func (r *runner) errorsPath() string {
	if r.rank == 0 {
		return filepath.Join(r.cfg.Out, "errors.jsonl")
	}
	return filepath.Join(r.cfg.Out, fmt.Sprintf("errors.rank%d.jsonl", r.rank))
}

// badSample is one line of RUN/errors.jsonl.
type badSample struct {
	Step  int64  `json:"step"`
	Epoch int    `json:"epoch"`
	Index int    `json:"index"`
	Shard string `json:"shard"`
	Key   string `json:"key"`
	Stage string `json:"stage"`
	Error string `json:"error"`
}

// recordBadSample appends a skipped sample to RUN/errors.jsonl (and a
// note on the progress writer).
func (r *runner) recordBadSample(se *pipeline.SampleError) {
	r.badSamples++
	step := r.cur
	if r.errW == nil {
		f, err := os.OpenFile(r.errorsPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			if r.o.Progress != nil {
				fmt.Fprintf(r.o.Progress, "train: warning: %v\n", err)
			}
			return
		}
		r.errFile, r.errW = f, bufio.NewWriter(f)
	}
	line, _ := json.Marshal(badSample{Step: step, Epoch: se.Epoch, Index: se.Index, Shard: se.Origin, Key: se.Key, Stage: se.Stage, Error: fmt.Sprint(se.Err)})
	r.errW.Write(append(line, '\n'))
	r.errW.Flush()
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, "train: skipped bad sample %s in %s: %v\n", se.Key, se.Origin, se.Err)
	}
}

// account adds a step to the log window.
func (r *runner) account(sr StepResult, wait time.Duration, batch int) {
	w := &r.win
	w.steps++
	w.wait += wait
	n := sr.Samples
	if n == 0 {
		n = batch
	}
	w.samples += n * r.world
	w.units += sr.Units
	if sr.UnitName != "" {
		w.unitName = sr.UnitName
	}
	if sr.Skipped {
		r.skipped++
	} else if op.Finite(sr.Loss) {
		w.loss += sr.Loss
		w.lossN++
	}
	for k, v := range sr.Metrics {
		if op.Finite(v) {
			w.sums[k] += v
			w.counts[k]++
		}
	}
	r.res.Steps++
}

// flushWindow turns the log window into a metrics line and resets it;
// with reduce (a collective), in a data-parallel run, the loss is
// averaged over the ranks.
func (r *runner) flushWindow(step int64, epoch int, lr float64, reduce bool) map[string]any {
	w := &r.win
	el := time.Since(w.start).Seconds()
	line := map[string]any{"step": step, "epoch": epoch, "lr": lr}
	loss := math.NaN()
	if w.lossN > 0 {
		loss = w.loss / float64(w.lossN)
	}
	if r.o.Dist != nil && reduce { // average the loss over ranks
		v := []float64{0, 0}
		if w.lossN > 0 {
			v = []float64{loss, 1}
		}
		if err := r.o.Dist.SumFloat64(v); err == nil && v[1] > 0 {
			loss = v[0] / v[1]
		}
	}
	if !math.IsNaN(loss) {
		line["loss"] = loss
		r.res.FinalLoss = loss
	}
	if el > 0 {
		line["samples_per_s"] = float64(w.samples) / el
		line["data_wait_fraction"] = w.wait.Seconds() / el
		line["step_ms"] = 1000 * el / float64(max(w.steps, 1))
		if w.unitName != "" {
			line[w.unitName+"_per_s"] = w.units * float64(r.world) / el
		}
	}
	keys := make([]string, 0, len(w.sums))
	for k := range w.sums {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line[k] = w.sums[k] / float64(w.counts[k])
	}
	if w.monitor != nil {
		line["knn_top1"] = *w.monitor
	}
	line["nan_skipped"] = r.skipped
	line["bad_samples"] = r.badSamples
	line["elapsed_s"] = time.Since(r.start).Seconds()
	line["rss_mb"] = RSSMB()
	last := map[string]float64{}
	for k, v := range line {
		switch x := v.(type) {
		case float64:
			last[k] = x
		case int64:
			last[k] = float64(x)
		case int:
			last[k] = float64(x)
		}
	}
	r.res.Last = last
	w.steps, w.lossN, w.loss, w.wait, w.samples, w.units = 0, 0, 0, 0, 0, 0
	w.sums, w.counts, w.monitor = map[string]float64{}, map[string]int{}, nil
	w.start = time.Now()
	return line
}

// progress prints the progress line: step/total, loss, samples/s,
// data-wait %, ETA and the monitor's figure.
func (r *runner) progress(line map[string]any, step int64) {
	if r.o.Progress == nil || r.rank != 0 {
		return
	}
	total := r.cfg.Schedule.Steps
	var b strings.Builder
	fmt.Fprintf(&b, "step %d/%d", step, total)
	if v, ok := line["loss"].(float64); ok {
		fmt.Fprintf(&b, " loss %.4f", v)
	}
	if v, ok := line["samples_per_s"].(float64); ok {
		fmt.Fprintf(&b, " %.0f samples/s", v)
	}
	if v, ok := line["data_wait_fraction"].(float64); ok {
		fmt.Fprintf(&b, " data-wait %.0f%%", 100*v)
	}
	if v, ok := line["knn_top1"].(float64); ok {
		fmt.Fprintf(&b, " knn %.2f%%", 100*v)
	}
	done := r.res.Steps
	if el := time.Since(r.start); done > 0 && step < total {
		eta := time.Duration(float64(el) / float64(done) * float64(total-step))
		fmt.Fprintf(&b, " ETA %s", eta.Round(time.Second))
	}
	if r.o.TTY {
		fmt.Fprintf(r.o.Progress, "\r\033[K%s", b.String())
		return
	}
	fmt.Fprintln(r.o.Progress, b.String())
}

// RSSMB is the resident set size of the process in MiB (Linux; 0
// elsewhere).
func RSSMB() float64 {
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

// truncateJSONL drops the lines of a JSONL file whose "step" is after
// step (written after the checkpoint a resume starts from).
func truncateJSONL(path string, step int64) error {
	return truncateMetrics(path, step)
}

// rankState is a data-parallel rank's own data position at a checkpoint
// (RankStatePath): its stream skips its own bad samples.
type rankState struct {
	Step       int64           `json:"step"`
	Pipeline   *pipeline.State `json:"pipeline"`
	BadSamples int             `json:"bad_samples"`
}

func writeRankState(ckpt string, rank int, rs rankState) error {
	data, err := json.Marshal(rs)
	if err != nil {
		return fmt.Errorf("train: rank %d state: %w", rank, err)
	}
	return writeAtomic(RankStatePath(ckpt, rank), append(data, '\n'))
}

func readRankState(ckpt string, rank int) (rankState, error) {
	var rs rankState
	p := RankStatePath(ckpt, rank)
	data, err := os.ReadFile(p)
	if err != nil {
		return rs, fmt.Errorf("train: checkpoint %s: %w: rank %d's data position: %w", ckpt, ErrBadCheckpoint, rank, err)
	}
	if err := json.Unmarshal(data, &rs); err != nil || rs.Pipeline == nil {
		return rs, fmt.Errorf("train: %s: %w: not a rank state (%v)", p, ErrBadCheckpoint, err)
	}
	if step := strings.TrimSuffix(filepath.Base(ckpt), ".ckpt"); fmt.Sprintf("step-%08d", rs.Step) != step {
		return rs, fmt.Errorf("train: %s: %w: holds step %d", p, ErrBadCheckpoint, rs.Step)
	}
	return rs, nil
}
