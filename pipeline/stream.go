package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
)

// Stream is a recipe for a sequence of samples of type T: a source with an
// Order, followed by stages (Map, Filter, Batch, Prefetch). A Stream does
// nothing until it is run with Start or All; it can be run many times, each
// run with its own goroutines, and is safe to share between runs.
type Stream[T any] struct {
	build func(rc *runCtx) (node[T], error)
}

// item is a sample in flight: either a value or a per-sample error.
type item[T any] struct {
	s   Sample[T]
	err *SampleError
}

// node is a running stage. read blocks until it can fill dst[:n] with n >= 1
// items, or returns 0 and io.EOF at the end, or 0 and a fatal error. Only one
// goroutine calls read at a time.
type node[T any] interface {
	read(dst []item[T]) (int, error)
}

// runCtx is shared by all stages of one run.
type runCtx struct {
	ctx      context.Context
	wg       sync.WaitGroup
	start    State
	seed     uint64
	epochLen int // positions per epoch on this rank; -1 if unknown
	epochs   int // number of epochs; -1 forever
	mu       sync.Mutex
	stats    []*stageStats
}

func (rc *runCtx) addStage(name string, workers int) *stageStats {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	st := &stageStats{name: name, workers: workers}
	rc.stats = append(rc.stats, st)
	return st
}

// Order says which samples of a source a run visits and in what order: the
// seed, the number of epochs, shuffling, sharding and a limit. The resulting
// per-rank order of every epoch is a pure function of (Seed, epoch, Rank,
// World) and the source.
type Order struct {
	// Seed keys the shuffle and every sample's random stream.
	Seed uint64
	// Epochs is the number of passes over the source: 0 means 1, a negative
	// value repeats forever.
	Epochs int
	// Shuffle visits the source in a pseudo-random permutation of the whole
	// epoch (computed in O(1) memory, so resume seeks directly). The source
	// must implement RandomAccess.
	Shuffle bool
	// ShuffleBuffer, if > 1 and Shuffle is false, shuffles a streaming source
	// with a buffer of this many samples read in source order (WebDataset
	// style). Resume re-reads, but does not re-process, the epoch's prefix.
	ShuffleBuffer int
	// Rank and World shard the epoch: rank r of World sees a disjoint part of
	// the same size. With Shuffle, ranks take positions r, r+World, ... of
	// the permutation; otherwise each rank reads a contiguous block of the
	// source. World <= 1 means no sharding.
	Rank, World int
	// DropUneven makes every rank see floor(n/World) samples, dropping the
	// rest; by default each rank sees ceil(n/World), the last parts wrapping
	// around to the start (as PyTorch's DistributedSampler does).
	DropUneven bool
	// Limit, if > 0, caps the samples per epoch on each rank.
	Limit int
}

// From starts a Stream at src, visited in order o.
func From[T any](src Source[T], o Order) *Stream[T] {
	return &Stream[T]{build: func(rc *runCtx) (node[T], error) {
		return newPlanNode(rc, src, o)
	}}
}

// planNode reads the source in the run's order and numbers the positions.
type planNode[T any] struct {
	rc    *runCtx
	src   Source[T]
	ra    RandomAccess[T]
	o     Order
	world int
	n     int // source length, -1 unknown
	m     int // positions per epoch, -1 unknown
	stats *stageStats

	epoch, pos int
	inEpoch    bool
	done       bool
	perm       permutation

	// sequential modes
	rd      Reader[T]
	cur     int // source index rd returns next
	blockJ  int // next block offset to read (n known)
	rawPos  int // raw stream items read this epoch (n unknown)
	rawEOF  bool
	buf     []item[T]
	rng     *rand.Rand
	strideG int // items produced by the shuffled stream this epoch
}

func newPlanNode[T any](rc *runCtx, src Source[T], o Order) (*planNode[T], error) {
	p := &planNode[T]{rc: rc, src: src, o: o, world: max(o.World, 1), n: src.Len()}
	if o.Rank < 0 || o.Rank >= p.world {
		return nil, fmt.Errorf("pipeline: rank %d out of range for world size %d", o.Rank, p.world)
	}
	if o.Shuffle {
		ra, ok := src.(RandomAccess[T])
		if !ok || p.n < 0 {
			return nil, ErrNotRandomAccess
		}
		p.ra = ra
	}
	p.m = -1
	if p.n >= 0 {
		if o.DropUneven {
			p.m = p.n / p.world
		} else {
			p.m = (p.n + p.world - 1) / p.world
		}
		if o.Limit > 0 {
			p.m = min(p.m, o.Limit)
		}
	}
	rc.seed = o.Seed
	rc.epochLen = p.m
	rc.epochs = o.Epochs
	if rc.epochs == 0 {
		rc.epochs = 1
	} else if rc.epochs < 0 {
		rc.epochs = -1
	}
	p.stats = rc.addStage("source", 1)
	p.epoch = rc.start.Epoch
	p.pos = rc.start.Position
	if p.m >= 0 && p.pos > p.m {
		return nil, fmt.Errorf("pipeline: resume position %d beyond epoch length %d", p.pos, p.m)
	}
	return p, nil
}

func (p *planNode[T]) read(dst []item[T]) (int, error) {
	if err := p.rc.ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	for n < len(dst) {
		if p.done {
			break
		}
		it, ok, err := p.next()
		if err != nil {
			return n, err
		}
		if !ok {
			continue // epoch ended; next() moved on
		}
		dst[n] = it
		n++
	}
	p.stats.out.Add(int64(n))
	if n == 0 {
		p.closeReader()
		return 0, io.EOF
	}
	return n, nil
}

func (p *planNode[T]) closeReader() {
	if p.rd != nil {
		p.rd.Close()
		p.rd = nil
	}
}

func (p *planNode[T]) endEpoch() {
	p.inEpoch = false
	p.epoch++
	p.pos = 0
	if p.rc.epochs >= 0 && p.epoch >= p.rc.epochs {
		p.done = true
		p.closeReader()
	}
}

func (p *planNode[T]) beginEpoch() error {
	p.inEpoch = true
	if p.rc.epochs >= 0 && p.epoch >= p.rc.epochs {
		p.done = true
		return nil
	}
	if p.o.Shuffle {
		p.perm = newPermutation(p.n, p.o.Seed, uint64(p.epoch))
		return nil
	}
	p.blockJ, p.rawPos, p.rawEOF, p.strideG = 0, 0, false, 0
	p.buf = p.buf[:0]
	if p.o.ShuffleBuffer > 1 {
		// The same stream on every rank: with an unknown length the ranks
		// stride over this one shuffled order.
		a, b := SampleSeed(p.o.Seed, uint64(p.epoch), ^uint64(0), 0)
		p.rng = rand.New(rand.NewPCG(a, b))
	}
	skip := p.pos
	if p.n >= 0 && p.o.ShuffleBuffer <= 1 {
		p.blockJ = skip // seek: the reader opens there on demand
		return nil
	}
	// Replay the order up to the resume position, reading but not processing.
	p.pos = 0
	for p.pos < skip {
		_, ok, err := p.nextSeq()
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("pipeline: resume position %d beyond end of epoch %d", skip, p.epoch)
		}
		p.pos++
	}
	return nil
}

// next produces the item at position p.pos of the current epoch, or ok=false
// when the epoch has ended.
func (p *planNode[T]) next() (item[T], bool, error) {
	if !p.inEpoch {
		if err := p.beginEpoch(); err != nil {
			return item[T]{}, false, err
		}
		if p.done {
			return item[T]{}, false, nil
		}
	}
	if p.m >= 0 && p.pos >= p.m || p.o.Limit > 0 && p.pos >= p.o.Limit {
		p.endEpoch()
		return item[T]{}, false, nil
	}
	var it item[T]
	if p.o.Shuffle {
		q := (p.o.Rank + p.pos*p.world) % p.n
		idx := p.perm.at(q)
		s, err := p.ra.At(p.rc.ctx, idx)
		s.Index = idx
		it, err = p.mkItem(s, err)
		if err != nil {
			return it, false, err
		}
	} else {
		var ok bool
		var err error
		it, ok, err = p.nextSeq()
		if err != nil {
			return it, false, err
		}
		if !ok {
			p.endEpoch()
			return item[T]{}, false, nil
		}
	}
	it.s.Pos, it.s.Epoch, it.s.Seed = p.pos, p.epoch, p.o.Seed
	if it.err != nil {
		it.err.Epoch = p.epoch
	}
	p.pos++
	return it, true, nil
}

func (p *planNode[T]) mkItem(s Sample[T], err error) (item[T], error) {
	s.Epoch, s.Seed = p.epoch, p.o.Seed
	if err == nil {
		return item[T]{s: s}, nil
	}
	var se *SampleError
	if errors.As(err, &se) {
		return item[T]{s: s, err: sampleErr(s, "source", err)}, nil
	}
	return item[T]{}, err
}

// nextSeq returns the next item of the sequential order: the rank's block (or
// the whole source when its length is unknown), through the shuffle buffer,
// then strided by rank when the length is unknown.
func (p *planNode[T]) nextSeq() (item[T], bool, error) {
	for {
		it, ok, err := p.nextShuffled()
		if err != nil || !ok {
			return it, ok, err
		}
		if p.n >= 0 || p.world == 1 {
			return it, true, nil
		}
		g := p.strideG
		p.strideG++
		if g%p.world == p.o.Rank {
			return it, true, nil
		}
	}
}

func (p *planNode[T]) nextShuffled() (item[T], bool, error) {
	if p.o.ShuffleBuffer <= 1 {
		return p.nextRaw()
	}
	for !p.rawEOF && len(p.buf) < p.o.ShuffleBuffer {
		it, ok, err := p.nextRaw()
		if err != nil {
			return it, false, err
		}
		if !ok {
			p.rawEOF = true
			break
		}
		p.buf = append(p.buf, it)
	}
	if len(p.buf) == 0 {
		return item[T]{}, false, nil
	}
	k := p.rng.IntN(len(p.buf))
	it := p.buf[k]
	last := len(p.buf) - 1
	p.buf[k] = p.buf[last]
	p.buf[last] = item[T]{}
	p.buf = p.buf[:last]
	return it, true, nil
}

// nextRaw reads the next sample of the rank's block in source order.
func (p *planNode[T]) nextRaw() (item[T], bool, error) {
	var idx int
	if p.n >= 0 {
		if p.blockJ >= p.m {
			return item[T]{}, false, nil
		}
		idx = (p.o.Rank*p.m + p.blockJ) % p.n
		p.blockJ++
	} else {
		idx = p.rawPos
	}
	if p.rd == nil || p.cur != idx {
		p.closeReader()
		rd, err := p.src.Open(p.rc.ctx, idx)
		if err != nil {
			return item[T]{}, false, err
		}
		p.rd, p.cur = rd, idx
	}
	s, err := p.rd.Next()
	if err == io.EOF {
		p.closeReader()
		return item[T]{}, false, nil
	}
	p.cur++
	p.rawPos++
	s.Index = idx
	it, err := p.mkItem(s, err)
	return it, err == nil, err
}
