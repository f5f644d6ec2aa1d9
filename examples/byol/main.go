//go:build portpending

// Command byol trains BYOL through sslpipe's library API: an in-memory
// data source (procedurally drawn shapes, no files), the Fashion-MNIST
// recipe changed in code (smaller crops, no solarize), a hook that prints
// progress, and the teacher encoder afterwards.
//
//	go run ./examples/byol -steps 50 -out /tmp/byol-example
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
)

func main() {
	steps := flag.Int64("steps", 50, "training steps")
	out := flag.String("out", "runs/example-byol", "run folder (must not hold checkpoints)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *out, *steps, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "byol:", err)
		os.Exit(1)
	}
}

// shapes draws n 28x28 gray images of filled rectangles and discs at
// random places and sizes: a custom in-memory source.
func shapes(n int, seed uint64) train.MemorySource {
	r := rand.New(rand.NewPCG(seed, 7))
	imgs := make(train.MemorySource, n)
	for i := range imgs {
		m := augment.NewImage(28, 28, 1)
		cx, cy, s := 6+r.IntN(16), 6+r.IntN(16), 3+r.IntN(6)
		disc := r.IntN(2) == 0
		v := uint8(128 + r.IntN(128))
		for y := 0; y < 28; y++ {
			for x := 0; x < 28; x++ {
				dx, dy := x-cx, y-cy
				in := dx*dx+dy*dy <= s*s
				if !disc {
					in = abs(dx) <= s && abs(dy) <= s
				}
				if in {
					m.Pix[y*28+x] = v
				}
			}
		}
		imgs[i] = m
	}
	return imgs
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func run(ctx context.Context, dir string, steps int64, w io.Writer) error {
	cfg, err := train.Preset("byol", "fmnist-quick")
	if err != nil {
		return err
	}
	cfg.Dir, cfg.Steps, cfg.WarmupSteps = dir, steps, steps/10
	cfg.Batch = 64
	cfg.Arch.Widths = []int64{16, 32, 64}
	cfg.Heads = train.Heads{Hidden: 128, Out: 64}
	cfg.Data.Path = "" // the data comes from RunOptions.Source
	// Change the recipe in code: tighter crops, no solarize on view 2.
	for i := range cfg.Data.Augment.Views {
		cfg.Data.Augment.Views[i].Scale = [2]float64{0.4, 1}
		cfg.Data.Augment.Views[i].SolarizeP = 0
		cfg.Data.Augment.Views[i].Normalize = augment.Normalize{Mean: []float64{0.1}, Std: []float64{0.25}}
	}
	cfg.LogEvery = max(steps/5, 1)
	progress := train.Hook{Name: "print", Every: cfg.LogEvery, Fn: func(_ context.Context, s *train.Status) error {
		fmt.Fprintf(w, "step %d loss %.4f\n", s.Step, s.Loss)
		return nil
	}}
	res, err := train.Run(ctx, cfg, train.RunOptions{Source: shapes(2048, 1), Hooks: []train.Hook{progress}})
	if err != nil {
		return err
	}
	enc, err := train.OpenEncoder(dir, train.EncoderOptions{Network: "teacher"})
	if err != nil {
		return err
	}
	defer enc.Close()
	feats, err := enc.EmbedImages(shapes(4, 99))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "trained %d steps in %.0fs; final loss %.4f; teacher embeds 4 new images into %d x %d features\n",
		res.Steps, res.Seconds, res.Losses[len(res.Losses)-1], len(feats)/enc.Dim(), enc.Dim())
	return nil
}
