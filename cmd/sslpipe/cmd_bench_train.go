//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/byol"
)

func init() {
	registerBench(&benchTarget{Name: "train", Summary: "time one BYOL training step (ResNet-18 CIFAR stem, batch 256, 32x32, SGD, EMA) on --device", Run: runBenchTrainCmd})
}

func runBenchTrainCmd(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("bench train", env.Stderr)
	preset := fs.String("preset", "cifar", "BYOL preset whose model and optimizer are timed")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	var batch, steps, warmup, threads int
	intVar(fs, &batch, "batch", 256, 2, 1<<20, "batch size")
	intVar(fs, &steps, "steps", 50, 1, 1<<30, "timed steps")
	intVar(fs, &warmup, "warmup", 10, 0, 1<<30, "untimed warm-up steps")
	bf16 := fs.Bool("bf16", false, "bfloat16 autocast (CUDA)")
	optim := fs.String("optim", "sgd", "sgd, lars or adamw")
	skip := fs.Bool("skip-nonfinite", true, "read the loss and gradient norm before the update to skip NaN/Inf steps (one device sync per step)")
	intVar(fs, &threads, "threads", 0, 0, 4096, "libtorch intra-op threads (0: all cores)")
	asJSON := fs.Bool("json", false, "JSON output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := train.PresetConfig("byol", *preset)
	if err != nil {
		return usagef("bench train: %v", err)
	}
	cfg.Device, cfg.Data.Batch, cfg.BF16, cfg.Optim.Name, cfg.Threads = *device, batch, *bf16, *optim, threads
	cfg.Settings.(*byol.Settings).SkipNonFinite = *skip
	res, err := byol.BenchStep(ctx, cfg, warmup, steps)
	if err != nil {
		return err
	}
	if *asJSON {
		res.StepMS = nil
		return json.NewEncoder(env.Stdout).Encode(res)
	}
	fmt.Fprintf(env.Stdout, "sslpipe BYOL step: %s %s batch %d %dx%d %s bf16=%v: median %.2f ms/step, mean %.2f ms/step, %.0f images/s (%d steps)\n",
		res.Device, res.Arch, res.Batch, res.Size, res.Size, res.Optim, res.BF16, res.MedianMS, res.MeanMS, res.ImagesSec, res.Steps)
	return nil
}
