package pipeline_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sslpipe/sslpipe/pipeline"
	"go.uber.org/goleak"
)

func TestProgressAndMetrics(t *testing.T) {
	src := pipeline.Slice(ints(200))
	slow := pipeline.Map(pipeline.From(src, pipeline.Order{Epochs: 2}), func(_ context.Context, s pipeline.Sample[int]) (int, error) {
		time.Sleep(50 * time.Microsecond)
		return s.Value, nil
	}, pipeline.MapOptions{Name: "slow", Workers: 2})
	it, err := pipeline.Start(context.Background(), slow, pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for range 250 {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
	}
	p := it.Progress()
	if p.Epoch != 1 || p.Position != 50 || p.EpochLen != 200 || p.Epochs != 2 || p.Emitted != 250 {
		t.Fatalf("progress %+v", p)
	}
	line := p.String()
	if !strings.HasPrefix(line, "epoch 2/2 50/200 (25.0%)") || !strings.Contains(line, "busiest: slow") {
		t.Fatalf("line %q", line)
	}
	if bar := p.Bar(20); !strings.HasPrefix(bar, "[=====               ] epoch 2/2") {
		t.Fatalf("bar %q", bar)
	}
	ms := it.Metrics()
	if len(ms) != 2 || ms[1].Name != "slow" || ms[1].Workers != 2 || ms[1].In < 250 || ms[1].Busy < 250*50*time.Microsecond/2 {
		t.Fatalf("metrics %+v", ms)
	}

	// ReportProgress: periodic lines (no TTY) and a final line at cancel.
	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	var mu sync.Mutex
	stop := pipeline.ReportProgress(ctx, &lockedWriter{w: &buf, mu: &mu}, time.Millisecond, false, it.Progress)
	time.Sleep(20 * time.Millisecond)
	cancel()
	stop() // waits for the final line
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-1], "epoch 2/2 50/200") || strings.Contains(buf.String(), "\r") {
		t.Fatalf("report %q", buf.String())
	}
}

// A progress reporter never outlives its owner: stop (or, for
// Iter.ReportProgress, Close) returns after the reporter's goroutine has
// written its final line and exited.
func TestReportProgressIsOwned(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var buf bytes.Buffer
	var mu sync.Mutex
	w := &lockedWriter{w: &buf, mu: &mu}

	// The function form: stop is enough, no context to cancel; a second
	// stop is harmless, and a zero interval does not panic.
	stop := pipeline.ReportProgress(context.Background(), w, 0, true, func() pipeline.Progress { return pipeline.Progress{Epochs: 1, Position: 7, EpochLen: 10} })
	stop()
	stop()
	if got := buf.String(); !strings.HasPrefix(got, "\r") || !strings.HasSuffix(got, "\n") || !strings.Contains(got, "7/10") {
		t.Errorf("tty final line %q", got)
	}

	// Tied to a run: Close stops it, and the final line is the last output.
	s := pipeline.Map(pipeline.From(pipeline.Slice(ints(50)), pipeline.Order{}), inc, pipeline.MapOptions{Workers: 2})
	it, err := pipeline.Start(context.Background(), s, pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	buf.Reset()
	mu.Unlock()
	it.ReportProgress(w, time.Millisecond, false)
	for range 10 {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
	}
	it.Close()
	mu.Lock()
	final := buf.String()
	mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	mu.Lock()
	after := buf.String()
	mu.Unlock()
	if after != final || !strings.HasSuffix(final, "\n") || !strings.Contains(final[strings.LastIndex(final[:len(final)-1], "\n")+1:], "10/50") {
		t.Errorf("after Close: %q (was %q)", after, final)
	}
	it.ReportProgress(w, time.Millisecond, false) // closed: no reporter starts
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
