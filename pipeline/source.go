package pipeline

import (
	"context"
	"fmt"
	"io"
)

// Source is a finite sequence of samples in a fixed order, the source order.
// A sample's position in source order is its global Index.
//
// Len reports the number of samples, or -1 when it is not known without
// reading everything (sharding into equal parts and equal batch counts per
// rank need a known length).
//
// Open returns a Reader positioned at index start (0 <= start <= Len). A source
// that can seek must do so without reading the skipped samples; others may
// read and discard them. Open may be called several times, also concurrently;
// each Reader is used by one goroutine at a time.
type Source[T any] interface {
	Len() int
	Open(ctx context.Context, start int) (Reader[T], error)
}

// Reader reads samples of a Source in order.
//
// Next returns the next sample with Index, Value and, where known, Key and
// Origin set. At the end it returns io.EOF. A failure confined to one sample
// is returned as a *SampleError (with that sample's Index); the Reader stays
// usable and the next call moves on to the following sample. Any other error
// is fatal for the pipeline.
//
// The pipeline owns a returned Value until it hands it to the consumer; a
// Reader must not modify it after returning it.
type Reader[T any] interface {
	Next() (Sample[T], error)
	Close() error
}

// RandomAccess is implemented by sources that can return any sample by index
// at the cost of reading just that sample. A global Shuffle needs it. At must
// be safe for concurrent use; its errors follow Reader.Next's contract.
type RandomAccess[T any] interface {
	Source[T]
	At(ctx context.Context, i int) (Sample[T], error)
}

// SliceSource is an in-memory source over a slice. Values are shared, not
// copied: stages must not modify them in place.
type SliceSource[T any] struct {
	xs  []T
	key func(i int) string
}

// Slice returns a random-access source over xs. Sample Keys are empty; the
// index names a sample in errors.
func Slice[T any](xs []T) *SliceSource[T] { return &SliceSource[T]{xs: xs} }

// Len returns len(xs).
func (s *SliceSource[T]) Len() int { return len(s.xs) }

// At returns sample i.
func (s *SliceSource[T]) At(_ context.Context, i int) (Sample[T], error) {
	if i < 0 || i >= len(s.xs) {
		return Sample[T]{}, fmt.Errorf("pipeline: slice index %d out of range [0,%d)", i, len(s.xs))
	}
	return Sample[T]{Index: i, Value: s.xs[i]}, nil
}

// Open returns a reader starting at index start.
func (s *SliceSource[T]) Open(ctx context.Context, start int) (Reader[T], error) {
	return OpenAt[T](ctx, s, start)
}

// OpenAt implements Source.Open for a random-access source by calling At for
// consecutive indices from start, stopping at Len.
func OpenAt[T any](ctx context.Context, ra RandomAccess[T], start int) (Reader[T], error) {
	if start < 0 || start > ra.Len() {
		return nil, fmt.Errorf("pipeline: open at %d: out of range [0,%d]", start, ra.Len())
	}
	return &atReader[T]{ctx: ctx, ra: ra, i: start, n: ra.Len()}, nil
}

type atReader[T any] struct {
	ctx  context.Context
	ra   RandomAccess[T]
	i, n int
}

func (r *atReader[T]) Next() (Sample[T], error) {
	if r.i >= r.n {
		return Sample[T]{}, io.EOF
	}
	i := r.i
	r.i++
	s, err := r.ra.At(r.ctx, i)
	s.Index = i
	return s, err
}

func (r *atReader[T]) Close() error { return nil }

// InterleaveSource takes samples round-robin from several sources; a source
// that runs out drops out of the rotation. Its source order (and so the global
// Index) is the interleaved order.
type InterleaveSource[T any] struct {
	srcs []Source[T]
	lens []int
	n    int
}

// Interleave returns a source that alternates between srcs (one sample from
// each in turn). If all srcs know their length, the result does too, seeks on
// Open and, if all are RandomAccess, is RandomAccess.
func Interleave[T any](srcs ...Source[T]) *InterleaveSource[T] {
	s := &InterleaveSource[T]{srcs: srcs, lens: make([]int, len(srcs))}
	for i, src := range srcs {
		s.lens[i] = src.Len()
		if s.lens[i] < 0 || s.n < 0 {
			s.n = -1
		} else {
			s.n += s.lens[i]
		}
	}
	return s
}

// Len is the sum of the lengths, or -1 if one is unknown.
func (s *InterleaveSource[T]) Len() int { return s.n }

// locate returns, for interleaved position p, how many samples of each source
// precede it and which source serves it. Lengths must be known.
func (s *InterleaveSource[T]) locate(p int) (taken []int, next int) {
	taken = make([]int, len(s.srcs))
	for {
		active := 0
		minRem := -1
		for k, n := range s.lens {
			if rem := n - taken[k]; rem > 0 {
				active++
				if minRem < 0 || rem < minRem {
					minRem = rem
				}
			}
		}
		if active == 0 {
			return taken, -1
		}
		if p >= minRem*active {
			for k, n := range s.lens {
				if n-taken[k] > 0 {
					taken[k] += minRem
				}
			}
			p -= minRem * active
			continue
		}
		full := p / active
		p -= full * active
		for k, n := range s.lens {
			if n-taken[k] > 0 {
				taken[k] += full
			}
		}
		// p < active: the p-th active source serves; the ones before it took one more.
		for k, n := range s.lens {
			if n-taken[k] > 0 {
				if p == 0 {
					return taken, k
				}
				taken[k]++
				p--
			}
		}
	}
}

// At returns interleaved sample i; every source must be RandomAccess.
func (s *InterleaveSource[T]) At(ctx context.Context, i int) (Sample[T], error) {
	if s.n < 0 || i < 0 || i >= s.n {
		return Sample[T]{}, fmt.Errorf("pipeline: interleave index %d out of range [0,%d)", i, s.n)
	}
	taken, k := s.locate(i)
	ra, ok := s.srcs[k].(RandomAccess[T])
	if !ok {
		return Sample[T]{}, ErrNotRandomAccess
	}
	smp, err := ra.At(ctx, taken[k])
	smp.Index = i
	if se, ok := err.(*SampleError); ok {
		c := *se
		c.Index = i
		err = &c
	}
	return smp, err
}

// Open returns a reader at interleaved position start.
func (s *InterleaveSource[T]) Open(ctx context.Context, start int) (Reader[T], error) {
	r := &interleaveReader[T]{s: s, rs: make([]Reader[T], len(s.srcs)), done: make([]bool, len(s.srcs)), i: start}
	starts := make([]int, len(s.srcs))
	skip := 0
	if s.n >= 0 {
		if start > s.n {
			return nil, fmt.Errorf("pipeline: open at %d: out of range [0,%d]", start, s.n)
		}
		starts, r.k = s.locate(start)
		if r.k < 0 {
			r.k = 0
		}
	} else {
		skip = start
		r.i = 0
	}
	for k, src := range s.srcs {
		rd, err := src.Open(ctx, starts[k])
		if err != nil {
			r.Close()
			return nil, err
		}
		r.rs[k] = rd
	}
	for ; skip > 0; skip-- {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			if _, ok := err.(*SampleError); !ok {
				r.Close()
				return nil, err
			}
		}
	}
	return r, nil
}

type interleaveReader[T any] struct {
	s    *InterleaveSource[T]
	rs   []Reader[T]
	done []bool
	k    int // source to read next
	i    int // interleaved index of the next sample
}

func (r *interleaveReader[T]) Next() (Sample[T], error) {
	for range len(r.rs) + 1 {
		k := r.k
		if r.done[k] {
			r.k = (k + 1) % len(r.rs)
			continue
		}
		smp, err := r.rs[k].Next()
		if err == io.EOF {
			r.done[k] = true
			r.k = (k + 1) % len(r.rs)
			continue
		}
		r.k = (k + 1) % len(r.rs)
		smp.Index = r.i
		if se, ok := err.(*SampleError); ok {
			c := *se
			c.Index = r.i
			err = &c
		}
		r.i++
		return smp, err
	}
	return Sample[T]{}, io.EOF
}

func (r *interleaveReader[T]) Close() error {
	var first error
	for _, rd := range r.rs {
		if rd != nil {
			if err := rd.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
