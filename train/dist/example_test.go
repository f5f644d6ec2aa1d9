package dist_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sslpipe/sslpipe/train/dist"
	"github.com/sslpipe/sslpipe/train/op"
)

// A data-parallel step as a training loop runs it: join the group the
// launcher describes, start from rank 0's weights, then average the
// gradients after each backward pass.
func Example() {
	env, ok, err := dist.FromEnv(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		fmt.Println("one process")
		return
	}
	g, err := dist.Init(context.Background(), env.Options(dist.Gloo, dist.DefaultTimeout))
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()

	var params []op.Tensor  // the model's parameters, in the same order on every rank
	var buffers []op.Tensor // e.g. BatchNorm's running statistics
	if err := g.BroadcastParams(append(params, buffers...), 0); err != nil {
		log.Fatal(err)
	}
	red, err := dist.NewReducer(g, params, dist.BucketOptions{})
	if err != nil {
		log.Fatal(err)
	}
	// Each step: forward and op.Backward(loss) on this rank's batch, then
	if err := red.AverageGrads(); err != nil {
		log.Fatal(err) // names a lost rank: errors.Is(err, dist.ErrLost)
	}
	// then the optimizer step, identical on every rank.
}

// Running N processes of this program on this machine, as
// `torchrun --nproc-per-node N` would.
func ExampleLaunchLocal() {
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	err = dist.LaunchLocal(context.Background(), dist.LaunchOptions{
		NProc:  2,
		Argv:   append([]string{exe}, os.Args[1:]...),
		Prefix: true,
		Grace:  10 * time.Second,
	})
	if err != nil {
		log.Fatal(err) // e.g. "dist: rank 1 failed: signal: killed"
	}
}

// A contrastive loss's negatives from every rank: the gathered rows keep
// their gradient path back to each rank's own rows.
func ExampleGroup_GatherWithGrad() {
	var g *dist.Group // from dist.Init
	var z op.Tensor   // this rank's embeddings, B x D
	if g == nil {
		return
	}
	var tp op.Tape
	defer tp.Drop()
	all := g.GatherWithGrad(&tp, z) // World()·B x D, rank order
	_ = all                         // logits = z · allᵀ / τ; the positives sit at rows Rank()·B + i
}
