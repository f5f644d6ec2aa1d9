// Command custompipeline trains a built-in method (BYOL) on data that
// sslpipe does not know: its own source (images drawn procedurally, no
// files) and its own pipeline stage (a random erasing step keyed by the
// sample, so it stays deterministic and resumable) in front of the
// method's augmentations, through the same loop, run folder and
// checkpoints as `sslpipe train`.
//
//	go run ./examples/custompipeline -out /tmp/shapes -steps 50
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	_ "github.com/sslpipe/sslpipe/train/methods" // the built-in methods
)

// shapes is a source of 32x32 gray images of discs and squares at random
// places and sizes: sample i is a pure function of i (random access, so
// shuffling, sharding and resume work as for any dataset).
func shapes(n int) *data.Dataset {
	return data.New("shapes", data.Image, n, 2, func(_ context.Context, i int) (data.Example, error) {
		rng := rand.New(rand.NewPCG(uint64(i), 0x5a))
		m := augment.NewImage(32, 32, 1)
		cx, cy, r := 8+rng.Float64()*16, 8+rng.Float64()*16, 3+rng.Float64()*6
		square := i%2 == 1
		for y := 0; y < 32; y++ {
			for x := 0; x < 32; x++ {
				dx, dy := float64(x)-cx, float64(y)-cy
				in := dx*dx+dy*dy < r*r
				if square {
					in = math.Abs(dx) < r && math.Abs(dy) < r
				}
				v := 20 + 30*rng.Float64()
				if in {
					v = 220
				}
				m.Pix[y*32+x] = uint8(v)
			}
		}
		return data.Example{Key: fmt.Sprintf("shape-%06d", i), Image: m, Class: i % 2}, nil
	})
}

// erase blanks a random 8x8 patch of half the images, with draws from the
// sample's own stream (view 7: apart from the method's views).
func erase(s *pipeline.Stream[data.Example]) *pipeline.Stream[data.Example] {
	return pipeline.Map(s, func(_ context.Context, smp pipeline.Sample[data.Example]) (data.Example, error) {
		ex := smp.Value
		rng := smp.Rand(7)
		if rng.Float64() < 0.5 {
			img := ex.Image.Clone()
			x0, y0 := rng.IntN(img.W-8), rng.IntN(img.H-8)
			for y := y0; y < y0+8; y++ {
				for x := x0; x < x0+8; x++ {
					img.Pix[y*img.Stride()+x] = 0
				}
			}
			ex.Image = img
		}
		return ex, nil
	}, pipeline.MapOptions{Name: "erase", Workers: 2})
}

func run(ctx context.Context, out string, steps int64) error {
	cfg, err := train.PresetConfig("byol", "smoke")
	if err != nil {
		return err
	}
	cfg.Out, cfg.Schedule.Steps = out, steps
	cfg.Data.Spec = "shapes"
	ds := shapes(2000)
	res, err := train.Run(ctx, cfg, train.RunOptions{Data: ds, Stages: erase, Progress: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Printf("trained %d steps on procedural shapes, final loss %.4f, run folder %s\n", res.Steps, res.FinalLoss, res.Dir)
	return nil
}

func main() {
	out := flag.String("out", "runs/example-shapes", "run folder")
	steps := flag.Int64("steps", 50, "steps")
	flag.Parse()
	if err := run(context.Background(), *out, *steps); err != nil {
		log.Fatal(err)
	}
}
