package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// stageStats is updated by a running stage with atomic operations.
type stageStats struct {
	name               string
	workers            int
	in, out, errs      atomic.Int64
	busy, waitIn, wait atomic.Int64 // nanoseconds
	queued, queueCap   atomic.Int64
}

// StageMetrics is a snapshot of one stage's counters. Busy, WaitIn and WaitOut
// are summed over the stage's workers: a stage whose Busy approaches
// Workers x wall time is the bottleneck; one that mostly waits on input is
// starved by the stage before it; one that mostly waits on output is held
// back by the stage after it (backpressure). Times are estimates: after the
// first chunks, a worker reads the clock on one chunk in 8 and scales, except
// for time blocked on output, which is always measured. The source has no
// times of its own: reading it counts as WaitIn of the stage after it.
type StageMetrics struct {
	Name     string        `json:"name"`
	Workers  int           `json:"workers"`
	In       int64         `json:"in"`     // items received
	Out      int64         `json:"out"`    // items passed on
	Errors   int64         `json:"errors"` // per-sample errors raised by this stage
	Busy     time.Duration `json:"busy_ns"`
	WaitIn   time.Duration `json:"wait_in_ns"`  // blocked on the previous stage
	WaitOut  time.Duration `json:"wait_out_ns"` // blocked on the next stage (queue full)
	Queued   int           `json:"queued"`      // items (or chunks) waiting in the output queue now
	QueueCap int           `json:"queue_cap"`   // capacity of that queue
}

func (s *stageStats) snapshot() StageMetrics {
	return StageMetrics{
		Name: s.name, Workers: s.workers,
		In: s.in.Load(), Out: s.out.Load(), Errors: s.errs.Load(),
		Busy: time.Duration(s.busy.Load()), WaitIn: time.Duration(s.waitIn.Load()), WaitOut: time.Duration(s.wait.Load()),
		Queued: int(s.queued.Load()), QueueCap: int(s.queueCap.Load()),
	}
}

// Progress is a snapshot of a run for a progress display.
type Progress struct {
	Epoch    int            `json:"epoch"`
	Epochs   int            `json:"epochs"`    // -1: forever
	Position int            `json:"position"`  // positions consumed in this epoch
	EpochLen int            `json:"epoch_len"` // -1: unknown
	Emitted  int64          `json:"emitted"`   // items delivered in this run
	Errors   int            `json:"errors"`    // per-sample errors skipped in this run
	Elapsed  time.Duration  `json:"elapsed_ns"`
	Stages   []StageMetrics `json:"stages"`
}

// Rate is the number of items delivered per second.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Emitted) / p.Elapsed.Seconds()
}

// String renders one line: epoch, position, rate, errors and the busiest stage.
func (p Progress) String() string {
	var b strings.Builder
	ep := fmt.Sprint(p.Epochs)
	if p.Epochs < 0 {
		ep = "inf"
	}
	fmt.Fprintf(&b, "epoch %d/%s", p.Epoch+1, ep)
	if p.EpochLen > 0 {
		fmt.Fprintf(&b, " %d/%d (%.1f%%)", p.Position, p.EpochLen, 100*float64(p.Position)/float64(p.EpochLen))
	} else {
		fmt.Fprintf(&b, " %d", p.Position)
	}
	fmt.Fprintf(&b, " | %.1f items/s | %d errors", p.Rate(), p.Errors)
	var top StageMetrics
	var topLoad float64
	for _, s := range p.Stages {
		load := s.Busy.Seconds() / float64(max(s.Workers, 1))
		if load > topLoad {
			top, topLoad = s, load
		}
	}
	if top.Name != "" && p.Elapsed > 0 {
		fmt.Fprintf(&b, " | busiest: %s %.0f%%", top.Name, 100*topLoad/p.Elapsed.Seconds())
	}
	return b.String()
}

// Bar renders a progress bar of the given width followed by String.
func (p Progress) Bar(width int) string {
	if p.EpochLen <= 0 || width <= 0 {
		return p.String()
	}
	done := min(width*p.Position/p.EpochLen, width)
	return "[" + strings.Repeat("=", done) + strings.Repeat(" ", width-done) + "] " + p.String()
}

// ReportProgress starts a goroutine that writes snap() to w every interval
// (one second if interval <= 0) and returns the function that stops it.
// On a terminal (tty) it redraws one line with a bar; otherwise it writes
// one line per interval, suitable for logs. stop writes a final line, waits
// for the goroutine to exit and may be called more than once; the reporter
// also ends, with its final line, when ctx is done. The caller owns the
// reporter: call stop before w or what snap reads goes away.
//
//	stop := pipeline.ReportProgress(ctx, os.Stderr, time.Second, isTTY, it.Progress)
//	defer stop()
//
// Iter.ReportProgress ties a reporter to a run instead: Close stops it.
func ReportProgress(ctx context.Context, w io.Writer, interval time.Duration, tty bool, snap func() Progress) (stop func()) {
	if interval <= 0 {
		interval = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	line := func(final bool) {
		switch {
		case tty && final:
			fmt.Fprintf(w, "\r%s\n", snap().Bar(30))
		case tty:
			fmt.Fprintf(w, "\r%s", snap().Bar(30))
		default:
			fmt.Fprintln(w, snap().String())
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				line(true)
				return
			case <-t.C:
				line(false)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
