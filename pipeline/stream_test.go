package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

// genSource is a streaming source that does not know its length and cannot
// seek: Open reads and discards up to start. It fails on every 13th sample.
type genSource struct{ n int }

func (g genSource) Len() int { return -1 }

func (g genSource) Open(_ context.Context, start int) (pipeline.Reader[int], error) {
	return &genReader{n: g.n, i: start}, nil
}

type genReader struct{ n, i int }

func (r *genReader) Next() (pipeline.Sample[int], error) {
	if r.i >= r.n {
		return pipeline.Sample[int]{}, io.EOF
	}
	i := r.i
	r.i++
	if i%13 == 12 {
		return pipeline.Sample[int]{Index: i}, &pipeline.SampleError{Index: i, Key: fmt.Sprintf("gen-%d", i), Err: errors.New("bad record")}
	}
	return pipeline.Sample[int]{Index: i, Value: 1000 + i, Key: fmt.Sprintf("gen-%d", i)}, nil
}

func (r *genReader) Close() error { return nil }

// Streams of unknown length: strided sharding, shuffle buffer, limit,
// per-sample source errors, and exact resume by replay.
func TestUnknownLengthSource(t *testing.T) {
	const n = 400
	skip := pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}}
	// Ranks split the stream disjointly and cover it.
	seen := map[int]int{}
	for rank := range 3 {
		o := pipeline.Order{Seed: 9, ShuffleBuffer: 32, Rank: rank, World: 3}
		for s, err := range pipeline.All(context.Background(), pipeline.From[int](genSource{n}, o), skip) {
			if err != nil {
				t.Fatal(err)
			}
			seen[s.Index]++
			if s.Value != 1000+s.Index {
				t.Fatalf("sample %d has value %d", s.Index, s.Value)
			}
		}
	}
	want := n - n/13
	if len(seen) != want {
		t.Fatalf("ranks saw %d distinct samples, want %d", len(seen), want)
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("sample %d seen %d times", i, c)
		}
	}
	// Batches without a known length: DropLast drops the short tail of each
	// epoch; resume replays the stream to the saved position.
	o := pipeline.Order{Seed: 9, ShuffleBuffer: 16, Epochs: 2, Limit: 150}
	mk := func() *pipeline.Stream[pipeline.Batch[rec]] {
		m := pipeline.Map(pipeline.From[int](genSource{n}, o), twoViews, pipeline.MapOptions{Workers: 3})
		return pipeline.Batches(m, pipeline.BatchOptions{Size: 8, DropLast: true})
	}
	full := collectBatches(t, mk(), skip)
	// 150 positions per epoch, 11 or 12 of them errors: 138 or 139 samples, 17 full batches.
	if len(full) != 2*17 {
		t.Fatalf("%d batches", len(full))
	}
	for _, stop := range []int{0, 5, 16, 17, 30} {
		it, err := pipeline.Start(context.Background(), mk(), skip)
		if err != nil {
			t.Fatal(err)
		}
		var got []batchOut
		for range stop {
			b, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, toBatchOut(b))
		}
		st := it.State()
		it.Close()
		js, _ := json.Marshal(st)
		var st2 pipeline.State
		json.Unmarshal(js, &st2)
		got = append(got, collectBatches(t, mk(), pipeline.RunOptions{Resume: &st2, Errors: skip.Errors})...)
		if !slices.EqualFunc(got, full, batchEqual) {
			t.Fatalf("resume after %d batches (%s) differs", stop, js)
		}
	}
	// Interleave with an unknown-length member.
	il := pipeline.Interleave[int](pipeline.Slice([]int{-1, -2}), genSource{5})
	var vals []int
	for s, err := range pipeline.All(context.Background(), pipeline.From[int](il, pipeline.Order{}), pipeline.RunOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, s.Value)
	}
	if !slices.Equal(vals, []int{-1, 1000, -2, 1001, 1002, 1003, 1004}) || il.Len() != -1 {
		t.Fatalf("interleave: %v", vals)
	}
	// Shuffle needs random access.
	if _, err := pipeline.Start(context.Background(), pipeline.From[int](genSource{n}, pipeline.Order{Shuffle: true}), pipeline.RunOptions{}); !errors.Is(err, pipeline.ErrNotRandomAccess) {
		t.Fatalf("shuffle on a stream: %v", err)
	}
}

// A 2% error rate over 3 epochs stays under a 5% budget.
func TestErrorFractionOverEpochs(t *testing.T) {
	src := pipeline.Slice(ints(1000))
	m := pipeline.Map(pipeline.From(src, pipeline.Order{Epochs: 3}), func(_ context.Context, s pipeline.Sample[int]) (int, error) {
		if s.Index%50 == 0 {
			return 0, errors.New("bad")
		}
		return s.Value, nil
	}, pipeline.MapOptions{Workers: 4})
	n := 0
	for _, err := range pipeline.All(context.Background(), m, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true, MaxFraction: 0.05}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3*980 {
		t.Fatalf("%d samples", n)
	}
}
