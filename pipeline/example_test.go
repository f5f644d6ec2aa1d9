package pipeline_test

import (
	"context"
	"fmt"

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
