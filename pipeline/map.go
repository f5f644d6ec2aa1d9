package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"
)

// MapFunc transforms one sample's value. It runs concurrently on several
// workers: it must be safe for concurrent use and take all randomness from
// s.Rand(view). It owns s.Value (it may reuse or modify it) unless the
// source shares values (Slice). Returning ErrSkip drops the sample silently;
// any other error becomes a per-sample *SampleError naming the sample. A
// panic is recovered and becomes such an error too (Panic set): map
// functions usually decode untrusted bytes, and one corrupt file must not
// kill an epoch.
type MapFunc[T, U any] func(ctx context.Context, s Sample[T]) (U, error)

// MapOptions configures a Map stage.
type MapOptions struct {
	// Name labels the stage in metrics and errors (default "map").
	Name string
	// Workers is the number of goroutines (default runtime.GOMAXPROCS(0)).
	Workers int
	// Unordered passes samples on as soon as they are done instead of in
	// input order. Output order then depends on scheduling, so a State taken
	// from such a run is not exact: use it for throughput-bound jobs whose
	// consumer does not care about order (e.g. writing shards).
	Unordered bool
	// Chunk is the number of samples a worker takes at once. 0 adapts it per
	// worker between 1 and 256, aiming at about 1ms of work per chunk: a
	// hand-off between goroutines costs some microseconds (a wake-up), so
	// cheap functions need many samples per hand-off to scale, while
	// expensive ones (a decode) go one sample at a time.
	Chunk int
	// Window bounds the chunks in flight (taken, not yet consumed downstream):
	// default 2 x Workers. This is the stage's backpressure: when the consumer
	// stalls, workers stop taking input.
	Window int
}

const (
	maxChunk    = 256
	chunkTarget = time.Millisecond
	warmChunks  = 16 // chunks timed one by one at the start of a worker
	timeEvery   = 8  // afterwards, one chunk in timeEvery is timed
)

// Map applies fn to every sample of s on o.Workers goroutines. Per-sample
// errors coming from upstream pass through untouched.
func Map[T, U any](s *Stream[T], fn MapFunc[T, U], o MapOptions) *Stream[U] {
	if o.Name == "" {
		o.Name = "map"
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Window <= 0 {
		o.Window = 2 * o.Workers
	}
	return &Stream[U]{build: func(rc *runCtx) (node[U], error) {
		up, err := s.build(rc)
		if err != nil {
			return nil, err
		}
		m := &mapNode[T, U]{
			rc: rc, up: up, fn: fn, o: o,
			stats:   rc.addStage(o.Name, o.Workers),
			tokens:  make(chan struct{}, o.Window),
			results: make(chan *chunk[U], o.Window),
			free:    make(chan *chunk[U], o.Window),
			pending: make([]*chunk[U], o.Window),
			upMu:    make(chanMutex, 1),
			total:   -1,
		}
		m.stats.queueCap.Store(int64(o.Window))
		for range o.Window {
			m.tokens <- struct{}{}
		}
		for range o.Workers {
			rc.wg.Add(1)
			go m.worker()
		}
		return m, nil
	}}
}

type chunk[U any] struct {
	seq   int
	items []item[U]
	err   error // io.EOF or a fatal error: the end of the stream
}

type mapNode[T, U any] struct {
	rc    *runCtx
	up    node[T]
	fn    MapFunc[T, U]
	o     MapOptions
	stats *stageStats

	tokens  chan struct{}
	results chan *chunk[U]
	free    chan *chunk[U]

	upMu   chanMutex
	seq    int  // next chunk number (under upMu)
	upDone bool // upstream ended (under upMu)

	// consumer side
	pending  []*chunk[U] // ordered: ring indexed by seq % Window
	exp      int         // ordered: next chunk to hand out
	received int         // unordered: data chunks received
	total    int         // unordered: data chunks in the stream, once known (-1 before)
	cur      *chunk[U]
	off      int
	ended    bool
	endErr   error
}

// chanMutex is a mutex whose Lock can be abandoned when the run is cancelled.
type chanMutex chan struct{}

func (m *mapNode[T, U]) lock() bool {
	select {
	case m.upMu <- struct{}{}:
		return true
	case <-m.rc.ctx.Done():
		return false
	}
}

func (m *mapNode[T, U]) unlock() { <-m.upMu }

func (m *mapNode[T, U]) getChunk() *chunk[U] {
	select {
	case c := <-m.free:
		return c
	default:
		return &chunk[U]{}
	}
}

func (m *mapNode[T, U]) putChunk(c *chunk[U]) {
	clear(c.items)
	c.items = c.items[:0]
	c.err = nil
	select {
	case m.free <- c:
	default:
	}
}

func (m *mapNode[T, U]) worker() {
	defer m.rc.wg.Done()
	ctx := m.rc.ctx
	size := m.o.Chunk
	if size <= 0 {
		size = 1
	}
	in := make([]item[T], maxChunk)
	if m.o.Chunk > maxChunk {
		in = make([]item[T], m.o.Chunk)
	}
	for iter := 0; ; iter++ {
		// The clock is read on a sample of chunks only (every chunk while
		// warming up): on some VMs a clock read costs a microsecond.
		timed, weight := iter < warmChunks || iter%timeEvery == 0, int64(1)
		if iter >= warmChunks {
			weight = timeEvery
		}
		select {
		case <-m.tokens:
		default:
			// Blocked on output (the window is full): time it, the worker
			// is idle anyway.
			t := time.Now()
			select {
			case <-m.tokens:
			case <-ctx.Done():
				return
			}
			m.stats.wait.Add(int64(time.Since(t)))
		}
		var t1 time.Time
		if timed {
			t1 = time.Now()
		}
		if !m.lock() {
			return
		}
		if m.upDone {
			m.unlock()
			m.tokens <- struct{}{}
			return
		}
		n, err := m.up.read(in[:size])
		seq := m.seq
		m.seq++
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			m.upDone = true
			m.unlock()
			c := m.getChunk()
			c.seq, c.err = seq, err
			m.results <- c // never blocks: at most Window chunks hold tokens
			return
		}
		m.unlock()
		var t2 time.Time
		if timed {
			t2 = time.Now()
			m.stats.waitIn.Add(weight * int64(t2.Sub(t1)))
		}
		m.stats.in.Add(int64(n))
		c := m.getChunk()
		c.seq = seq
		var errs int64
		for i := range in[:n] {
			x := &in[i]
			if x.err != nil {
				c.items = append(c.items, item[U]{s: With[T, U](x.s, *new(U)), err: x.err})
				continue
			}
			u, err := m.call(ctx, x.s)
			if err != nil {
				if errors.Is(err, ErrSkip) {
					continue
				}
				errs++
				var zero U
				se := sampleErr(x.s, m.o.Name, err)
				c.items = append(c.items, item[U]{s: With(x.s, zero), err: se})
				continue
			}
			c.items = append(c.items, item[U]{s: With(x.s, u)})
		}
		clear(in[:n])
		m.stats.out.Add(int64(len(c.items)))
		m.stats.errs.Add(errs)
		if timed {
			d := time.Since(t2)
			m.stats.busy.Add(weight * int64(d))
			if m.o.Chunk <= 0 {
				if per := d / time.Duration(n); per <= 0 {
					size = maxChunk
				} else {
					size = min(max(int(chunkTarget/per), 1), maxChunk)
				}
			}
		}
		m.results <- c
	}
}

// panicError marks an error made from a recovered panic.
type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprint(p.v) }

func (m *mapNode[T, U]) call(ctx context.Context, s Sample[T]) (u U, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &SampleError{Key: s.Key, Origin: s.Origin, Stage: m.o.Name, Panic: true, Err: panicError{r}}
		}
	}()
	return m.fn(ctx, s)
}

// take returns the next chunk in output order, a chunk with err set at the
// end, or nil if block is false and none is ready.
func (m *mapNode[T, U]) take(block bool) (*chunk[U], error) {
	for {
		if !m.o.Unordered {
			if c := m.pending[m.exp%m.o.Window]; c != nil {
				m.pending[m.exp%m.o.Window] = nil
				m.exp++
				return c, nil
			}
		}
		var c *chunk[U]
		if block {
			select {
			case c = <-m.results:
			case <-m.rc.ctx.Done():
				return nil, m.rc.ctx.Err()
			}
		} else {
			select {
			case c = <-m.results:
			default:
				return nil, nil
			}
		}
		m.stats.queued.Store(int64(len(m.results)))
		if !m.o.Unordered {
			m.pending[c.seq%m.o.Window] = c
			continue
		}
		if c.err == nil {
			m.received++
			return c, nil
		}
		// End marker: data chunks are numbered 0..c.seq-1.
		m.total = c.seq
		m.tokens <- struct{}{}
		if m.received >= m.total {
			return c, nil
		}
		m.endErr = c.err
	}
}

func (m *mapNode[T, U]) read(dst []item[U]) (int, error) {
	n := 0
	for n < len(dst) {
		if m.cur != nil && m.off < len(m.cur.items) {
			k := copy(dst[n:], m.cur.items[m.off:])
			m.off += k
			n += k
			continue
		}
		if m.cur != nil {
			m.putChunk(m.cur)
			m.cur = nil
			m.tokens <- struct{}{}
		}
		if m.ended {
			break
		}
		if m.o.Unordered && m.total >= 0 && m.received >= m.total {
			m.ended = true
			break
		}
		c, err := m.take(n == 0)
		if err != nil {
			return n, err
		}
		if c == nil {
			break
		}
		if c.err != nil {
			m.ended = true
			m.endErr = c.err
			if !m.o.Unordered {
				m.tokens <- struct{}{}
			}
			break
		}
		m.cur, m.off = c, 0
	}
	if n == 0 {
		return 0, m.endErr
	}
	return n, nil
}

// Filter keeps the samples for which keep returns true. It runs in the
// goroutine that reads from it, so keep should be cheap; put expensive tests
// in a Map returning ErrSkip. Per-sample errors pass through.
func Filter[T any](s *Stream[T], keep func(Sample[T]) bool) *Stream[T] {
	return &Stream[T]{build: func(rc *runCtx) (node[T], error) {
		up, err := s.build(rc)
		if err != nil {
			return nil, err
		}
		return &filterNode[T]{up: up, keep: keep, stats: rc.addStage("filter", 1)}, nil
	}}
}

type filterNode[T any] struct {
	up    node[T]
	keep  func(Sample[T]) bool
	stats *stageStats
}

func (f *filterNode[T]) read(dst []item[T]) (int, error) {
	for {
		n, err := f.up.read(dst)
		if n == 0 {
			return 0, err
		}
		k := 0
		for i := range dst[:n] {
			if dst[i].err != nil || f.keep(dst[i].s) {
				dst[k] = dst[i]
				k++
			}
		}
		clear(dst[k:n])
		f.stats.in.Add(int64(n))
		f.stats.out.Add(int64(k))
		if k > 0 {
			return k, nil
		}
	}
}

// Prefetch reads up to n items ahead of its consumer on a goroutine of its
// own, so that the stages before it keep working while the consumer is busy
// (e.g. while a training step runs). It is the place to put the last,
// cheap-to-hold stage's output (batches), not large intermediate values.
func Prefetch[T any](s *Stream[T], n int) *Stream[T] {
	n = max(n, 1)
	return &Stream[T]{build: func(rc *runCtx) (node[T], error) {
		up, err := s.build(rc)
		if err != nil {
			return nil, err
		}
		per := max(1, n/4)
		p := &prefetchNode[T]{rc: rc, ch: make(chan *chunk[T], (n+per-1)/per), stats: rc.addStage("prefetch", 1)}
		p.stats.queueCap.Store(int64(cap(p.ch)))
		rc.wg.Add(1)
		go p.run(up, per)
		return p, nil
	}}
}

type prefetchNode[T any] struct {
	rc    *runCtx
	ch    chan *chunk[T]
	stats *stageStats
	cur   *chunk[T]
	off   int
	err   error
}

func (p *prefetchNode[T]) run(up node[T], per int) {
	defer p.rc.wg.Done()
	for iter := 0; ; iter++ {
		timed, weight := iter < warmChunks || iter%timeEvery == 0, int64(1)
		if iter >= warmChunks {
			weight = timeEvery
		}
		c := &chunk[T]{items: make([]item[T], per)}
		var t0 time.Time
		if timed {
			t0 = time.Now()
		}
		n, err := up.read(c.items)
		if timed {
			p.stats.waitIn.Add(weight * int64(time.Since(t0)))
		}
		c.items = c.items[:n]
		if n == 0 {
			c.err = err
		}
		p.stats.in.Add(int64(n))
		select {
		case p.ch <- c:
		default:
			t := time.Now()
			select {
			case p.ch <- c:
			case <-p.rc.ctx.Done():
				return
			}
			p.stats.wait.Add(int64(time.Since(t)))
		}
		p.stats.queued.Store(int64(len(p.ch)))
		if n == 0 {
			return
		}
	}
}

func (p *prefetchNode[T]) read(dst []item[T]) (int, error) {
	n := 0
	for n < len(dst) {
		if p.cur != nil && p.off < len(p.cur.items) {
			k := copy(dst[n:], p.cur.items[p.off:])
			p.off += k
			n += k
			continue
		}
		if p.err != nil {
			break
		}
		var c *chunk[T]
		if n == 0 {
			select {
			case c = <-p.ch:
			case <-p.rc.ctx.Done():
				return 0, p.rc.ctx.Err()
			}
		} else {
			select {
			case c = <-p.ch:
			default:
				return n, nil
			}
		}
		if c.err != nil {
			p.err = c.err
			break
		}
		p.cur, p.off = c, 0
		p.stats.out.Add(int64(len(c.items)))
	}
	if n == 0 {
		return 0, p.err
	}
	return n, nil
}
