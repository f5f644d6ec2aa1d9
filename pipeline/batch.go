package pipeline

import (
	"fmt"
	"io"
)

// Batch is a group of consecutive samples. Samples[:Valid] are real;
// Samples[Valid:] are padding that repeats real samples so that the batch
// has the full size: samples of the same batch, or, in a batch with Valid
// == 0 (added to keep the per-epoch batch count), samples of the most recent
// batch with real samples. Padding shares Values with those samples, so
// Values must be treated as read-only; a consumer that recycles Value
// buffers (e.g. into a sync.Pool) must recycle only Samples[:Valid], and
// must keep the last real batch of an epoch until the epoch's batches are
// all delivered. A trainer masks padding out of the loss, or ignores it.
type Batch[T any] struct {
	Samples []Sample[T]
	Valid   int
}

// BatchOptions configures Batches.
type BatchOptions struct {
	Size int // samples per batch (> 0)
	// DropLast drops an epoch's final partial batch; PadLast pads it to Size.
	// With neither, the final batch is short.
	DropLast, PadLast bool
}

// Batches groups the samples of each epoch into batches of o.Size; a batch
// never spans two epochs. Per-sample errors are passed on beside the batches
// (they are not part of any batch), so that the run's ErrorPolicy sees them.
//
// When the epoch length is known (the source knows its Len), every epoch
// yields exactly the same number of batches, n/Size with DropLast and
// ceil(n/Size) otherwise, where n is the rank's share of the epoch: samples
// that fail or are filtered out are replaced by the following ones, and if
// the epoch runs short the missing batches are padded (Valid < Size). With
// sharding this keeps every rank at the same step count, so distributed
// training cannot hang on a rank that skipped a corrupt file.
//
// The emitted Sample[Batch[T]] has Index = batch number within the epoch.
// Batches must be the last stage that changes the number of items (after it,
// only Map and Prefetch), so that a State counts batches.
func Batches[T any](s *Stream[T], o BatchOptions) *Stream[Batch[T]] {
	return &Stream[Batch[T]]{build: func(rc *runCtx) (node[Batch[T]], error) {
		if o.Size <= 0 {
			return nil, fmt.Errorf("pipeline: batch size %d must be positive", o.Size)
		}
		up, err := s.build(rc)
		if err != nil {
			return nil, err
		}
		b := &batchNode[T]{rc: rc, up: up, o: o, stats: rc.addStage("batch", 1),
			in: make([]item[T], max(o.Size, 64)), epoch: rc.start.Epoch, count: rc.start.Emitted}
		b.want = -1
		if m := rc.epochLen; m >= 0 {
			if o.DropLast {
				b.want = m / o.Size
			} else {
				b.want = (m + o.Size - 1) / o.Size
			}
		}
		return b, nil
	}}
}

type batchNode[T any] struct {
	rc    *runCtx
	up    node[T]
	o     BatchOptions
	stats *stageStats
	in    []item[T]
	inOff int
	inN   int

	epoch   int
	count   int // batches emitted in this epoch
	want    int // batches per epoch, -1 unknown
	lastPos int
	cur     []Sample[T]
	last    []Sample[T] // most recent real samples, for padding
	out     []item[Batch[T]]
	done    bool
	err     error
}

func (b *batchNode[T]) emit(samples []Sample[T], pad bool, pos int) {
	valid := len(samples)
	if pad && valid < b.o.Size {
		src := samples
		if valid == 0 {
			src = b.last
		}
		for i := 0; len(samples) < b.o.Size; i++ {
			if len(src) == 0 {
				samples = append(samples, Sample[T]{Index: -1, Epoch: b.epoch, Seed: b.rc.seed})
				continue
			}
			samples = append(samples, src[i%len(src)])
		}
	}
	if valid > 0 {
		b.last = samples[:valid]
	}
	b.out = append(b.out, item[Batch[T]]{s: Sample[Batch[T]]{
		Value: Batch[T]{Samples: samples, Valid: valid},
		Index: b.count, Pos: pos, Epoch: b.epoch, Seed: b.rc.seed,
	}})
	b.count++
	b.stats.out.Add(1)
}

// finish closes the current epoch: the final partial batch and, when the
// epoch length is known, padding batches up to the fixed count.
func (b *batchNode[T]) finish() {
	pos := b.lastPos
	if m := b.rc.epochLen; m > 0 {
		pos = m - 1
	}
	if b.want >= 0 {
		for b.count < b.want {
			short := len(b.cur) > 0 && b.count == b.want-1 && !b.o.DropLast && !b.o.PadLast
			b.emit(b.cur, !short, pos)
			b.cur = nil
		}
	} else if len(b.cur) > 0 && !b.o.DropLast {
		b.emit(b.cur, b.o.PadLast, pos)
	}
	b.cur = nil
	b.epoch++
	b.count = 0
}

func (b *batchNode[T]) read(dst []item[Batch[T]]) (int, error) {
	for len(b.out) == 0 && !b.done {
		if b.inOff >= b.inN {
			n, err := b.up.read(b.in)
			if n == 0 {
				if err != io.EOF {
					return 0, err
				}
				last := b.epoch
				if b.rc.epochs > 0 {
					last = b.rc.epochs - 1
				}
				for b.epoch <= last {
					b.finish()
				}
				b.done = true
				b.err = io.EOF
				break
			}
			b.inOff, b.inN = 0, n
			b.stats.in.Add(int64(n))
		}
		x := b.in[b.inOff]
		b.in[b.inOff] = item[T]{}
		b.inOff++
		for x.s.Epoch > b.epoch {
			b.finish()
		}
		if x.err != nil {
			b.out = append(b.out, item[Batch[T]]{s: Sample[Batch[T]]{Index: -1, Pos: x.s.Pos, Epoch: x.s.Epoch, Seed: x.s.Seed}, err: x.err})
			continue
		}
		b.lastPos = x.s.Pos
		b.cur = append(b.cur, x.s)
		if len(b.cur) == b.o.Size {
			if b.want < 0 || b.count < b.want {
				b.emit(b.cur, false, x.s.Pos)
			}
			b.cur = make([]Sample[T], 0, b.o.Size)
		}
	}
	n := copy(dst, b.out)
	clear(b.out[:n])
	b.out = b.out[n:]
	if n == 0 {
		return 0, b.err
	}
	return n, nil
}
