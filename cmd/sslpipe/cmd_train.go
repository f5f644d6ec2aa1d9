//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sslpipe/sslpipe/train"
)

func init() {
	register(&command{Name: "train", Summary: "pretrain a model (BYOL on images) into a run folder", Run: runTrainCmd})
	registerBench(&benchTarget{Name: "train", Summary: "time one BYOL training step (ResNet-18 CIFAR stem, batch 256, 32x32, SGD, EMA) on --device", Run: runBenchTrainCmd})
}

// trainOptions are the flags of `sslpipe train`.
type trainOptions struct {
	Method, Preset, ConfigFile string
	Resume                     string
	PrintConfig, Quiet, JSON   bool
	Export                     string // teacher, student or "" (none)
	// set holds the flags given explicitly, applied over the config.
	set map[string]string
}

// trainFlags are the config fields a flag can override: name -> usage.
var trainFlags = []struct{ name, usage string }{
	{"out", "run folder (config dir)"},
	{"data", "training images: fashion-mnist:train or a folder (config data.path)"},
	{"device", "auto, cpu, cuda or cuda:N (config device)"},
	{"bf16", "bfloat16 autocast on CUDA: true/false (config bf16)"},
	{"steps", "optimizer steps (config steps)"},
	{"batch", "batch size (config batch)"},
	{"lr", "base learning rate before batch/256 scaling (config optim.lr)"},
	{"optim", "sgd, lars or adamw (config optim.name)"},
	{"seed", "seed of weights, shuffling and augmentation (config seed)"},
	{"threads", "libtorch intra-op threads, 0 = all cores (config threads)"},
	{"workers", "augmentation goroutines, 0 = GOMAXPROCS (config data.workers)"},
	{"limit", "use only the first N training images (config data.limit)"},
	{"log-every", "steps between metrics lines (config log_every)"},
	{"checkpoint-every", "steps between checkpoints (config checkpoint.every)"},
	{"keep", "checkpoints kept (config checkpoint.keep)"},
	{"monitor-every", "steps between online kNN evaluations, 0 = off (config monitor.every)"},
	{"clip", "gradient-norm clipping, 0 = off (config optim.clip_grad_norm)"},
	{"skip-nonfinite", "skip NaN/Inf steps: true/false (config optim.skip_nonfinite)"},
}

func runTrainCmd(ctx context.Context, env *cmdEnv, args []string) error {
	if f := trainMethods[methodFromArgs(args)]; f != nil {
		return f(ctx, env, args)
	}
	o := trainOptions{set: map[string]string{}}
	fs := newFlagSet("train", env.Stderr)
	fs.StringVar(&o.Method, "method", "byol", "self-supervised method: byol; hubert and data2vec take their own flags (see 'sslpipe hubert train -h', 'sslpipe data2vec train -h'; --out is their --dir)")
	fs.StringVar(&o.Preset, "preset", "", "preset of the method: default, cifar, fmnist-quick, fmnist-reproduce")
	fs.StringVar(&o.ConfigFile, "config", "", "YAML config file (flags override it)")
	fs.StringVar(&o.Resume, "resume", "", "continue the run in RUN_DIR from its newest checkpoint")
	fs.BoolVar(&o.PrintConfig, "print-config", false, "print the resolved config as YAML and exit")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress lines on stderr")
	fs.BoolVar(&o.JSON, "json", false, "print the result as JSON on stdout")
	fs.StringVar(&o.Export, "export", "teacher", "at the end, export this backbone (teacher, student or none) to RUN_DIR/export/ as safetensors")
	for _, f := range trainFlags {
		name := f.name
		fs.Func(name, f.usage, func(v string) error { o.set[name] = v; return nil })
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("train: unexpected arguments %q", fs.Args())
	}
	return runTrain(ctx, env, &o)
}

// resolveConfig builds the config: preset (or config file, or the resumed
// run's config.yaml), then flags.
func resolveConfig(o *trainOptions) (train.Config, error) {
	var cfg train.Config
	var err error
	switch {
	case o.Resume != "":
		cfg, err = train.LoadConfig(filepath.Join(o.Resume, "config.yaml"))
		cfg.Dir = o.Resume
	case o.ConfigFile != "":
		cfg, err = train.LoadConfig(o.ConfigFile)
	default:
		cfg, err = train.Preset(o.Method, o.Preset)
	}
	if err != nil {
		return cfg, err
	}
	if o.Resume == "" && o.ConfigFile != "" && o.Preset != "" && cfg.Preset != o.Preset {
		return cfg, usagef("train: --preset %s conflicts with the config file's preset %s", o.Preset, cfg.Preset)
	}
	if err := applyTrainFlags(&cfg, o.set, o.Resume != ""); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func applyTrainFlags(c *train.Config, set map[string]string, resume bool) error {
	for name, v := range set {
		if resume && name != "device" && name != "threads" && name != "workers" && name != "log-every" {
			return usagef("train: --%s cannot change a resumed run (only --device, --threads, --workers, --log-every)", name)
		}
		var err error
		switch name {
		case "out":
			c.Dir = v
		case "data":
			c.Data.Path = v
		case "device":
			c.Device = v
		case "optim":
			c.Optim.Name = v
		case "bf16":
			_, err = fmt.Sscan(v, &c.BF16)
		case "steps":
			_, err = fmt.Sscan(v, &c.Steps)
		case "batch":
			_, err = fmt.Sscan(v, &c.Batch)
		case "lr":
			_, err = fmt.Sscan(v, &c.Optim.LR)
		case "seed":
			_, err = fmt.Sscan(v, &c.Seed)
		case "threads":
			_, err = fmt.Sscan(v, &c.Threads)
		case "workers":
			_, err = fmt.Sscan(v, &c.Data.Workers)
		case "limit":
			_, err = fmt.Sscan(v, &c.Data.Limit)
		case "log-every":
			_, err = fmt.Sscan(v, &c.LogEvery)
		case "checkpoint-every":
			_, err = fmt.Sscan(v, &c.Checkpoint.Every)
		case "keep":
			_, err = fmt.Sscan(v, &c.Checkpoint.Keep)
		case "monitor-every":
			_, err = fmt.Sscan(v, &c.Monitor.Every)
		case "clip":
			_, err = fmt.Sscan(v, &c.Optim.ClipGradNorm)
		case "skip-nonfinite":
			_, err = fmt.Sscan(v, &c.Optim.SkipNonFinite)
		}
		if err != nil {
			return usagef("train: --%s %q: %v", name, v, err)
		}
	}
	return nil
}

// trainResult is the --json output.
type trainResult struct {
	Dir         string        `json:"dir"`
	Steps       int64         `json:"steps"`
	FinalLoss   float64       `json:"final_loss"`
	NaNSkipped  int64         `json:"nan_skipped"`
	Seconds     float64       `json:"seconds"`
	Checkpoint  string        `json:"checkpoint"`
	Export      string        `json:"export,omitempty"`
	Interrupted bool          `json:"interrupted"`
	Last        train.Metrics `json:"last_metrics"`
}

func runTrain(ctx context.Context, env *cmdEnv, o *trainOptions) error {
	cfg, err := resolveConfig(o)
	if err != nil {
		return err
	}
	if o.PrintConfig {
		y, err := cfg.YAML()
		if err != nil {
			return err
		}
		_, err = env.Stdout.Write(y)
		return err
	}
	if cfg.Dir == "" {
		return usagef("train: no run folder: give --out RUN_DIR (or dir: in the config)")
	}
	if o.Export != "teacher" && o.Export != "student" && o.Export != "none" {
		return usagef("train: --export must be teacher, student or none")
	}
	ro := train.RunOptions{Resume: o.Resume != ""}
	if !o.Quiet {
		ro.Progress = env.Stderr
		fmt.Fprintf(env.Stderr, "train: %s preset %s, %s, %d steps of %d, run folder %s\n", cfg.Method, cfg.Preset, cfg.Arch.Name, cfg.Steps, cfg.Batch, cfg.Dir)
	}
	res, err := train.Run(ctx, cfg, ro)
	if res == nil {
		return err
	}
	out := trainResult{Dir: res.Dir, Steps: res.Steps, NaNSkipped: res.NaNSkipped, Seconds: res.Seconds,
		Checkpoint: res.Checkpoint, Interrupted: res.Interrupted, Last: res.Last}
	if n := len(res.Losses); n > 0 {
		out.FinalLoss = res.Losses[n-1]
	}
	if err == nil && o.Export != "none" {
		path := filepath.Join(cfg.Dir, "export", "backbone-"+o.Export+".safetensors")
		if xerr := train.ExportBackbone(cfg.Dir, o.Export, path); xerr != nil {
			return xerr
		}
		out.Export = path
	}
	if o.JSON {
		e := json.NewEncoder(env.Stdout)
		e.SetIndent("", "  ")
		if jerr := e.Encode(out); jerr != nil {
			return jerr
		}
	} else {
		fmt.Fprintf(env.Stdout, "run %s: %d steps in %.0fs, final loss %.4f, %d NaN/Inf steps skipped\ncheckpoint %s\n",
			out.Dir, out.Steps, out.Seconds, out.FinalLoss, out.NaNSkipped, out.Checkpoint)
		if out.Export != "" {
			fmt.Fprintf(env.Stdout, "exported %s backbone to %s\n", o.Export, out.Export)
		}
	}
	if err != nil && errors.Is(err, context.Canceled) && !o.Quiet {
		fmt.Fprintf(env.Stderr, "train: interrupted; checkpoint written, continue with: sslpipe train --resume %s\n", cfg.Dir)
	}
	return err
}

func runBenchTrainCmd(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("bench train", env.Stderr)
	preset := fs.String("preset", "cifar", "BYOL preset whose model and optimizer are timed")
	device := fs.String("device", "auto", "auto, cpu, cuda or cuda:N")
	batch := fs.Int("batch", 256, "batch size")
	steps := fs.Int("steps", 50, "timed steps")
	warmup := fs.Int("warmup", 10, "untimed warm-up steps")
	bf16 := fs.Bool("bf16", false, "bfloat16 autocast (CUDA)")
	optim := fs.String("optim", "sgd", "sgd, lars or adamw")
	threads := fs.Int("threads", 0, "libtorch intra-op threads (0: all cores)")
	skip := fs.Bool("skip-nonfinite", true, "check the loss before the update to skip NaN/Inf steps (one device sync before the optimizer)")
	asJSON := fs.Bool("json", false, "JSON output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := train.Preset("byol", *preset)
	if err != nil {
		return usagef("bench train: %v", err)
	}
	cfg.Device, cfg.Batch, cfg.BF16, cfg.Optim.Name, cfg.Threads = *device, *batch, *bf16, *optim, *threads
	cfg.Optim.SkipNonFinite = *skip
	res, err := train.BenchStep(ctx, cfg, *warmup, *steps)
	if err != nil {
		return err
	}
	if *asJSON {
		res.StepMS = nil
		return json.NewEncoder(env.Stdout).Encode(res)
	}
	fmt.Fprintf(env.Stdout, "sslpipe BYOL step: %s %s batch %d %dx%d %s bf16=%v skip-nonfinite=%v: median %.2f ms/step, mean %.2f ms/step, %.0f images/s (%d steps)\n",
		res.Device, res.Arch, res.Batch, res.Size, res.Size, res.Optim, res.BF16, cfg.Optim.SkipNonFinite, res.MedianMS, res.MeanMS, res.ImagesSec, res.Steps)
	return nil
}
