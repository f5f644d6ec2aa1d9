package pipeline_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/sslpipe/sslpipe/pipeline"
)

// Filter keeps the samples its (cheap) test accepts; it runs inline, in
// the goroutine that reads from it, and keeps each sample's identity.
func ExampleFilter() {
	s := pipeline.From(pipeline.Slice([]int{1, 2, 3, 4, 5, 6}), pipeline.Order{})
	even := pipeline.Filter(s, func(x pipeline.Sample[int]) bool { return x.Value%2 == 0 })
	for x, err := range pipeline.All(context.Background(), even, pipeline.RunOptions{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("index %d value %d\n", x.Index, x.Value)
	}
	// Output:
	// index 1 value 2
	// index 3 value 4
	// index 5 value 6
}

// A Map function that returns ErrSkip drops its sample silently: unlike
// any other error it is not a sample error, so it needs no error policy
// and does not appear in the report.
func ExampleMap_skip() {
	words := pipeline.Slice([]string{"cat", "", "dog", "", "emu"})
	upper := pipeline.Map(pipeline.From(words, pipeline.Order{}), func(_ context.Context, x pipeline.Sample[string]) (string, error) {
		if x.Value == "" {
			return "", pipeline.ErrSkip
		}
		return fmt.Sprintf("%d:%s", x.Index, x.Value), nil
	}, pipeline.MapOptions{Name: "nonempty", Workers: 3})
	it, err := pipeline.Start(context.Background(), upper, pipeline.RunOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer it.Close()
	for x, err := range it.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(x.Value)
	}
	fmt.Println("errors:", it.Report().Count)
	// Output:
	// 0:cat
	// 2:dog
	// 4:emu
	// errors: 0
}

// SampleRand gives every (seed, epoch, sample index, view) its own random
// stream: the same arguments always give the same draws, whichever worker
// or machine makes them, and another view or epoch gives other draws.
func ExampleSampleRand() {
	draws := func(seed, epoch, index, view uint64) []int {
		r := pipeline.SampleRand(seed, epoch, index, view)
		return []int{r.IntN(100), r.IntN(100), r.IntN(100)}
	}
	a := draws(42, 0, 7, 0)
	fmt.Println("same key, same draws:", slices.Equal(a, draws(42, 0, 7, 0)))
	fmt.Println("view 1 differs:", !slices.Equal(a, draws(42, 0, 7, 1)))
	fmt.Println("epoch 1 differs:", !slices.Equal(a, draws(42, 1, 7, 0)))
	// Sample.Rand(view) is SampleRand(s.Seed, s.Epoch, s.Index, view).
	s := pipeline.Sample[string]{Seed: 42, Epoch: 0, Index: 7}
	r := s.Rand(0)
	fmt.Println("Sample.Rand agrees:", slices.Equal(a, []int{r.IntN(100), r.IntN(100), r.IntN(100)}))
	// Output:
	// same key, same draws: true
	// view 1 differs: true
	// epoch 1 differs: true
	// Sample.Rand agrees: true
}

// Sharding for data-parallel training: with Shuffle, rank r of World takes
// positions r, r+World, ... of the epoch's permutation, so the ranks see
// disjoint parts of the same size whose union is the epoch.
func ExampleOrder_sharding() {
	src := pipeline.Slice([]int{0, 1, 2, 3, 4, 5, 6, 7})
	var all []int
	for rank := range 2 {
		s := pipeline.From(src, pipeline.Order{Seed: 3, Shuffle: true, Rank: rank, World: 2})
		var seen []int
		for x, err := range pipeline.All(context.Background(), s, pipeline.RunOptions{}) {
			if err != nil {
				fmt.Println(err)
				return
			}
			seen = append(seen, x.Value)
		}
		fmt.Printf("rank %d sees %d samples\n", rank, len(seen))
		all = append(all, seen...)
	}
	slices.Sort(all)
	fmt.Println("together:", all)
	// Output:
	// rank 0 sees 4 samples
	// rank 1 sees 4 samples
	// together: [0 1 2 3 4 5 6 7]
}

// Refs and ReadTar read a shard's members on the map's workers (parallel
// I/O) instead of under the source's lock; the samples are the same as the
// Tar source's.
func ExampleTarSource_Refs() {
	src, err := pipeline.Tar("testdata/shard-001.tar")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	refs := pipeline.From[pipeline.TarRef](src.Refs(), pipeline.Order{})
	samples := pipeline.Map(refs, pipeline.ReadTar, pipeline.MapOptions{Name: "read", Workers: 4})
	for x, err := range pipeline.All(context.Background(), samples, pipeline.RunOptions{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s: %q\n", x.Value.Shard, x.Value.Key, x.Value.Files["txt"])
	}
	// Output:
	// testdata/shard-001.tar 000005: "sample 5 text"
	// testdata/shard-001.tar 000006: "sample 6 text"
	// testdata/shard-001.tar 000007: "sample 7 text"
}

// Metrics reports per-stage counters. Here the map drops the even numbers
// (ErrSkip); because the epoch length is known, Batches still emits the
// epoch's 4 batches of 2, the last two being padding (Valid 0), so every
// rank of a data-parallel job would take the same number of steps.
func ExampleIter_Metrics() {
	s := pipeline.From(pipeline.Slice([]int{1, 2, 3, 4, 5, 6, 7}), pipeline.Order{})
	odd := pipeline.Map(s, func(_ context.Context, x pipeline.Sample[int]) (int, error) {
		if x.Value%2 == 0 {
			return 0, pipeline.ErrSkip
		}
		return x.Value, nil
	}, pipeline.MapOptions{Name: "odd", Workers: 2})
	b := pipeline.Batches(odd, pipeline.BatchOptions{Size: 2})
	it, err := pipeline.Start(context.Background(), b, pipeline.RunOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer it.Close()
	for x, err := range it.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		var vals []int
		for _, s := range x.Value.Samples {
			vals = append(vals, s.Value)
		}
		fmt.Println("batch", x.Index, vals, "valid", x.Value.Valid)
	}
	for _, m := range it.Metrics() {
		fmt.Printf("%s: in %d out %d\n", m.Name, m.In, m.Out)
	}
	// Output:
	// batch 0 [1 3] valid 2
	// batch 1 [5 7] valid 2
	// batch 2 [5 7] valid 0
	// batch 3 [5 7] valid 0
	// source: in 0 out 7
	// odd: in 7 out 4
	// batch: in 4 out 4
}
