package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sslpipe/sslpipe/pipeline"
)

// A parallel, ordered map over an in-memory slice: each sample draws its
// randomness from its own stream, so the output is the same for any number
// of workers.
func Example() {
	src := pipeline.Slice([]int{10, 20, 30, 40, 50})
	s := pipeline.From(src, pipeline.Order{Seed: 1})
	noisy := pipeline.Map(s, func(_ context.Context, x pipeline.Sample[int]) (string, error) {
		r := x.Rand(0) // SampleRand(seed, epoch, index, view 0)
		return fmt.Sprintf("%d+%d", x.Value, r.IntN(10)), nil
	}, pipeline.MapOptions{Workers: 4})
	for x, err := range pipeline.All(context.Background(), noisy, pipeline.RunOptions{}) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println(x.Index, x.Value)
	}
	// Output:
	// 0 10+2
	// 1 20+7
	// 2 30+1
	// 3 40+6
	// 4 50+7
}

// Batches with a skip-and-report error policy: a corrupt sample is left out
// and named in the report, and the epoch still has its full batch count.
func ExampleBatches() {
	src := pipeline.Slice([]string{"1", "2", "x", "4", "5", "6", "7"})
	s := pipeline.From(src, pipeline.Order{})
	nums := pipeline.Map(s, func(_ context.Context, x pipeline.Sample[string]) (int, error) {
		return strconv.Atoi(x.Value)
	}, pipeline.MapOptions{Name: "parse", Workers: 2})
	batches := pipeline.Batches(nums, pipeline.BatchOptions{Size: 3, PadLast: true})

	it, err := pipeline.Start(context.Background(), batches, pipeline.RunOptions{
		Errors: pipeline.ErrorPolicy{Skip: true, MaxErrors: 10},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer it.Close()
	for b, err := range it.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		var vals []int
		for _, s := range b.Value.Samples {
			vals = append(vals, s.Value)
		}
		fmt.Println("batch", b.Index, vals, "valid", b.Value.Valid)
	}
	fmt.Println(it.Report())
	// Output:
	// batch 0 [1 2 4] valid 3
	// batch 1 [5 6 7] valid 3
	// batch 2 [5 6 7] valid 0
	// 1 sample errors
	//   pipeline: parse: sample #2: strconv.Atoi: parsing "x": invalid syntax
}

// Stop after two batches, keep the State (e.g. in a checkpoint) and resume:
// the resumed run yields exactly the batches that would have followed.
func ExampleIter_State() {
	src := pipeline.Slice([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	batches := pipeline.Batches(pipeline.From(src, pipeline.Order{Seed: 7, Shuffle: true, Epochs: 2}),
		pipeline.BatchOptions{Size: 4, DropLast: true})
	show := func(b pipeline.Sample[pipeline.Batch[int]]) {
		var vals []int
		for _, s := range b.Value.Samples {
			vals = append(vals, s.Value)
		}
		fmt.Println("epoch", b.Epoch, "batch", b.Index, vals)
	}

	it, _ := pipeline.Start(context.Background(), batches, pipeline.RunOptions{})
	for range 3 {
		b, _ := it.Next()
		show(b)
	}
	st := it.State()
	it.Close()
	saved, _ := json.Marshal(st)
	fmt.Println("saved", string(saved))

	var restored pipeline.State
	_ = json.Unmarshal(saved, &restored)
	for b, err := range pipeline.All(context.Background(), batches, pipeline.RunOptions{Resume: &restored}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		show(b)
	}
	// Output:
	// epoch 0 batch 0 [2 7 6 5]
	// epoch 0 batch 1 [4 1 0 3]
	// epoch 1 batch 0 [2 5 9 3]
	// saved {"seed":7,"epoch":1,"position":4,"emitted":1,"errors":0}
	// epoch 1 batch 1 [1 4 7 6]
}

// Reading a WebDataset shard: samples are grouped by key, members by
// extension, and read without extracting the archive.
func ExampleTar() {
	src, err := pipeline.Tar("testdata/shard-001.tar")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	for x, err := range pipeline.All(context.Background(), pipeline.From[pipeline.TarSample](src, pipeline.Order{}), pipeline.RunOptions{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s: %q class %s\n", x.Origin, x.Key, x.Value.Files["txt"], x.Value.Files["cls"])
	}
	// Output:
	// shard-001.tar 000005: "sample 5 text" class 2
	// shard-001.tar 000006: "sample 6 text" class 0
	// shard-001.tar 000007: "sample 7 text" class 1
}

// An image folder read by path order, files loaded on the map's workers;
// the label is the first directory below the root.
func ExampleFolder() {
	src, err := pipeline.Folder("testdata/folder", ".jpg", ".png")
	if err != nil {
		fmt.Println(err)
		return
	}
	files := pipeline.Map(pipeline.From[pipeline.File](src, pipeline.Order{}), pipeline.ReadFile, pipeline.MapOptions{Name: "read", Workers: 4})
	for x, err := range pipeline.All(context.Background(), files, pipeline.RunOptions{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%d %-10s label=%q class=%d %q\n", x.Index, x.Key, x.Value.Label, x.Value.Class, x.Value.Data)
	}
	// Output:
	// 0 cat/a.jpg  label="cat" class=0 "cat-a"
	// 1 cat/b.JPG  label="cat" class=0 "cat-b"
	// 2 dog/c.png  label="dog" class=1 "dog-c"
	// 3 top.jpg    label="" class=-1 "top"
}

// A CSV manifest with integer labels: the bad lines and the missing file
// are skipped and reported with the manifest line.
func ExampleManifest() {
	src, err := pipeline.Manifest("testdata/manifest.csv", pipeline.ManifestOptions{IntLabels: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	files := pipeline.Map(pipeline.From[pipeline.File](src, pipeline.Order{}), pipeline.ReadFile, pipeline.MapOptions{Name: "read", Workers: 2})
	it, err := pipeline.Start(context.Background(), files, pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}})
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
		fmt.Println(x.Origin, x.Key, x.Value.Class, string(x.Value.Data))
	}
	for _, e := range it.Report().Errors {
		fmt.Println("skipped", e.Origin, "-", e.Err)
	}
	// Output:
	// manifest.csv:2 folder/cat/a.jpg 0 cat-a
	// manifest.csv:3 folder/dog/c.png 1 dog-c
	// manifest.csv:6 folder/cat/b.JPG 0 cat-b
	// skipped manifest.csv:4 - open testdata/folder/missing.jpg: no such file or directory
	// skipped manifest.csv:5 - label "banana" is not an integer
	// skipped manifest.csv:7 - extraneous or missing " in quoted-field
}

// Interleave alternates between sources; one that runs out drops out.
func ExampleInterleave() {
	a := pipeline.Slice([]string{"a0", "a1", "a2", "a3"})
	b := pipeline.Slice([]string{"b0", "b1"})
	s := pipeline.From[string](pipeline.Interleave[string](a, b), pipeline.Order{})
	for x, err := range pipeline.All(context.Background(), s, pipeline.RunOptions{}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Print(x.Value, " ")
	}
	fmt.Println()
	// Output: a0 b0 a1 b1 a2 a3
}
