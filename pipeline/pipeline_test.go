package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
	"go.uber.org/goleak"
)

// rec is what the test map makes of a sample: its identity and the first
// draws of two views' random streams (the stand-in for an augmentation).
type rec struct {
	Index, Epoch, Value int
	V0, V1              uint64
}

func twoViews(_ context.Context, s pipeline.Sample[int]) (rec, error) {
	return rec{Index: s.Index, Epoch: s.Epoch, Value: s.Value, V0: s.Rand(0).Uint64(), V1: s.Rand(1).Uint64()}, nil
}

func ints(n int) []int {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = 1000 + i
	}
	return xs
}

// batchRecs flattens a batch for comparison; padding is marked.
type batchOut struct {
	Epoch, Index, Valid int
	Recs                []rec
}

func collectBatches(t *testing.T, s *pipeline.Stream[pipeline.Batch[rec]], o pipeline.RunOptions) []batchOut {
	t.Helper()
	var out []batchOut
	for b, err := range pipeline.All(context.Background(), s, o) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, toBatchOut(b))
	}
	return out
}

func toBatchOut(b pipeline.Sample[pipeline.Batch[rec]]) batchOut {
	bo := batchOut{Epoch: b.Epoch, Index: b.Index, Valid: b.Value.Valid}
	for _, s := range b.Value.Samples {
		bo.Recs = append(bo.Recs, s.Value)
	}
	return bo
}

func pipe(src pipeline.Source[int], o pipeline.Order, workers, chunk, batch int) *pipeline.Stream[pipeline.Batch[rec]] {
	s := pipeline.From(src, o)
	m := pipeline.Map(s, twoViews, pipeline.MapOptions{Workers: workers, Chunk: chunk})
	return pipeline.Batches(m, pipeline.BatchOptions{Size: batch, DropLast: true})
}

// (a) Same samples, same draws, same batches for 1, 2 and 8 workers, any
// chunking, with and without shuffle, over several epochs.
func TestDeterministicAcrossWorkers(t *testing.T) {
	src := pipeline.Slice(ints(1003))
	for _, o := range []pipeline.Order{
		{Seed: 5, Epochs: 2},
		{Seed: 5, Epochs: 2, Shuffle: true},
		{Seed: 5, Epochs: 2, ShuffleBuffer: 64},
		{Seed: 5, Epochs: 2, Shuffle: true, Rank: 1, World: 3},
	} {
		want := collectBatches(t, pipe(src, o, 1, 1, 16), pipeline.RunOptions{})
		if n := len(want); n != 2*((1003/max(o.World, 1)+1)/16) && n != 2*(1003/16) {
			t.Fatalf("%+v: %d batches", o, n)
		}
		for _, w := range []int{2, 8} {
			for _, chunk := range []int{0, 1, 7} {
				got := collectBatches(t, pipe(src, o, w, chunk, 16), pipeline.RunOptions{})
				if !slices.EqualFunc(got, want, batchEqual) {
					t.Fatalf("%+v: workers %d chunk %d: batches differ from 1 worker", o, w, chunk)
				}
			}
		}
		// Epochs differ (new permutation and new draws), and the draws are the
		// pure function SampleRand(seed, epoch, index, view).
		for _, b := range want {
			for _, r := range b.Recs {
				if r.V0 != pipeline.SampleRand(5, uint64(r.Epoch), uint64(r.Index), 0).Uint64() {
					t.Fatalf("draw of sample %d is not SampleRand(seed, epoch, index, 0)", r.Index)
				}
				if r.Value != 1000+r.Index {
					t.Fatalf("sample %d carries value %d", r.Index, r.Value)
				}
			}
		}
	}
}

func batchEqual(a, b batchOut) bool {
	return a.Epoch == b.Epoch && a.Index == b.Index && a.Valid == b.Valid && slices.Equal(a.Recs, b.Recs)
}

// (a) Sharding: for every world size, the ranks' parts are disjoint, equal in
// size, cover the epoch, and each sample gets the same draws as with one
// rank. At a fixed world size, a rank's batches do not depend on whether the
// ranks run one after another or concurrently, nor on the worker count.
func TestShardingLayouts(t *testing.T) {
	const n = 1000
	src := pipeline.Slice(ints(n))
	single := map[int]rec{}
	for _, b := range collectBatches(t, pipe(src, pipeline.Order{Seed: 3, Shuffle: true}, 4, 0, 1), pipeline.RunOptions{}) {
		single[b.Recs[0].Index] = b.Recs[0]
	}
	for _, shuffle := range []bool{false, true} {
		for _, world := range []int{2, 3, 4, 8} {
			seen := map[int]int{}
			per := -1
			for rank := range world {
				o := pipeline.Order{Seed: 3, Shuffle: shuffle, Rank: rank, World: world, DropUneven: true}
				bs := collectBatches(t, pipe(src, o, 3, 0, 1), pipeline.RunOptions{})
				if per >= 0 && len(bs) != per {
					t.Fatalf("world %d: rank %d sees %d samples, rank 0 %d", world, rank, len(bs), per)
				}
				per = len(bs)
				for _, b := range bs {
					r := b.Recs[0]
					seen[r.Index]++
					if single[r.Index] != r {
						t.Fatalf("world %d rank %d: sample %d draws differ from world 1", world, rank, r.Index)
					}
				}
			}
			if per != n/world || len(seen) != per*world {
				t.Fatalf("world %d: %d per rank, %d distinct (want %d, %d)", world, per, len(seen), n/world, n/world*world)
			}
			for idx, c := range seen {
				if c != 1 {
					t.Fatalf("world %d: sample %d seen %d times", world, idx, c)
				}
			}
		}
	}
	// Without DropUneven: every rank has ceil(n/world), the union covers all.
	const world = 3
	seen := map[int]bool{}
	results := make([][]batchOut, world)
	done := make(chan int)
	for rank := range world {
		go func() {
			o := pipeline.Order{Seed: 3, Shuffle: true, Rank: rank, World: world, Epochs: 2}
			var out []batchOut
			for b, err := range pipeline.All(context.Background(), pipe(src, o, 8, 0, 10), pipeline.RunOptions{}) {
				if err != nil {
					panic(err)
				}
				out = append(out, toBatchOut(b))
			}
			results[rank] = out
			done <- rank
		}()
	}
	for range world {
		<-done
	}
	for rank := range world {
		o := pipeline.Order{Seed: 3, Shuffle: true, Rank: rank, World: world, Epochs: 2}
		seq := collectBatches(t, pipe(src, o, 1, 1, 10), pipeline.RunOptions{})
		if !slices.EqualFunc(seq, results[rank], batchEqual) {
			t.Fatalf("rank %d: concurrent layout differs from sequential", rank)
		}
		if len(seq) != 2*(334/10) {
			t.Fatalf("rank %d: %d batches", rank, len(seq))
		}
		for _, b := range seq {
			for _, r := range b.Recs {
				if r.Epoch == 0 {
					seen[r.Index] = true
				}
			}
		}
	}
	if len(seen) < n-world*4 { // DropLast drops up to 4 of each rank's 334
		t.Fatalf("ranks cover %d of %d samples", len(seen), n)
	}
}

// countingSource counts At calls, to check that resume seeks.
type countingSource struct {
	*pipeline.SliceSource[int]
	reads atomic.Int64
}

func (c *countingSource) At(ctx context.Context, i int) (pipeline.Sample[int], error) {
	c.reads.Add(1)
	return c.SliceSource.At(ctx, i)
}

func (c *countingSource) Open(ctx context.Context, start int) (pipeline.Reader[int], error) {
	return pipeline.OpenAt[int](ctx, c, start)
}

// (b) Stop at a random point, save the state as JSON, resume, and compare
// batch by batch with an uninterrupted run.
func TestResumeMatchesUninterrupted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 777
	for _, o := range []pipeline.Order{
		{Seed: 11, Epochs: 3, Shuffle: true},
		{Seed: 11, Epochs: 3},
		{Seed: 11, Epochs: 2, ShuffleBuffer: 50},
		{Seed: 11, Epochs: 2, Shuffle: true, Rank: 2, World: 4},
		{Seed: 11, Epochs: 2, Rank: 1, World: 2, Limit: 300},
	} {
		src := &countingSource{SliceSource: pipeline.Slice(ints(n))}
		want := collectBatches(t, pipe(src, o, 4, 0, 8), pipeline.RunOptions{})
		trials := 5
		if testing.Short() {
			trials = 2
		}
		for range trials {
			stop := rng.IntN(len(want))
			var got []batchOut
			it, err := pipeline.Start(context.Background(), pipe(src, o, 4, 0, 8), pipeline.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for range stop {
				b, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, toBatchOut(b))
			}
			st := it.State()
			it.Close()
			js, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			var st2 pipeline.State
			if err := json.Unmarshal(js, &st2); err != nil {
				t.Fatal(err)
			}
			src.reads.Store(0)
			got = append(got, collectBatches(t, pipe(src, o, 2, 0, 8), pipeline.RunOptions{Resume: &st2})...)
			if !slices.EqualFunc(got, want, batchEqual) {
				t.Fatalf("%+v: resumed after %d batches (state %s): result differs", o, stop, js)
			}
			// Seeking sources are not re-read before the resume point.
			if o.ShuffleBuffer == 0 {
				remaining := 0
				for _, b := range want[stop:] {
					remaining += len(b.Recs)
				}
				if r := src.reads.Load(); r > int64(remaining+8*3) {
					t.Errorf("%+v: resume read %d samples for %d remaining", o, r, remaining)
				}
			}
		}
	}
}

// (c) Cancelling the context, breaking out of a loop, or closing an unread
// run leaves no goroutine behind, also with a map function blocked on ctx.
func TestCancelAndBreakLeakNothing(t *testing.T) {
	defer goleak.VerifyNone(t)
	src := pipeline.Slice(ints(10000))
	build := func() *pipeline.Stream[pipeline.Batch[rec]] {
		s := pipeline.From(src, pipeline.Order{Seed: 1, Shuffle: true, Epochs: -1})
		m := pipeline.Map(s, twoViews, pipeline.MapOptions{Workers: 8})
		f := pipeline.Filter(m, func(s pipeline.Sample[rec]) bool { return s.Index%3 != 0 })
		m2 := pipeline.Map(f, func(_ context.Context, s pipeline.Sample[rec]) (rec, error) { return s.Value, nil }, pipeline.MapOptions{Workers: 3, Unordered: true})
		return pipeline.Prefetch(pipeline.Batches(m2, pipeline.BatchOptions{Size: 7}), 3)
	}
	// Break out of a range loop.
	for _, stop := range []int{0, 1, 5, 300} {
		k := 0
		for _, err := range pipeline.All(context.Background(), build(), pipeline.RunOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			if k == stop {
				break
			}
			k++
		}
	}
	// Cancel the context mid-epoch.
	ctx, cancel := context.WithCancel(context.Background())
	it, err := pipeline.Start(ctx, build(), pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := it.Next(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	var nerr error
	for range 100000 {
		if _, nerr = it.Next(); nerr != nil {
			break
		}
	}
	if !errors.Is(nerr, context.Canceled) {
		t.Fatalf("after cancel: %v", nerr)
	}
	it.Close()
	// Close without reading anything; Close twice.
	it, err = pipeline.Start(context.Background(), build(), pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	it.Close()
	it.Close()
	// A map function that blocks until cancelled.
	blocked := pipeline.Map(pipeline.From(src, pipeline.Order{}), func(ctx context.Context, s pipeline.Sample[int]) (int, error) {
		if s.Index == 20 {
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return s.Value, nil
	}, pipeline.MapOptions{Workers: 4, Chunk: 1})
	it2, err := pipeline.Start(context.Background(), blocked, pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := it2.Next(); err != nil {
			t.Fatal(err)
		}
	}
	it2.Close()
}

// faulty fails on some samples and panics on others.
func faulty(_ context.Context, s pipeline.Sample[int]) (rec, error) {
	switch {
	case s.Index%17 == 5:
		return rec{}, fmt.Errorf("corrupt data")
	case s.Index%23 == 7:
		var m map[string]int
		m["boom"]++ // nil map write: a runtime panic
	}
	return twoViews(context.Background(), s)
}

func isFaulty(i int) (bad, panics bool) {
	if i%17 == 5 {
		return true, false
	}
	return i%23 == 7, i%23 == 7
}

// (d) Injected errors and panics: the report names every failed sample,
// stops or skips per policy, and all ranks still get the same batch count.
func TestErrorsPanicsAndEqualBatches(t *testing.T) {
	const n = 500
	src := pipeline.Slice(ints(n))
	mk := func(o pipeline.Order) *pipeline.Stream[pipeline.Batch[rec]] {
		m := pipeline.Map(pipeline.From(src, o), faulty, pipeline.MapOptions{Name: "decode", Workers: 8})
		return pipeline.Batches(m, pipeline.BatchOptions{Size: 10, DropLast: true})
	}
	// Default policy: stop at the first error, which names the sample.
	var first error
	for _, err := range pipeline.All(context.Background(), mk(pipeline.Order{}), pipeline.RunOptions{}) {
		first = err
	}
	var se *pipeline.SampleError
	if !errors.As(first, &se) || se.Index != 5 || se.Stage != "decode" || se.Panic {
		t.Fatalf("first error: %v", first)
	}
	// Skip: every failed sample is reported once, panics marked.
	const world = 3
	var batchCounts []int
	total := map[int]bool{}
	for rank := range world {
		o := pipeline.Order{Seed: 2, Shuffle: true, Rank: rank, World: world, Epochs: 2}
		it, err := pipeline.Start(context.Background(), mk(o), pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}})
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		for b, err := range it.All() {
			if err != nil {
				t.Fatal(err)
			}
			count++
			if len(b.Value.Samples) != 10 {
				t.Fatalf("batch of %d", len(b.Value.Samples))
			}
			for _, s := range b.Value.Samples[:b.Value.Valid] {
				if bad, _ := isFaulty(s.Index); bad {
					t.Fatalf("failed sample %d delivered", s.Index)
				}
			}
		}
		batchCounts = append(batchCounts, count)
		rep := it.Report()
		if rep.Count != len(rep.Errors) || rep.Count == 0 {
			t.Fatalf("rank %d: report %d/%d", rank, rep.Count, len(rep.Errors))
		}
		for _, e := range rep.Errors {
			bad, panics := isFaulty(e.Index)
			if !bad || e.Panic != panics || e.Stage != "decode" {
				t.Fatalf("rank %d: unexpected report entry %v (panic %v)", rank, e, e.Panic)
			}
			if e.Epoch == 0 {
				total[e.Index] = true
			}
		}
		if it.State().Errors != rep.Count {
			t.Fatalf("state counts %d errors, report %d", it.State().Errors, rep.Count)
		}
	}
	wantBad := 0
	for i := range n {
		if bad, _ := isFaulty(i); bad {
			wantBad++
		}
	}
	// ceil(500/3)=167 per rank with wrap-around: a few samples twice.
	if len(total) != wantBad {
		t.Fatalf("epoch 0: %d distinct failed samples reported, want %d", len(total), wantBad)
	}
	for _, c := range batchCounts {
		if c != 2*(167/10) {
			t.Fatalf("batch counts per rank %v, want %d each", batchCounts, 2*(167/10))
		}
	}
	// Errors concentrated on one rank (rank 0 reads samples 0..166 without
	// shuffle; make all its samples above 100 fail): counts stay equal.
	heavy := func(_ context.Context, s pipeline.Sample[int]) (rec, error) {
		if s.Index > 100 && s.Index < 167 {
			return rec{}, errors.New("bad")
		}
		return twoViews(context.Background(), s)
	}
	for rank := range world {
		o := pipeline.Order{Rank: rank, World: world}
		m := pipeline.Map(pipeline.From(src, o), heavy, pipeline.MapOptions{Workers: 4})
		b := pipeline.Batches(m, pipeline.BatchOptions{Size: 10})
		var valid, count int
		for x, err := range pipeline.All(context.Background(), b, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}}) {
			if err != nil {
				t.Fatal(err)
			}
			count++
			valid += x.Value.Valid
		}
		if count != 17 {
			t.Fatalf("rank %d: %d batches, want 17", rank, count)
		}
		if rank == 0 && valid != 101 || rank > 0 && valid != 167 {
			t.Fatalf("rank %d: %d valid samples", rank, valid)
		}
	}
	// Budget: more than 3 errors stops with ErrTooManyErrors.
	var last error
	for _, err := range pipeline.All(context.Background(), mk(pipeline.Order{}), pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true, MaxErrors: 3}}) {
		last = err
	}
	if !errors.Is(last, pipeline.ErrTooManyErrors) || !errors.As(last, &se) {
		t.Fatalf("budget: %v", last)
	}
	last = nil
	for _, err := range pipeline.All(context.Background(), mk(pipeline.Order{}), pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true, MaxFraction: 0.05}}) {
		last = err
	}
	if !errors.Is(last, pipeline.ErrTooManyErrors) {
		t.Fatalf("fraction budget (about 10%% fail): %v", last)
	}
}

func TestUnorderedMapKeepsEverySample(t *testing.T) {
	src := pipeline.Slice(ints(3000))
	m := pipeline.Map(pipeline.From(src, pipeline.Order{Seed: 1, Shuffle: true}), twoViews, pipeline.MapOptions{Workers: 8, Unordered: true})
	f := pipeline.Filter(m, func(s pipeline.Sample[rec]) bool { return s.Index%2 == 0 })
	seen := map[int]rec{}
	for s, err := range pipeline.All(context.Background(), pipeline.Prefetch(f, 5), pipeline.RunOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := seen[s.Index]; dup {
			t.Fatalf("sample %d twice", s.Index)
		}
		seen[s.Index] = s.Value
	}
	if len(seen) != 1500 {
		t.Fatalf("%d samples", len(seen))
	}
	for i, r := range seen {
		if i%2 != 0 || r.V0 != pipeline.SampleRand(1, 0, uint64(i), 0).Uint64() {
			t.Fatalf("sample %d: %+v", i, r)
		}
	}
}

func TestErrSkipFilters(t *testing.T) {
	src := pipeline.Slice(ints(100))
	m := pipeline.Map(pipeline.From(src, pipeline.Order{}), func(_ context.Context, s pipeline.Sample[int]) (int, error) {
		if s.Value%10 != 0 {
			return 0, pipeline.ErrSkip
		}
		return s.Value, nil
	}, pipeline.MapOptions{Workers: 3})
	var got []int
	it, err := pipeline.Start(context.Background(), m, pipeline.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for {
		s, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Value)
	}
	if !slices.Equal(got, []int{1000, 1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080, 1090}) {
		t.Fatalf("got %v", got)
	}
	if it.Report().Count != 0 {
		t.Fatal("ErrSkip counted as an error")
	}
	ms := it.Metrics()
	if len(ms) != 2 || ms[0].Out != 100 || ms[1].In != 100 || ms[1].Out != 10 {
		t.Fatalf("metrics %+v", ms)
	}
}

func TestInterleave(t *testing.T) {
	a := pipeline.Slice([]int{0, 1, 2, 3, 4, 5, 6})
	b := pipeline.Slice([]int{100, 101})
	c := pipeline.Slice([]int{200, 201, 202, 203})
	il := pipeline.Interleave[int](a, b, c)
	want := []int{0, 100, 200, 1, 101, 201, 2, 202, 3, 203, 4, 5, 6}
	if il.Len() != len(want) {
		t.Fatalf("len %d", il.Len())
	}
	for start := 0; start <= len(want); start++ {
		r, err := il.Open(context.Background(), start)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for {
			s, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Index != start+len(got) {
				t.Fatalf("start %d: index %d at %d", start, s.Index, len(got))
			}
			got = append(got, s.Value)
		}
		if !slices.Equal(got, want[start:]) {
			t.Fatalf("open at %d: %v, want %v", start, got, want[start:])
		}
		if start < len(want) {
			s, err := il.At(context.Background(), start)
			if err != nil || s.Value != want[start] {
				t.Fatalf("At(%d) = %v, %v", start, s.Value, err)
			}
		}
	}
}
