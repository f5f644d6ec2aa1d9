package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrStopRun, wrapped by an error of Loop.Step or of a hook, ends the run
// like an interrupt: a checkpoint is written and Finish runs before Run
// returns the error (a collapse monitor told to stop, for example).
var ErrStopRun = errors.New("run stopped")

// ErrStopBeforeStep, wrapped by an error of Loop.Step, means the step was
// not taken (its input could not be read, say) and the run should stop
// with a checkpoint of the state before it. A Step error wrapping io.EOF
// (the data ended) ends the run normally at the current step.
var ErrStopBeforeStep = errors.New("run stopped before the step")

// ErrPeerInterrupted is wrapped by the error of a data-parallel rank that
// stopped because another rank was interrupted; it wraps context.Canceled,
// so callers treat it as an interrupt.
var ErrPeerInterrupted = fmt.Errorf("another rank was interrupted: %w", context.Canceled)

// LoopHook runs after every Every-th step (never when Every is 0).
type LoopHook struct {
	Name  string
	Every int64
	Fn    func(ctx context.Context, step int64) error
}

// Loop is the training loop that methods built outside this package
// (HuBERT, data2vec) share with BYOL's trainer: the run folder's
// metrics.jsonl, checkpoints in the trainer's format (every N steps, on
// an interrupt and at the end; atomic; the newest Keep kept; SHA-256
// checked when read), exact resume from the newest checkpoint (the
// metrics lines written after it are dropped), hooks every N steps, and
// a libtorch RNG reseeded from (Seed, step) before every step so that
// dropout draws do not depend on where a run was resumed.
//
// The method supplies the step and its state through the function
// fields; everything it draws must be keyed by the step (as the data
// orders and masks of HuBERT and data2vec are), so that a resumed run
// takes the same steps as an uninterrupted one.
type Loop struct {
	Method string // written into checkpoints; a resume checks it
	Dir    string // the run folder
	Steps  int64  // total steps
	Seed   uint64
	Batch  int
	// Rank keys the per-step libtorch seed apart for each process of a
	// data-parallel run (dropout differs across ranks, as in DDP).
	Rank int
	// Fingerprint is what a resume must not change (the method's config
	// without the options that may differ between the two processes,
	// such as device or threads). A checkpoint with another fingerprint
	// is rejected with the lines that differ.
	Fingerprint     string
	CheckpointEvery int64 // 0: only on interrupt and at the end
	Keep            int   // checkpoints kept (0: 3)
	// Resume continues from the newest checkpoint in Dir; without it a
	// folder that holds checkpoints is refused.
	Resume    bool
	StopAfter int64 // if > 0, stop (with a checkpoint) after this many total steps
	Hooks     []LoopHook
	// ReadOnly makes the loop write nothing to Dir (the ranks other than
	// 0 of a data-parallel run: rank 0 writes metrics and checkpoints).
	ReadOnly bool
	// Barrier, if set, is called before and after every checkpoint's
	// write (FillState's per-rank files exist before rank 0's checkpoint,
	// and the other ranks wait for rank 0's write).
	Barrier func() error
	// Agree, in a data-parallel run, sums its values over the ranks in
	// place (a collective). The loop calls it once before every step
	// with this process's reasons to stop (its context ended; a step or
	// a hook asked to stop the run; Prepare failed), so that every rank
	// stops before the same step and takes part in the same final
	// checkpoint. Without it each process stops on its own.
	Agree func(vals []float64) error
	// Prepare, if set, reads step's input before the step (local work:
	// no collectives). Its error is handled as Step's (io.EOF ends the
	// run; ErrStopBeforeStep stops it with a checkpoint of the state
	// before the step); with Agree, a rank whose input failed is one of
	// the reasons to stop, so that no rank enters the step's collectives
	// alone.
	Prepare func(ctx context.Context, step int64) error

	// Step runs update number step (0-based; the step-th of the run). A
	// non-nil line is appended to metrics.jsonl as JSON. An error wrapping
	// ErrStopRun means the step was taken and the run should stop.
	Step func(ctx context.Context, step int64) (line any, err error)
	// Save returns the tensors of a checkpoint (weights, teacher,
	// optimizer moments) and the number of optimizer updates applied.
	Save func() (tensors map[string]STensor, optSteps int64, err error)
	// Load restores what Save returned from a checkpoint at st.Step.
	Load func(path string, tensors map[string]STensor, st *State) error
	// Finish runs once at the end, after the last checkpoint (final
	// weights, plots); interrupted tells whether all Steps were done.
	Finish func(steps int64, interrupted bool) error
	// FillState, if set, adds method fields (data position, schedule
	// values) to the State of each checkpoint.
	FillState func(st *State) error
}

// LoopResult summarizes Loop.Run.
type LoopResult struct {
	Start       int64 // the step the run began at (0, or the checkpoint's step)
	Steps       int64 // total steps done
	Seconds     float64
	Checkpoint  string // the last checkpoint written
	Interrupted bool
}

// Run trains until Steps, ctx is cancelled (checkpoint, then an error
// wrapping ctx.Err(); with Agree, every rank stops before the same step),
// StopAfter, or a step or hook error. The caller
// locks the goroutine to one OS thread.
func (l *Loop) Run(ctx context.Context) (res *LoopResult, err error) {
	if l.Dir == "" || l.Method == "" || l.Step == nil || l.Save == nil || l.Load == nil {
		return nil, errors.New("train: loop: Dir, Method, Step, Save and Load are required")
	}
	TuneAllocator()
	if !l.ReadOnly {
		if err := os.MkdirAll(l.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", l.Method, err)
		}
	}
	metricsPath := filepath.Join(l.Dir, "metrics.jsonl")
	res = &LoopResult{}
	if l.Resume {
		path, err := LatestCheckpoint(l.Dir)
		if err != nil {
			return nil, err
		}
		ts, st, err := ReadCheckpoint(path)
		if err != nil {
			return nil, err
		}
		if err := l.checkCompatible(path, st); err != nil {
			return nil, err
		}
		if st.Step > l.Steps {
			return nil, fmt.Errorf("%s: checkpoint %s is at step %d, past the run's %d steps", l.Method, path, st.Step, l.Steps)
		}
		if err := l.Load(path, ts, st); err != nil {
			return nil, err
		}
		if !l.ReadOnly {
			if err := truncateMetrics(metricsPath, st.Step); err != nil {
				return nil, err
			}
		}
		res.Start = st.Step
	} else {
		if cs, _ := Checkpoints(l.Dir); len(cs) > 0 && !l.ReadOnly {
			return nil, fmt.Errorf("%s: %s already holds checkpoints: resume it (--resume) or use a new folder", l.Method, l.Dir)
		}
		if !l.ReadOnly {
			os.Remove(metricsPath)
		}
	}
	mw := bufio.NewWriter(io.Discard)
	if !l.ReadOnly {
		mf, err := os.OpenFile(metricsPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.Method, err)
		}
		defer mf.Close()
		mw = bufio.NewWriter(mf)
	}

	start := time.Now()
	step := res.Start
	finish := func(interrupted bool, cause error) (*LoopResult, error) {
		res.Steps, res.Seconds, res.Interrupted = step, time.Since(start).Seconds(), interrupted
		errs := []error{cause}
		if err := mw.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.Method, err))
		}
		path, err := l.checkpoint(step)
		res.Checkpoint = path
		errs = append(errs, err)
		if l.Finish != nil {
			errs = append(errs, l.Finish(step, interrupted))
		}
		return res, errors.Join(errs...)
	}
	// pending is a stop that a step or hook asked for, in a
	// data-parallel run: it takes effect at the next agreement.
	var pending error
	for step < l.Steps {
		if err := ctx.Err(); err != nil && l.Agree == nil {
			return finish(true, fmt.Errorf("%s: interrupted at step %d: %w", l.Method, step, err))
		}
		if l.StopAfter > 0 && step >= l.StopAfter {
			return finish(true, pending)
		}
		var prep error
		if l.Prepare != nil {
			prep = l.Prepare(ctx, step)
		}
		if l.Agree != nil {
			stop, cause, err := l.agree(ctx, step, pending, prep)
			switch {
			case err != nil:
				res.Steps = step
				return res, err
			case stop && errors.Is(cause, io.EOF):
				return finish(false, nil)
			case stop:
				return finish(true, cause)
			}
		} else if prep != nil {
			switch {
			case errors.Is(prep, io.EOF):
				return finish(false, nil)
			case errors.Is(prep, ErrStopBeforeStep):
				return finish(true, prep)
			}
			res.Steps = step
			return res, prep
		}
		ManualSeed(int64(stepSeed(l.Seed+uint64(l.Rank)*0x632be59bd9b4e019, step)))
		line, err := l.Step(ctx, step)
		switch {
		case err == nil || errors.Is(err, ErrStopRun):
		case errors.Is(err, io.EOF):
			return finish(false, nil)
		case errors.Is(err, ErrStopBeforeStep):
			return finish(true, err)
		default:
			res.Steps = step
			return res, err
		}
		step++
		if line != nil {
			j, err := json.Marshal(line)
			if err != nil {
				return res, fmt.Errorf("%s: metrics: %w", l.Method, err)
			}
			mw.Write(append(j, '\n'))
			if err := mw.Flush(); err != nil {
				return res, fmt.Errorf("%s: %w", l.Method, err)
			}
		}
		if err != nil { // ErrStopRun after the step
			if l.Agree != nil {
				pending = err
				continue
			}
			return finish(true, err)
		}
		for _, h := range l.Hooks {
			if h.Every > 0 && step%h.Every == 0 {
				if err := h.Fn(ctx, step); err != nil {
					err = fmt.Errorf("%s: hook %s: %w", l.Method, h.Name, err)
					if l.Agree != nil {
						pending = err
						break
					}
					return finish(true, err)
				}
			}
		}
		if pending != nil {
			continue
		}
		if l.CheckpointEvery > 0 && step%l.CheckpointEvery == 0 && step < l.Steps {
			if _, err := l.checkpoint(step); err != nil {
				return res, err
			}
		}
	}
	if pending != nil { // asked for after the last step
		return finish(true, pending)
	}
	return finish(false, nil)
}

// agree tells the other ranks whether this one stops before step (its
// context ended; pending holds a step's or hook's request; prep, its
// input's failure) and learns whether any does: every rank then stops
// before the same step. The cause is this rank's own reason, else
// ErrPeerInterrupted, ErrStopRun or ErrStopBeforeStep for another
// rank's.
func (l *Loop) agree(ctx context.Context, step int64, pending, prep error) (stop bool, cause error, err error) {
	// ctx is read once: what this rank told the others is what it acts on.
	interrupted := ctx.Err()
	vals := []float64{0, 0, 0}
	for i, e := range []error{interrupted, pending, prep} {
		if e != nil {
			vals[i] = 1
		}
	}
	if err := l.Agree(vals); err != nil {
		return false, nil, fmt.Errorf("%s: agreeing on a stop before step %d: %w", l.Method, step, err)
	}
	switch {
	case interrupted != nil:
		return true, fmt.Errorf("%s: interrupted at step %d: %w", l.Method, step, interrupted), nil
	case pending != nil:
		return true, pending, nil
	case prep != nil && (errors.Is(prep, io.EOF) || errors.Is(prep, ErrStopBeforeStep)):
		return true, prep, nil
	case prep != nil: // any other failure also stops every rank together
		return true, fmt.Errorf("%w: %w", prep, ErrStopBeforeStep), nil
	case vals[0] > 0:
		return true, fmt.Errorf("%s: stopped at step %d: %w", l.Method, step, ErrPeerInterrupted), nil
	case vals[1] > 0:
		return true, fmt.Errorf("%s: stopped at step %d: another rank stopped the run: %w", l.Method, step, ErrStopRun), nil
	case vals[2] > 0:
		return true, fmt.Errorf("%s: stopped before step %d: another rank could not read its input: %w", l.Method, step, ErrStopBeforeStep), nil
	}
	return false, nil, nil
}

// stepSeed mixes seed and step (splitmix64) into the libtorch seed of a
// step.
func stepSeed(seed uint64, step int64) uint64 {
	z := seed + 0x9e3779b97f4a7c15*uint64(step+1)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return (z ^ z>>31) >> 1 // non-negative as int64
}

// checkpoint writes the state after step and prunes old checkpoints.
func (l *Loop) checkpoint(step int64) (string, error) {
	ts, optSteps, err := l.Save()
	if err != nil {
		return "", err
	}
	st := State{Method: l.Method, Batch: l.Batch, Seed: l.Seed, Step: step, OptSteps: optSteps, NaNSkipped: step - optSteps, Config: l.Fingerprint,
		RNG: fmt.Sprintf("streams keyed by seed %d and step; libtorch reseeded every step", l.Seed)}
	if l.FillState != nil {
		if err := l.FillState(&st); err != nil {
			return "", err
		}
	}
	path := CheckpointPath(l.Dir, step)
	if l.Barrier != nil {
		// The other ranks' files (FillState) exist before rank 0's
		// checkpoint does: a checkpoint on disk is complete.
		if err := l.Barrier(); err != nil {
			return "", fmt.Errorf("%s: checkpoint barrier: %w", l.Method, err)
		}
	}
	if !l.ReadOnly {
		data, err := encodeCheckpoint(ts, st)
		if err != nil {
			return "", err
		}
		if err := writeAtomic(path, data); err != nil {
			return "", err
		}
		keep := l.Keep
		if keep <= 0 {
			keep = 3
		}
		if err := pruneCheckpoints(l.Dir, keep); err != nil {
			return "", err
		}
	}
	if l.Barrier != nil {
		if err := l.Barrier(); err != nil {
			return "", fmt.Errorf("%s: checkpoint barrier: %w", l.Method, err)
		}
	}
	return path, nil
}

// checkCompatible rejects a checkpoint of another method or configuration.
func (l *Loop) checkCompatible(path string, st *State) error {
	if st.Method != l.Method {
		return fmt.Errorf("%s: checkpoint %s: %w: made by method %q", l.Method, path, ErrBadCheckpoint, st.Method)
	}
	if st.Config == l.Fingerprint && st.Batch == l.Batch && st.Seed == l.Seed {
		return nil
	}
	diffs := lineDiff(st.Config, l.Fingerprint)
	if st.Batch != l.Batch || st.Seed != l.Seed {
		diffs = append(diffs, fmt.Sprintf("batch/seed %d/%d vs %d/%d", st.Batch, st.Seed, l.Batch, l.Seed))
	}
	return fmt.Errorf("%s: checkpoint %s: %w: made by a different configuration (checkpoint vs now): %s",
		l.Method, path, ErrBadCheckpoint, strings.Join(diffs, "; "))
}

// lineDiff lists the lines of a and b that the other lacks.
func lineDiff(a, b string) []string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[strings.TrimSpace(l)] = true
		}
		return m
	}
	ia, ib := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if t := strings.TrimSpace(l); t != "" && !ib[t] {
			out = append(out, "-"+t)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if t := strings.TrimSpace(l); t != "" && !ia[t] {
			out = append(out, "+"+t)
		}
	}
	if len(out) > 12 {
		out = append(out[:12], fmt.Sprintf("(%d more)", len(out)-12))
	}
	return out
}

// WriteFileAtomic writes data to path through a temp file in the same
// folder (write, fsync, rename): readers see the old file or the new one.
func WriteFileAtomic(path string, data []byte) error { return writeAtomic(path, data) }

// PrepareRunDir creates a run folder; a fresh run (resume false) is
// refused where the folder already holds checkpoints, so a finished or
// interrupted run is never overwritten by mistake.
func PrepareRunDir(method, dir string, resume bool) error {
	if dir == "" {
		return fmt.Errorf("%s: config has no run folder (dir)", method)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if !resume {
		if cs, _ := Checkpoints(dir); len(cs) > 0 {
			return fmt.Errorf("%s: %s already holds checkpoints: resume it (--resume) or use a new folder", method, dir)
		}
	}
	return nil
}

// truncateMetrics drops the lines of a JSONL file whose "step" is after
// step (written after the checkpoint a resume starts from).
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
