package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"time"
)

// ErrorPolicy says what a run does with per-sample errors (*SampleError).
// The zero value stops at the first one.
type ErrorPolicy struct {
	// Skip drops failed samples and records them in the Report instead of
	// stopping.
	Skip bool
	// MaxErrors, if > 0, stops the run (with ErrTooManyErrors) when more than
	// MaxErrors samples have been skipped.
	MaxErrors int
	// MaxFraction, if > 0, stops the run when the samples skipped by this run
	// exceed this fraction of the positions it has read (counted as at least
	// one epoch when the epoch length is known).
	MaxFraction float64
	// OnError, if set, is called with every skipped error, on the goroutine
	// that calls Next.
	OnError func(*SampleError)
}

// RunOptions configures one run of a Stream.
type RunOptions struct {
	// Resume, if set, continues from a State taken from an earlier run of the
	// same Stream (same source, Order and stages).
	Resume *State
	// Errors is the per-sample error policy.
	Errors ErrorPolicy
}

// maxReported caps the errors kept in a Report (all are counted).
const maxReported = 1000

// Report summarizes the per-sample errors skipped by a run.
type Report struct {
	Count  int            // errors skipped
	Errors []*SampleError // the first 1000 of them, in the order seen
}

// String lists the errors, one per line.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d sample errors", r.Count)
	for _, e := range r.Errors {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	if r.Count > len(r.Errors) {
		fmt.Fprintf(&b, "\n  ... and %d more", r.Count-len(r.Errors))
	}
	return b.String()
}

// Iter is a running Stream. Next is called from one goroutine; State,
// Progress, Metrics and Report may be called from any goroutine. Close must
// be called (All does it) and stops every goroutine of the run before it
// returns.
type Iter[T any] struct {
	rc     *runCtx
	cancel context.CancelFunc
	root   node[T]
	policy ErrorPolicy
	buf    []item[T]
	off, n int
	err    error
	begun  time.Time

	mu      sync.Mutex
	state   State
	emitted int64
	report  Report
	closed  bool
	stops   []func() // progress reporters, stopped by Close
}

// Start builds the stages of s and starts their goroutines. The run stops
// when ctx is cancelled, when the stream ends, or at Close.
func Start[T any](ctx context.Context, s *Stream[T], o RunOptions) (*Iter[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	rc := &runCtx{ctx: ctx}
	if o.Resume != nil {
		rc.start = *o.Resume
	}
	root, err := s.build(rc)
	if err != nil {
		cancel()
		rc.wg.Wait()
		return nil, err
	}
	if o.Resume != nil && o.Resume.Seed != rc.seed {
		cancel()
		rc.wg.Wait()
		return nil, fmt.Errorf("pipeline: resume state has seed %d, order has seed %d", o.Resume.Seed, rc.seed)
	}
	it := &Iter[T]{rc: rc, cancel: cancel, root: root, policy: o.Errors, buf: make([]item[T], 64), begun: time.Now()}
	it.state = rc.start
	it.state.Seed = rc.seed
	return it, nil
}

// Next returns the next sample. It returns io.EOF after the last one, the
// *SampleError that stopped the run (policy without Skip), an error wrapping
// ErrTooManyErrors, the context's error after cancellation, or a fatal error
// of a source. After an error, Next keeps returning it.
func (it *Iter[T]) Next() (Sample[T], error) {
	for it.err == nil {
		if it.off < it.n {
			x := it.buf[it.off]
			it.buf[it.off] = item[T]{}
			it.off++
			if x.err != nil {
				if err := it.skip(x.err); err != nil {
					it.fail(err)
				}
				continue
			}
			it.mu.Lock()
			if x.s.Epoch != it.state.Epoch {
				it.state.Epoch, it.state.Emitted = x.s.Epoch, 0
			}
			it.state.Position = x.s.Pos + 1
			it.state.Emitted++
			it.emitted++
			it.mu.Unlock()
			return x.s, nil
		}
		n, err := it.root.read(it.buf)
		it.off, it.n = 0, n
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			it.fail(err)
		}
	}
	var zero Sample[T]
	return zero, it.err
}

func (it *Iter[T]) fail(err error) {
	it.err = err
	if err != io.EOF {
		it.cancel()
	}
}

// skip applies the error policy to one per-sample error.
func (it *Iter[T]) skip(se *SampleError) error {
	if !it.policy.Skip {
		return se
	}
	it.mu.Lock()
	it.state.Errors++
	it.report.Count++
	if len(it.report.Errors) < maxReported {
		it.report.Errors = append(it.report.Errors, se)
	}
	count := it.state.Errors
	it.mu.Unlock()
	if it.policy.OnError != nil {
		it.policy.OnError(se)
	}
	if it.policy.MaxErrors > 0 && count > it.policy.MaxErrors {
		return fmt.Errorf("%w: %d > %d; last: %w", ErrTooManyErrors, count, it.policy.MaxErrors, se)
	}
	if f := it.policy.MaxFraction; f > 0 {
		// Errors of this run over the positions it has read, and never over
		// less than one epoch, so that early errors do not trip it.
		read := int(it.rc.stats[0].out.Load())
		denom := max(it.rc.epochLen, read)
		it.mu.Lock()
		runErrs := it.report.Count
		it.mu.Unlock()
		if float64(runErrs) > f*float64(denom) {
			return fmt.Errorf("%w: %d of %d samples; last: %w", ErrTooManyErrors, runErrs, denom, se)
		}
	}
	return nil
}

// State returns the position after the last sample returned by Next. A run
// started with RunOptions{Resume: &st} continues exactly after it (for
// ordered stages; with an Unordered map the continuation may differ).
func (it *Iter[T]) State() State {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.state
}

// Report returns the per-sample errors skipped so far.
func (it *Iter[T]) Report() Report {
	it.mu.Lock()
	defer it.mu.Unlock()
	r := it.report
	r.Errors = append([]*SampleError(nil), r.Errors...)
	return r
}

// Metrics returns a snapshot of every stage's counters, source first.
func (it *Iter[T]) Metrics() []StageMetrics {
	it.rc.mu.Lock()
	defer it.rc.mu.Unlock()
	ms := make([]StageMetrics, len(it.rc.stats))
	for i, s := range it.rc.stats {
		ms[i] = s.snapshot()
	}
	return ms
}

// Progress returns a snapshot for a progress display (see ReportProgress).
func (it *Iter[T]) Progress() Progress {
	ms := it.Metrics()
	it.mu.Lock()
	defer it.mu.Unlock()
	return Progress{
		Epoch: it.state.Epoch, Epochs: it.rc.epochs, Position: it.state.Position, EpochLen: it.rc.epochLen,
		Emitted: it.emitted, Errors: it.report.Count, Elapsed: time.Since(it.begun), Stages: ms,
	}
}

// ReportProgress writes it.Progress to w every interval until the run is
// closed (see the function ReportProgress for the format): the reporter
// belongs to the run, and Close stops it, after its final line, before
// returning. It does nothing on a closed Iter.
func (it *Iter[T]) ReportProgress(w io.Writer, interval time.Duration, tty bool) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.closed {
		return
	}
	it.stops = append(it.stops, ReportProgress(context.Background(), w, interval, tty, it.Progress))
}

// Close stops the run and its progress reporters and waits for all their
// goroutines to exit. It is safe to call more than once.
func (it *Iter[T]) Close() error {
	it.mu.Lock()
	closed := it.closed
	it.closed = true
	stops := it.stops
	it.stops = nil
	it.mu.Unlock()
	if closed {
		return nil
	}
	it.cancel()
	it.rc.wg.Wait()
	for _, stop := range stops {
		stop()
	}
	return nil
}

// All returns an iterator over the remaining samples. It stops at the end of
// the stream or after yielding an error (never io.EOF), and closes the Iter
// when the loop ends, also by break.
func (it *Iter[T]) All() iter.Seq2[Sample[T], error] {
	return func(yield func(Sample[T], error) bool) {
		defer it.Close()
		for {
			s, err := it.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(s, err)
				return
			}
			if !yield(s, nil) {
				return
			}
		}
	}
}

// All runs s and iterates over its samples: Start followed by Iter.All. A
// failure to start is yielded as the only error.
func All[T any](ctx context.Context, s *Stream[T], o RunOptions) iter.Seq2[Sample[T], error] {
	return func(yield func(Sample[T], error) bool) {
		it, err := Start(ctx, s, o)
		if err != nil {
			yield(Sample[T]{}, err)
			return
		}
		it.All()(yield)
	}
}
