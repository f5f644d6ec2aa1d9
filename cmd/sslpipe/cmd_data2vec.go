//go:build cgo && portpending

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/eval/summary"
	"github.com/sslpipe/sslpipe/train/data2vec"
)

func init() {
	register(&command{Name: "data2vec", Summary: "data2vec pretraining on text, images or audio: train, probe, bench [libtorch]", Run: runData2vecCmd})
}

func runData2vecCmd(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(env.Stderr, `Usage:
  sslpipe data2vec train --modality text|image|audio --dir RUN [--preset NAME] [--data D] [--steps N] [--print-config] ...
  sslpipe data2vec probe --run RUN [--data D] [--hubert HUBERT_RUN] [--summary FILE] [--probe linear|knn] [--teacher] [--layer L] [--json]
  sslpipe data2vec bench [--device cuda] [--bf16] [--steps 50] [--batch 32] [--seq 128]
Presets: %s
`, strings.Join(data2vec.Presets(""), ", "))
		if len(args) == 0 {
			return usagef("data2vec: no subcommand given (train, probe, bench)")
		}
		return flagHelp
	}
	switch args[0] {
	case "train":
		return runData2vecTrain(ctx, env, args[1:])
	case "probe":
		return runData2vecProbe(ctx, env, args[1:])
	case "bench":
		return runData2vecBench(ctx, env, args[1:])
	}
	return usagef("data2vec: unknown subcommand %q (train, probe, bench)", args[0])
}

func runData2vecTrain(ctx context.Context, env *cmdEnv, args []string) error {
	var modality, preset, cfgPath, data, dir, device, tok, resume string
	var steps int64
	var batch, threads, limit int
	var lr float64
	var seed uint64
	var printCfg, quiet, stop bool
	fs := newFlagSet("data2vec train", env.Stderr)
	fs.StringVar(&modality, "modality", "", "text, image or audio")
	fs.StringVar(&preset, "preset", "", "preset (default <modality>-cpu): "+strings.Join(data2vec.Presets(""), ", "))
	fs.StringVar(&cfgPath, "config", "", "YAML config (overrides the preset; flags override it)")
	fs.StringVar(&data, "data", "", "text: fortunes folder or text file; image: fashion-mnist:train or a folder; audio: folder of 16 kHz WAVs")
	fs.StringVar(&tok, "tokenizer", "", "text: tokenizer.json (default: train one on the data)")
	fs.StringVar(&dir, "dir", "", "run folder to write")
	fs.StringVar(&resume, "resume", "", "continue the run in RUN_DIR from its newest checkpoint (its config.yaml; --device and --threads may change)")
	fs.StringVar(&device, "device", "", "auto, cpu, cuda or cuda:N")
	fs.Int64Var(&steps, "steps", 0, "training steps (0: the preset's)")
	fs.IntVar(&batch, "batch", 0, "examples per step (0: the preset's)")
	fs.IntVar(&limit, "limit", -1, "use only the first N examples (0: all; -1: the preset's)")
	fs.Float64Var(&lr, "lr", 0, "peak learning rate (0: the preset's)")
	fs.IntVar(&threads, "threads", -1, "libtorch threads (0: all cores)")
	fs.Uint64Var(&seed, "seed", 0, "seed (0: the preset's)")
	fs.BoolVar(&stop, "stop-on-collapse", false, "stop (instead of warning) when the target variance falls below the threshold")
	fs.BoolVar(&printCfg, "print-config", false, "print the resolved config and exit")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var cfg data2vec.Config
	var err error
	if resume != "" {
		if cfgPath != "" || (dir != "" && dir != resume) {
			return usagef("data2vec train: --resume takes the run's own config.yaml and folder (no --config or --dir)")
		}
		cfgPath = filepath.Join(resume, "config.yaml")
		dir = resume
	}
	if cfgPath != "" {
		if cfg, err = data2vec.LoadConfig(cfgPath); err != nil {
			return err
		}
		if modality != "" && modality != cfg.Modality {
			return usagef("data2vec train: --modality %s but %s is a %s config", modality, cfgPath, cfg.Modality)
		}
	} else {
		if modality == "" {
			return usagef("data2vec train: --modality (text, image or audio) is required")
		}
		if cfg, err = data2vec.Preset(modality, preset); err != nil {
			return usagef("data2vec train: %v", err)
		}
	}
	if data != "" {
		cfg.Data = data
	}
	if tok != "" {
		cfg.Tokenizer = tok
	}
	if dir != "" {
		cfg.Dir = dir
	}
	if device != "" {
		cfg.Device = device
	}
	if steps > 0 {
		cfg.Steps = steps
	}
	if batch > 0 {
		cfg.Batch = batch
	}
	if limit >= 0 {
		cfg.Limit = limit
	}
	if lr > 0 {
		cfg.Optim.LR = lr
	}
	if threads >= 0 {
		cfg.Threads = threads
	}
	if seed > 0 {
		cfg.Seed = seed
	}
	if stop {
		cfg.Collapse.Stop = true
	}
	if printCfg {
		y, err := cfg.YAML()
		if err != nil {
			return err
		}
		_, err = env.Stdout.Write(y)
		return err
	}
	if cfg.Data == "" || cfg.Dir == "" {
		return usagef("data2vec train: --data and --dir are required")
	}
	o := data2vec.RunOptions{Resume: resume != ""}
	if !quiet {
		o.Progress = env.Stderr
	}
	res, err := data2vec.Train(ctx, cfg, o)
	if err != nil {
		if res != nil && res.Checkpoint != "" {
			fmt.Fprintf(env.Stderr, "data2vec train: stopped at step %d; checkpoint written, continue with: sslpipe data2vec train --resume %s\n", res.Steps, cfg.Dir)
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "data2vec train: %s (%s): %d steps in %.0f s; loss %.4f -> %.4f; target variance %.3f -> %.3f (smallest in the last window %.3f); %d collapse warnings\n",
		res.Dir, cfg.Modality, res.Steps, res.Seconds, res.First.Loss, res.Final.Loss, res.First.TargetVar, res.Final.TargetVar, res.Final.MinTargetVar, res.Final.CollapseWarnings)
	return nil
}

func runData2vecProbe(ctx context.Context, env *cmdEnv, args []string) error {
	var run, data, sum, probe, cats, layer string
	var k, perClass, ntr, nte int
	var temp float64
	var o data2vec.ProbeOptions
	var jsonOut bool
	fs := newFlagSet("data2vec probe", env.Stderr)
	fs.StringVar(&run, "run", "", "trained run folder")
	fs.StringVar(&data, "data", "", "text: fortunes folder (default Debian's); image: Fashion-MNIST folder (default); audio: spoken-digit folder with train/ and test/ (sslpipe speechdata's digits/)")
	fs.StringVar(&cats, "categories", strings.Join(data2vec.DefaultCategories, ","), "text: fortune categories used as classes")
	fs.IntVar(&perClass, "per-class", 150, "text: fortunes per category (70% probe-train, 30% test)")
	fs.IntVar(&ntr, "train-images", 10000, "image: Fashion-MNIST train images (kNN bank, probe fit)")
	fs.IntVar(&nte, "test-images", 2000, "image: Fashion-MNIST test images")
	fs.StringVar(&o.HuBERT, "hubert", "", "audio: also score this HuBERT run's last layer (and its random init) with the same protocol")
	fs.BoolVar(&o.Embed.Teacher, "teacher", false, "probe the EMA teacher's encoder instead of the student's")
	fs.StringVar(&layer, "layer", "", "block whose mean-pooled output is probed (0: the encoder output; -1: the token/patch/CNN embeddings before the encoder; auto: for each network the layer with the best 5-fold cross-validated linear accuracy on the probe-train split); default -1 for text (topic is lexical: see benchmarks/RESULTS.md), 0 otherwise")
	fs.BoolVar(&o.Embed.Cut, "cut", false, "text: keep only the first seq_len tokens of each text (default: the whole text, in windows of seq_len tokens)")
	fs.IntVar(&k, "k", 20, "kNN neighbours")
	fs.Float64Var(&temp, "t", 0.07, "kNN temperature")
	fs.StringVar(&sum, "summary", "", "add the data2vec entry to this summary.json")
	fs.StringVar(&probe, "probe", "", "probe reported in --summary: linear or knn (default: knn for image, linear otherwise)")
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if run == "" {
		return usagef("data2vec probe: --run is required")
	}
	o.Data, o.PerClass, o.TrainN, o.TestN = data, perClass, ntr, nte
	o.Categories = strings.Split(cats, ",")
	o.KNN = eval.KNNSetting{K: k, T: temp}
	cfg, err := data2vec.LoadConfig(filepath.Join(run, "config.yaml"))
	if err != nil {
		return err
	}
	if cfg.Modality == "audio" && data == "" {
		return usagef("data2vec probe: audio needs --data (the spoken-digit folder)")
	}
	if layer == "" {
		layer = "0"
		if cfg.Modality == "text" {
			layer = "-1"
		}
	}
	if layer == "auto" {
		o.SelectLayer = true
	} else if o.Embed.Layer, err = strconv.Atoi(layer); err != nil {
		return usagef("data2vec probe: --layer %q: want an integer or auto", layer)
	}
	rep, err := data2vec.Probe(run, o)
	if err != nil {
		return err
	}
	if probe == "" {
		probe = "linear"
		if rep.Modality == "image" {
			probe = "knn"
		}
	}
	if probe != "linear" && probe != "knn" {
		return usagef("data2vec probe: --probe must be linear or knn")
	}
	if sum != "" {
		pick := func(r data2vec.ProbeRow) float64 {
			if probe == "knn" {
				return r.KNN
			}
			return r.Linear
		}
		dev := "cpu"
		if cfg.Device != "cpu" && cfg.Device != "auto" {
			dev = cfg.Device
		}
		if _, err := summary.Update(sum, summary.Result{Modality: rep.Modality, Method: "data2vec", Probe: probe,
			Trained: pick(rep.Rows[0]), RandomInit: pick(rep.Rows[1]), Baseline: pick(rep.Rows[2]), BaselineKind: rep.BaselineKind,
			TrainSeconds: rep.TrainSeconds, Device: dev}); err != nil {
			return fmt.Errorf("data2vec probe: %w", err)
		}
	}
	if jsonOut {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
		return nil
	}
	where := fmt.Sprintf("layer %d", rep.Layer)
	if rep.Layer == data2vec.LayerSelected {
		where = "layer chosen per network by 5-fold CV on the probe-train split"
	}
	fmt.Fprintf(env.Stdout, "data2vec %s probe: %s; %d train / %d test examples, %d classes; %s encoder, %s\n",
		rep.Modality, rep.Task, rep.Train, rep.Test, len(rep.Classes), rep.Network, where)
	fmt.Fprintf(env.Stdout, "%-22s %8s %8s %6s %s\n", "features", "linear", "kNN", "dim", "layer")
	for i, r := range rep.Rows {
		l := ""
		if i < 2 {
			l = layerName(r.Layer)
			if r.CV > 0 {
				l += fmt.Sprintf(" (CV %.2f%%)", 100*r.CV)
			}
		}
		fmt.Fprintf(env.Stdout, "%-22s %7.2f%% %7.2f%% %6d %s\n", r.Name, 100*r.Linear, 100*r.KNN, r.Dim, l)
	}
	fmt.Fprintf(env.Stdout, "(kNN %s on L2-normalized features; linear: logistic regression with an L2 sweep on standardized features; chance %.1f%%; %.0f s)\n",
		rep.KNN, 100/float64(len(rep.Classes)), rep.Seconds)
	return nil
}

func runData2vecBench(ctx context.Context, env *cmdEnv, args []string) error {
	cfg := data2vec.BenchConfig()
	var steps, warmup int
	var jsonOut bool
	fs := newFlagSet("data2vec bench", env.Stderr)
	fs.BoolVar(&jsonOut, "json", false, "print one JSON line (the format of benchmarks/data2vec/pytorch_data2vec.py)")
	fs.StringVar(&cfg.Device, "device", "auto", "auto, cpu, cuda or cuda:N")
	fs.BoolVar(&cfg.BF16, "bf16", true, "bfloat16 matrix products (CUDA only)")
	fs.IntVar(&cfg.Batch, "batch", cfg.Batch, "sequences per step")
	fs.IntVar(&cfg.Model.SeqLen, "seq", cfg.Model.SeqLen, "tokens per sequence")
	fs.IntVar(&cfg.Model.Encoder.Layers, "layers", cfg.Model.Encoder.Layers, "Transformer blocks")
	fs.IntVar(&cfg.Model.TopK, "top-k", cfg.Model.TopK, "blocks averaged into the targets")
	fs.IntVar(&cfg.Threads, "threads", 0, "libtorch CPU threads (0: all cores)")
	fs.IntVar(&warmup, "warmup", 10, "untimed steps")
	fs.IntVar(&steps, "steps", 50, "timed steps")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if steps < 1 {
		return usagef("data2vec bench: --steps must be >= 1")
	}
	res, err := data2vec.BenchStep(cfg, warmup, steps)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("data2vec bench: %w", err)
	}
	e := cfg.Model.Encoder
	if jsonOut {
		b, _ := json.Marshal(map[string]any{"impl": "sslpipe", "device": cfg.Device, "bf16": cfg.BF16, "layers": e.Layers, "dim": e.Dim,
			"batch": cfg.Batch, "seq": cfg.Model.SeqLen, "top_k": cfg.Model.TopK, "steps": res.Steps,
			"median_ms": res.MSPerStep, "mean_ms": res.MeanMS, "tokens_per_sec": res.TokensPerSec, "loss": res.Loss})
		fmt.Fprintln(env.Stdout, string(b))
		return nil
	}
	fmt.Fprintf(env.Stdout, "data2vec text step (%d layers, d=%d, batch %d x %d tokens, top-%d, bf16 %v, device %s): %.2f ms/step (median), %.0f tokens/s over %d steps (loss %.4f)\n",
		e.Layers, e.Dim, cfg.Batch, cfg.Model.SeqLen, cfg.Model.TopK, cfg.BF16, cfg.Device, res.MSPerStep, res.TokensPerSec, res.Steps, res.Loss)
	return nil
}

// trainMethods are `sslpipe train --method NAME` implementations that live
// outside cmd_train.go (which trains BYOL itself); runTrainCmd dispatches
// to them first.
var trainMethods = map[string]func(ctx context.Context, env *cmdEnv, args []string) error{}

func init() {
	evalMethods["data2vec"] = runData2vecProbe
	evalMethods["hubert"] = runHubertProbe
	trainMethods["data2vec"] = runData2vecTrainMethod
	trainMethods["hubert"] = func(ctx context.Context, env *cmdEnv, args []string) error {
		return runHubertTrain(ctx, env, methodArgs(args))
	}
}

// methodFromArgs returns the value of --method (or -method) in args, or,
// without it, the method named in the config.yaml of the --resume folder;
// "" if neither.
func methodFromArgs(args []string) string {
	if m := methodFlag(args); m != "" {
		return m
	}
	if dir := flagValue(args, "resume"); dir != "" {
		return runMethod(dir)
	}
	return ""
}

// methodFlag returns the value of --method (or -method) in args, "" if absent.
func methodFlag(args []string) string { return flagValue(args, "method") }

// runData2vecTrainMethod is `sslpipe train --method data2vec --modality M
// [--out DIR] ...`: `sslpipe data2vec train` with --out accepted for --dir.
func runData2vecTrainMethod(ctx context.Context, env *cmdEnv, args []string) error {
	return runData2vecTrain(ctx, env, methodArgs(args))
}

// methodArgs turns `sslpipe train --method M ... --out DIR` arguments into
// those of the method's own train command: --method dropped, --out DIR
// passed as --dir DIR.
func methodArgs(args []string) []string {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--method" || a == "-method":
			i++
		case strings.HasPrefix(a, "--method=") || strings.HasPrefix(a, "-method="):
		case a == "--out" || a == "-out":
			rest = append(rest, "--dir")
		case strings.HasPrefix(a, "--out=") || strings.HasPrefix(a, "-out="):
			rest = append(rest, "--dir="+a[strings.Index(a, "=")+1:])
		default:
			rest = append(rest, a)
		}
	}
	return rest
}

// layerName describes a data2vec probe layer.
func layerName(l int) string {
	switch {
	case l < 0:
		return "embeddings"
	case l == 0:
		return "encoder output"
	}
	return fmt.Sprintf("block %d", l)
}
