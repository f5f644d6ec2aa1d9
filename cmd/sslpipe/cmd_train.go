//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/dist"
	_ "github.com/sslpipe/sslpipe/train/methods" // every built-in method
)

func init() {
	register(&command{Name: "train", Summary: "pretrain any method on any dataset into a run folder (--method byol|hubert|data2vec|...)", Run: runTrainCmd})
}

// trainOptions are the flags of `sslpipe train` that are not config
// fields.
type trainOptions struct {
	Method, Preset, ConfigFile string
	Resume                     string
	PrintConfig, Quiet, JSON   bool
	// NProc starts this many local processes (data-parallel); DistTimeout
	// is how long a collective may wait for a peer.
	NProc       int
	DistTimeout float64
	// set holds the config flags given, in order, applied over the config.
	set []setFlag
}

type setFlag struct{ name, value string }

// configFlag is a flag that sets a config field, for every method.
type configFlag struct {
	name, usage string
	// resumable flags may change a resumed run
	resumable bool
	apply     func(c *train.Config, v string) error
}

// configFlags are the shared flags: the same names for every method.
var configFlags = []configFlag{
	{"out", "run folder (config out)", false, func(c *train.Config, v string) error { c.Out = v; return nil }},
	{"data", "training data: a preprocess output folder, a shard glob, a raw folder or fashion-mnist:train (config data.spec)", false,
		func(c *train.Config, v string) error { c.Data.Spec = v; return nil }},
	{"modality", "image, audio or text: for raw folders that mix kinds (config data.modality)", false,
		func(c *train.Config, v string) error { c.Data.Modality = v; return nil }},
	{"tokenizer", "tokenizer.json for raw text folders (config data.tokenizer)", false,
		func(c *train.Config, v string) error { c.Data.Tokenizer = v; return nil }},
	{"steps", "optimizer steps (config schedule.steps); warm-up and schedules scale with it when shorter than the preset's", false,
		func(c *train.Config, v string) error { return parseInt64(v, 1, math.MaxInt64, &c.Schedule.Steps) }},
	{"batch", "global batch size (config data.batch)", false, func(c *train.Config, v string) error { return parseInt(v, 1, 1<<24, &c.Data.Batch) }},
	{"lr", "base learning rate (config optim.lr)", false, func(c *train.Config, v string) error { return parseFloat(v, 0, false, &c.Optim.LR) }},
	{"warmup", "warm-up steps (config schedule.warmup_steps)", false,
		func(c *train.Config, v string) error { return parseInt64(v, 0, math.MaxInt64, &c.Schedule.WarmupSteps) }},
	{"device", "auto, cpu, cuda or cuda:N (config device)", true, func(c *train.Config, v string) error {
		if v != "auto" && v != "cpu" && v != "cuda" && !strings.HasPrefix(v, "cuda:") {
			return fmt.Errorf("want auto, cpu, cuda or cuda:N")
		}
		c.Device = v
		return nil
	}},
	{"bf16", "bfloat16 autocast on CUDA: true or false (config bf16)", true, func(c *train.Config, v string) error { return parseBool(v, &c.BF16) }},
	{"seed", "seed of weights, data order, augmentation and masks (config seed)", false,
		func(c *train.Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("want a non-negative integer")
			}
			c.Seed = n
			return nil
		}},
	{"threads", "libtorch intra-op threads, 0 = chosen with --workers (config threads)", true,
		func(c *train.Config, v string) error { return parseInt(v, 0, 4096, &c.Threads) }},
	{"workers", "data workers, 0 = chosen with --threads (config data.workers)", true,
		func(c *train.Config, v string) error { return parseInt(v, 0, 4096, &c.Data.Workers) }},
	{"limit", "use only the first N samples of each epoch (config data.limit)", false,
		func(c *train.Config, v string) error { return parseInt(v, 0, math.MaxInt32, &c.Data.Limit) }},
	{"max-errors", fmt.Sprintf("bad samples skipped (each in RUN/errors.jsonl) before the run stops with exit 4; -1 no limit (config data.max_errors; default %d)", train.DefaultMaxErrors), true,
		func(c *train.Config, v string) error { return parseInt(v, -1, math.MaxInt32, &c.Data.MaxErrors) }},
	{"log-every", "steps between metrics lines (config log.every)", true,
		func(c *train.Config, v string) error { return parseInt64(v, 0, math.MaxInt64, &c.Log.Every) }},
	{"checkpoint-every", "steps between checkpoints, 0 = only at the end (config checkpoint.every)", true,
		func(c *train.Config, v string) error { return parseInt64(v, 0, math.MaxInt64, &c.Checkpoint.Every) }},
	{"keep", "checkpoints kept (config checkpoint.keep)", true,
		func(c *train.Config, v string) error { return parseInt(v, 1, 1<<20, &c.Checkpoint.Keep) }},
	{"monitor-every", "steps between online kNN probes, 0 = off (config monitor.every)", true,
		func(c *train.Config, v string) error { return parseInt64(v, 0, math.MaxInt64, &c.Monitor.Every) }},
}

// numericKind is the value type of the numeric config flags (for
// flag.Getter; the flag table test checks them all).
var numericKind = map[string]string{"steps": "int", "batch": "int", "lr": "float", "warmup": "int", "seed": "uint", "threads": "int",
	"workers": "int", "limit": "int", "max-errors": "int", "log-every": "int", "checkpoint-every": "int", "keep": "int", "monitor-every": "int"}

// configFlagValue records a config flag's value for resolveTrainConfig
// after checking it.
type configFlagValue struct {
	kind string
	set  func(string) error
	last string
}

func (v *configFlagValue) String() string { return v.last }

func (v *configFlagValue) Set(s string) error {
	if err := v.set(s); err != nil {
		return err
	}
	v.last = s
	return nil
}

// Get reports the flag's type (its value is in the config).
func (v *configFlagValue) Get() any {
	switch v.kind {
	case "int":
		return 0
	case "uint":
		return uint64(0)
	case "float":
		return 0.0
	}
	return v.last
}

func parseInt(v string, lo, hi int, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("want an integer")
	}
	if n < lo || n > hi {
		return fmt.Errorf("want an integer in [%d, %d]", lo, hi)
	}
	*dst = n
	return nil
}

func parseInt64(v string, lo, hi int64, dst *int64) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("want an integer")
	}
	if n < lo || n > hi {
		return fmt.Errorf("want an integer >= %d", lo)
	}
	*dst = n
	return nil
}

// parseFloat accepts a finite number above lo (or equal when inclusive).
func parseFloat(v string, lo float64, inclusive bool, dst *float64) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("want a finite number")
	}
	if f < lo || !inclusive && f == lo {
		return fmt.Errorf("want a number > %g", lo)
	}
	*dst = f
	return nil
}

func parseBool(v string, dst *bool) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	*dst = b
	return nil
}

// trainMethod finds the method a train command line is about: --method,
// or the method: of the resumed run's or the config file's YAML.
func trainMethod(args []string) string {
	if m := flagValue(args, "method"); m != "" {
		return m
	}
	if r := flagValue(args, "resume"); r != "" {
		return runMethod(r)
	}
	if f := flagValue(args, "config"); f != "" {
		return configMethod(f)
	}
	return ""
}

func runTrainCmd(ctx context.Context, env *cmdEnv, args []string) error {
	o := trainOptions{}
	fs := newFlagSet("train", env.Stderr)
	var names []string
	for _, m := range train.Methods() {
		names = append(names, m.Name)
	}
	fs.StringVar(&o.Method, "method", "", "self-supervised method: "+strings.Join(names, ", "))
	fs.StringVar(&o.Preset, "preset", "", "preset of the method (see --method M -h; default: the method's default for the data's modality)")
	fs.StringVar(&o.ConfigFile, "config", "", "YAML config file (flags override it)")
	fs.StringVar(&o.Resume, "resume", "", "continue the run in RUN from its newest checkpoint")
	fs.BoolVar(&o.PrintConfig, "print-config", false, "print the resolved config as YAML and exit")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress on stderr")
	fs.BoolVar(&o.JSON, "json", false, "print the result as JSON on stdout")
	intVar(fs, &o.NProc, "nproc-per-node", 1, 1, 1024, "data-parallel: start this many processes here (one per GPU, or CPU processes with Gloo); under torchrun/Slurm leave it at 1")
	floatVar(fs, &o.DistTimeout, "dist-timeout", 60, span{Lo: 1, Hi: 86400}, "data-parallel: seconds a collective waits for a peer before the run fails naming the lost rank")
	flags := append([]configFlag(nil), configFlags...)
	if m, err := train.Lookup(trainMethod(args)); err == nil {
		for _, f := range m.Flags {
			flags = append(flags, configFlag{name: f.Name, usage: f.Usage + " (" + m.Name + ")", apply: f.Set})
		}
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage: sslpipe train --method %s --data SPEC --out RUN [flags]\n\n%s\nModalities: %s\nPresets:\n", m.Name, m.Summary, strings.Join(m.Modalities, ", "))
			for _, p := range m.Presets {
				fmt.Fprintf(fs.Output(), "  %-18s %s (source: %s)\n", p.Name, p.Summary, p.Source)
			}
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	shared := map[string]bool{}
	for _, f := range configFlags {
		shared[f.name] = true
	}
	for _, f := range flags {
		f := f
		fs.Var(&configFlagValue{kind: numericKind[f.name], set: func(v string) error {
			if shared[f.name] { // check the value now, so the flag package names the flag
				var scratch train.Config
				if err := f.apply(&scratch, v); err != nil {
					return err
				}
			}
			o.set = append(o.set, setFlag{f.name, v})
			return nil
		}}, f.name, f.usage)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("train: unexpected arguments %q", fs.Args())
	}
	denv, distributed, err := dist.FromEnv(os.Getenv)
	if err != nil {
		return usagef("train: data-parallel environment: %v", err)
	}
	if o.NProc > 1 && !o.PrintConfig {
		if distributed {
			return usagef("train: --nproc-per-node starts processes itself; under torchrun or Slurm (RANK/SLURM_PROCID set) leave it out")
		}
		return launchLocal(ctx, &o, args)
	}
	cfg, ds, err := resolveTrainConfig(env, &o, flags)
	if err != nil {
		return err
	}
	if ds != nil {
		defer ds.Close()
	}
	if o.PrintConfig {
		y, err := cfg.YAML()
		if err != nil {
			return err
		}
		_, err = env.Stdout.Write(y)
		return err
	}
	if cfg.Out == "" {
		return usagef("train: no run folder: give --out RUN (or out: in the config)")
	}
	ro := train.RunOptions{Resume: o.Resume != "", Data: ds}
	if distributed {
		g, err := joinGroup(ctx, &cfg, denv, o.DistTimeout)
		if err != nil {
			return err
		}
		defer g.Close()
		ro.Dist, ro.LocalProcs = g, denv.LocalWorld
	}
	if !o.Quiet {
		ro.Progress, ro.TTY = env.Stderr, isTerminal(env.Stderr)
	}
	res, err := train.Run(ctx, cfg, ro)
	if distributed && denv.Rank != 0 {
		return err // rank 0 reports the run
	}
	return reportTrain(env, &o, &cfg, res, err)
}

// launchLocal runs `sslpipe train` (these arguments without
// --nproc-per-node) as o.NProc processes with the torchrun variables set,
// forwarding signals; the launch fails as a whole when one rank fails.
func launchLocal(ctx context.Context, o *trainOptions, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	argv := []string{exe, "train"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--nproc-per-node" || a == "-nproc-per-node":
			i++ // its value
		case strings.HasPrefix(a, "--nproc-per-node=") || strings.HasPrefix(a, "-nproc-per-node="):
		default:
			argv = append(argv, a)
		}
	}
	// LaunchLocal forwards SIGINT and SIGTERM itself: ctx, which the same
	// signal cancels, would end the ranks after a grace period instead of
	// letting them finish their step and checkpoint.
	if err := dist.LaunchLocal(context.WithoutCancel(ctx), dist.LaunchOptions{NProc: o.NProc, Argv: argv, Prefix: true}); err != nil {
		var ee *dist.ExitError
		var xe *exec.ExitError
		if errors.As(err, &ee) && errors.As(ee.Err, &xe) && xe.ExitCode() == exitInterrupted {
			// The ranks stopped together on an interrupt (and wrote
			// their checkpoint): the launch exits as one run would.
			return fmt.Errorf("train: interrupted (%w): %w", err, context.Canceled)
		}
		if errors.As(err, &ee) {
			return fmt.Errorf("train: %w", err)
		}
		return fmt.Errorf("train: launching %d processes: %w", o.NProc, err)
	}
	return nil
}

// joinGroup joins the data-parallel process group the environment
// describes: NCCL on CUDA devices where the shim has it (one GPU per local
// rank), Gloo otherwise. The ranks have 5 minutes to meet.
func joinGroup(ctx context.Context, cfg *train.Config, e dist.Env, timeout float64) (*dist.Group, error) {
	backend := dist.Gloo
	if dev, err := train.ParseDevice(cfg.Device); err == nil && dev.IsCuda() {
		cfg.Device = fmt.Sprintf("cuda:%d", e.LocalRank)
		if dist.Available(dist.NCCL) {
			backend = dist.NCCL
		}
	}
	jctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	opt := e.Options(backend, time.Duration(timeout*float64(time.Second)))
	if e.Rank == 0 {
		opt.Warn = os.Stderr
	}
	g, err := dist.Init(jctx, opt)
	if err != nil {
		return nil, fmt.Errorf("train: joining the process group (rank %d of %d): %w", e.Rank, e.World, err)
	}
	return g, nil
}

// resolveTrainConfig builds the config: the resumed run's config.yaml, a
// config file or a preset (the method's default for the data's modality
// when none is named), then the flags; then it opens the data, lets the
// method fill data-dependent fields and validates.
func resolveTrainConfig(env *cmdEnv, o *trainOptions, flags []configFlag) (cfg train.Config, ds *data.Dataset, err error) {
	byName := map[string]configFlag{}
	for _, f := range flags {
		byName[f.name] = f
	}
	given := map[string]string{}
	for _, s := range o.set {
		given[s.name] = s.value
	}
	switch {
	case o.Resume != "":
		if o.Method != "" || o.Preset != "" || o.ConfigFile != "" {
			return cfg, nil, usagef("train: --resume takes the run's own config.yaml; drop --method, --preset and --config")
		}
		if cfg, err = train.LoadConfig(filepath.Join(o.Resume, "config.yaml")); err != nil {
			return cfg, nil, usagef("train: --resume %s: %v", o.Resume, err)
		}
		cfg.Out = o.Resume
		for _, s := range o.set {
			if !byName[s.name].resumable {
				return cfg, nil, usagef("train: --%s cannot change a resumed run (only --device, --bf16, --threads, --workers, --max-errors, --log-every, --checkpoint-every, --keep, --monitor-every)", s.name)
			}
		}
	default:
		method := o.Method
		if method == "" && o.ConfigFile != "" {
			method = configMethod(o.ConfigFile)
		}
		if method == "" {
			return cfg, nil, usagef("train: no method: give --method (one of %s)", methodList())
		}
		m, err := train.Lookup(method)
		if err != nil {
			return cfg, nil, trainUsage(err)
		}
		preset := o.Preset
		if preset == "" && !configHasPreset(o.ConfigFile) {
			// The default preset depends on the data's modality.
			spec := given["data"]
			mod := given["modality"]
			if spec != "" && mod == "" {
				d, err := data.Open(spec, data.Options{Tokenizer: given["tokenizer"]})
				if err != nil {
					return cfg, nil, trainUsage(err)
				}
				mod = d.Modality
				d.Close()
			}
			preset = m.DefaultPresetFor(mod)
		}
		if o.ConfigFile != "" {
			cfg, err = train.LoadConfigPreset(o.ConfigFile, preset)
		} else {
			cfg, err = train.PresetConfig(method, preset)
		}
		if err != nil {
			return cfg, nil, trainUsage(err)
		}
		if o.Method != "" && cfg.Method != o.Method {
			return cfg, nil, usagef("train: --method %s conflicts with the config file's method %s", o.Method, cfg.Method)
		}
	}
	presetSteps := cfg.Schedule.Steps
	for _, s := range o.set {
		if err := byName[s.name].apply(&cfg, s.value); err != nil {
			return cfg, nil, usagef("train: --%s %q: %v", s.name, s.value, err)
		}
	}
	if _, ok := given["steps"]; ok && o.Resume == "" && cfg.Schedule.Steps < presetSteps {
		if _, w := given["warmup"]; !w {
			notes := train.ScaleSchedule(&cfg, presetSteps)
			if !o.Quiet && !o.PrintConfig {
				for _, n := range notes {
					fmt.Fprintf(env.Stderr, "train: note: %s\n", n)
				}
			}
		}
	}
	if cfg.Data.Spec == "" {
		return cfg, nil, usagef("train: no data: give --data (a preprocess output folder, a shard glob, a raw folder or fashion-mnist:train)")
	}
	if ds, err = train.OpenData(&cfg); err != nil {
		return cfg, nil, trainUsage(err)
	}
	if err := train.ResolveConfig(&cfg, ds); err != nil {
		ds.Close()
		return cfg, nil, trainUsage(err)
	}
	return cfg, ds, nil
}

// trainUsage maps configuration and data-spec errors to usage errors
// (exit 2).
func trainUsage(err error) error {
	if errors.Is(err, train.ErrConfig) || errors.Is(err, data.ErrSpec) {
		return usagef("%v", err)
	}
	return err
}

func methodList() string {
	var ns []string
	for _, m := range train.Methods() {
		ns = append(ns, m.Name)
	}
	return strings.Join(ns, ", ")
}

// trainResult is the --json output.
type trainResult struct {
	Dir         string             `json:"dir"`
	Method      string             `json:"method"`
	Steps       int64              `json:"steps"`
	FinalLoss   float64            `json:"final_loss"`
	NaNSkipped  int64              `json:"nan_skipped"`
	BadSamples  int                `json:"bad_samples"`
	Seconds     float64            `json:"seconds"`
	Checkpoint  string             `json:"checkpoint"`
	Interrupted bool               `json:"interrupted"`
	Last        map[string]float64 `json:"last_metrics"`
}

func reportTrain(env *cmdEnv, o *trainOptions, cfg *train.Config, res *train.Result, err error) error {
	if err != nil && errors.Is(err, train.ErrTooManyBadSamples) {
		err = fmt.Errorf("%w: %w", errTooManyDataErrors, err)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return trainUsage(err) // a failed run prints no success line
	}
	if res == nil {
		return err
	}
	out := trainResult{Dir: res.Dir, Method: cfg.Method, Steps: res.Steps, FinalLoss: res.FinalLoss, NaNSkipped: res.NaNSkipped, BadSamples: res.BadSamples,
		Seconds: res.Seconds, Checkpoint: res.Checkpoint, Interrupted: res.Interrupted, Last: res.Last}
	if math.IsNaN(out.FinalLoss) || math.IsInf(out.FinalLoss, 0) {
		out.FinalLoss = 0
	}
	if o.JSON {
		e := json.NewEncoder(env.Stdout)
		e.SetIndent("", "  ")
		if jerr := e.Encode(out); jerr != nil {
			return jerr
		}
	} else if err == nil {
		fmt.Fprintf(env.Stdout, "run %s: %s, %d steps in %.0fs, final loss %.4f, %d non-finite steps skipped, %d bad samples skipped\ncheckpoint %s\n",
			out.Dir, cfg.Method, out.Steps, out.Seconds, out.FinalLoss, out.NaNSkipped, out.BadSamples, out.Checkpoint)
	}
	if err != nil && !o.Quiet {
		fmt.Fprintf(env.Stderr, "train: interrupted; checkpoint written, continue with: sslpipe train --resume %s\n", cfg.Out)
	}
	return err
}
