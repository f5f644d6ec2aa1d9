package pipeline_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

func benchRun[T any](b *testing.B, s *pipeline.Stream[T]) {
	b.Helper()
	n := 0
	for _, err := range pipeline.All(context.Background(), s, pipeline.RunOptions{}) {
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n != b.N {
		b.Fatalf("%d items for b.N=%d", n, b.N)
	}
}

func report(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

func inc(_ context.Context, s pipeline.Sample[int]) (int, error) { return s.Value + 1, nil }

// BenchmarkMapOverhead measures the cost a trivial map stage adds per item:
// stages=0 is the source and the consumer alone; the per-stage overhead is
// (ns/op at stages=k - ns/op at stages=0) / k.
func BenchmarkMapOverhead(b *testing.B) {
	for _, workers := range []int{1, 8} {
		for _, chunk := range []int{0, 1} {
			for _, stages := range []int{0, 1, 3} {
				if stages == 0 && (workers != 1 || chunk != 0) {
					continue
				}
				name := fmt.Sprintf("workers=%d/chunk=%d/stages=%d", workers, chunk, stages)
				if chunk == 0 {
					name = fmt.Sprintf("workers=%d/chunk=auto/stages=%d", workers, stages)
				}
				b.Run(name, func(b *testing.B) {
					src := pipeline.Slice(make([]int, b.N))
					s := pipeline.From(src, pipeline.Order{})
					for range stages {
						s = pipeline.Map(s, inc, pipeline.MapOptions{Workers: workers, Chunk: chunk})
					}
					b.ReportAllocs()
					b.ResetTimer()
					benchRun(b, s)
					report(b)
				})
			}
		}
	}
}

// spin does about 20µs of CPU-bound work.
func spin(_ context.Context, s pipeline.Sample[int]) ([32]byte, error) {
	var h [32]byte
	h[0] = byte(s.Value)
	for range 64 {
		h = sha256.Sum256(h[:])
	}
	return h, nil
}

// BenchmarkMapScaling runs a CPU-bound map (64 SHA-256 blocks per item) with
// a growing worker count: items/s should grow linearly up to the core count.
func BenchmarkMapScaling(b *testing.B) {
	for _, workers := range []int{1, 2, 4, 8, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			src := pipeline.Slice(make([]int, b.N))
			s := pipeline.Map(pipeline.From(src, pipeline.Order{}), spin, pipeline.MapOptions{Workers: workers})
			b.ReportAllocs()
			b.ResetTimer()
			benchRun(b, s)
			report(b)
		})
	}
}

// BenchmarkShuffledBatches: a shuffled epoch through a trivial map into
// batches of 256, the shape of a training loop's data side.
func BenchmarkShuffledBatches(b *testing.B) {
	src := pipeline.Slice(make([]int, 1<<20))
	s := pipeline.From(src, pipeline.Order{Shuffle: true, Epochs: -1})
	m := pipeline.Map(s, inc, pipeline.MapOptions{Workers: 8})
	bs := pipeline.Batches(m, pipeline.BatchOptions{Size: 256, DropLast: true})
	b.ReportAllocs()
	it, err := pipeline.Start(context.Background(), bs, pipeline.RunOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	b.ResetTimer()
	for range b.N {
		if _, err := it.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "items/s")
}
