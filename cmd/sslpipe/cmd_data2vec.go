//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data2vec"
)

// data2vec trains through `sslpipe train --method data2vec` and is probed
// by `sslpipe eval`; what remains here is its step benchmark (`sslpipe
// data2vec bench`, also `sslpipe bench data2vec`) and, for the old
// `data2vec train` and `data2vec probe` command lines, the equivalent new
// command (exit 2).

func init() {
	register(&command{Name: "data2vec", Summary: "data2vec step benchmark vs PyTorch (bench); training and probes moved to `sslpipe train --method data2vec` and `sslpipe eval`", Run: runData2vecCmd})
	registerBench(&benchTarget{Name: "data2vec", Summary: "one data2vec text training step (ms/step, tokens/s) on --device, as benchmarks/data2vec/pytorch_data2vec.py", Run: runData2vecBench})
}

func runData2vecCmd(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.Stderr, `Usage:
  sslpipe data2vec bench [--device cuda] [--bf16] [--steps 50] [--batch 32] [--seq 128] [--json]
  (also: sslpipe bench data2vec ...)

Training and probing go through the commands every method shares:
  sslpipe train --method data2vec --data DATASET --out RUN [--preset text-cpu|image-cpu|audio-cpu|...]
  sslpipe eval --run RUN --train SPEC --test SPEC [--probe linear|knn]
`)
		if len(args) == 0 {
			return usagef("data2vec: no subcommand given (bench)")
		}
		return flagHelp
	}
	switch args[0] {
	case "train":
		return data2vecMoved(env, "train", "sslpipe train", args[1:], data2vecTrainEquivalent)
	case "probe":
		return data2vecMoved(env, "probe", "sslpipe eval", args[1:], data2vecProbeEquivalent)
	case "bench":
		return runData2vecBench(ctx, env, args[1:])
	}
	return usagef("data2vec: unknown subcommand %q (bench; train and probe moved to `sslpipe train` and `sslpipe eval`)", args[0])
}

// data2vecMoved prints the command that replaces `sslpipe data2vec sub
// args` and returns a usage error (exit 2).
func data2vecMoved(env *cmdEnv, sub, to string, args []string, equivalent func([]string) (cmd, note string, err error)) error {
	cmd, note, err := equivalent(args)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "sslpipe data2vec %s is gone: data2vec trains and is probed through the commands every method shares. The equivalent command:\n  %s\n", sub, cmd)
	if note != "" {
		fmt.Fprintln(env.Stderr, note)
	}
	return usagef("data2vec %s: moved to `%s`", sub, to)
}

// cmdLine builds a shell command from words (quoting those that need it).
type cmdLine []string

func (c *cmdLine) add(words ...string) { *c = append(*c, words...) }

func (c cmdLine) String() string {
	var out []string
	for _, w := range c {
		if w == "" || strings.ContainsAny(w, " \t\n'\"$`\\*?[]{}()<>|&;#~") {
			w = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// visited lists the flags given on the command line, in order.
func visited(fs *flag.FlagSet) []*flag.Flag {
	var out []*flag.Flag
	fs.Visit(func(f *flag.Flag) { out = append(out, f) })
	return out
}

// data2vecTrainEquivalent maps the flags of the old `sslpipe data2vec
// train` to `sslpipe train --method data2vec`.
func data2vecTrainEquivalent(args []string) (string, string, error) {
	fs := flag.NewFlagSet("sslpipe data2vec train", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	for _, n := range []string{"modality", "preset", "config", "data", "tokenizer", "dir", "resume", "device"} {
		fs.String(n, "", "")
	}
	for _, n := range []string{"steps", "batch", "limit", "lr", "threads", "seed"} {
		fs.String(n, "", "")
	}
	for _, n := range []string{"stop-on-collapse", "print-config", "quiet"} {
		fs.Bool(n, false, "")
	}
	if err := fs.Parse(args); err != nil {
		return "", "", usagef("data2vec train: %v", err)
	}
	c := cmdLine{"sslpipe", "train"}
	var notes []string
	if r := fs.Lookup("resume").Value.String(); r != "" {
		c.add("--resume", r)
	} else {
		c.add("--method", "data2vec")
	}
	modality, hasData := "", false
	for _, f := range visited(fs) {
		v := f.Value.String()
		switch f.Name {
		case "resume":
		case "dir":
			c.add("--out", v)
		case "data":
			hasData = true
			c.add("--data", v)
		case "modality":
			modality = v
		case "stop-on-collapse":
			notes = append(notes, "--stop-on-collapse is the config setting `data2vec: {collapse: {stop: true}}` (give it with --config FILE).")
		case "print-config", "quiet":
			if v == "true" {
				c.add("--" + f.Name)
			}
		default:
			c.add("--"+f.Name, v)
		}
	}
	if modality != "" && !hasData {
		switch modality {
		case "image":
			c.add("--data", "fashion-mnist:train")
		default:
			c.add("--data", "DATASET")
		}
	}
	switch {
	case modality == "text" || fs.Lookup("tokenizer").Value.String() != "":
		notes = append(notes, "Text trains on token-id shards made with the dataset's tokenizer (no tokenizer is trained during training), e.g.\n"+
			"  sslpipe preprocess --modality text --in CORPUS.txt --train-tokenizer wordpiece --vocab 4000 --seq-len 32 --out DATASET\n"+
			"(a raw text folder with --tokenizer FILE also works, one example per line or fortune).")
	case modality == "audio":
		notes = append(notes, "Audio trains on `sslpipe preprocess --modality audio --in WAVS --out DATASET` output or on a folder of WAVs.")
	}
	return c.String(), strings.Join(notes, "\n"), nil
}

// data2vecProbeEquivalent maps the old `sslpipe data2vec probe` to
// `sslpipe eval` on labelled data of the run's modality.
func data2vecProbeEquivalent(args []string) (string, string, error) {
	fs := flag.NewFlagSet("sslpipe data2vec probe", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	for _, n := range []string{"run", "data", "categories", "per-class", "train-images", "test-images", "hubert", "layer", "k", "t", "summary", "probe"} {
		fs.String(n, "", "")
	}
	for _, n := range []string{"teacher", "cut", "json"} {
		fs.Bool(n, false, "")
	}
	if err := fs.Parse(args); err != nil {
		return "", "", usagef("data2vec probe: %v", err)
	}
	get := func(n string) string { return fs.Lookup(n).Value.String() }
	run := get("run")
	if run == "" {
		return "", "", usagef("data2vec probe: --run is required")
	}
	cfg, err := train.LoadConfig(filepath.Join(run, "config.yaml"))
	if err != nil {
		return "", "", err
	}
	if cfg.Method != "data2vec" {
		return "", "", usagef("data2vec probe: %s is a %s run", run, cfg.Method)
	}
	modality := cfg.Data.Modality
	c := cmdLine{"sslpipe", "eval", "--run", run}
	var notes []string
	probe := get("probe")
	switch modality {
	case "image":
		ntr, nte := orDefault(get("train-images"), "10000"), orDefault(get("test-images"), "2000")
		c.add("--train", "fashion-mnist:train", "--test", "fashion-mnist:test", "--max-train", ntr, "--max-test", nte)
		if probe == "" {
			probe = "knn"
		}
		notes = append(notes, "--max-train/--max-test take evenly spaced images (the old probe took the first ones).")
	case "audio":
		d := orDefault(get("data"), "DIGITS")
		c.add("--train", filepath.Join(d, "train"), "--test", filepath.Join(d, "test"))
		if get("hubert") != "" {
			notes = append(notes, "--hubert: probe the HuBERT run with its own `sslpipe eval --run "+get("hubert")+" ...` on the same --train/--test.")
		}
	case "text":
		c.add("--train", "FORTUNES_TRAIN", "--test", "FORTUNES_TEST", "--tokenizer", filepath.Join(run, "tokenizer.json"))
		cats := orDefault(get("categories"), "art,computers,education,food,law,love,medicine,politics,science,sports")
		notes = append(notes, "Text probes read labelled raw text: a fortune(6) folder is labelled by file. Make FORTUNES_TRAIN and FORTUNES_TEST folders holding, for each category ("+cats+"), "+
			"a file of that name with 70% (train) and 30% (test) of its fortunes (at most "+orDefault(get("per-class"), "150")+" per category), '%' lines between fortunes.")
	}
	if probe == "" {
		probe = "linear"
	}
	c.add("--probe", probe)
	c.add("--k", orDefault(get("k"), "20"), "--t", orDefault(get("t"), "0.07")) // the old probe's kNN setting
	if get("teacher") == "true" {
		c.add("--which", "teacher")
	}
	switch l := get("layer"); {
	case l == "" || l == "-1" && modality == "text": // the old default is the new one
	case l == "auto":
		notes = append(notes, "--layer auto (cross-validated layer choice) has no equivalent: compare --layer -1, 1.."+strconv.Itoa(data2vecLayers(&cfg))+" with separate runs of `sslpipe eval`.")
	case l == "0":
		if modality == "text" { // the encoder output is the last block's
			c.add("--layer", strconv.Itoa(data2vecLayers(&cfg)))
		}
	default:
		c.add("--layer", l)
	}
	if get("cut") == "true" {
		notes = append(notes, "--cut has no equivalent: texts are encoded whole, in windows of the model's seq_len.")
	}
	if s := get("summary"); s != "" {
		c.add("--summary", s)
	}
	if get("json") == "true" {
		c.add("--json")
	}
	return c.String(), strings.Join(notes, "\n"), nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// data2vecLayers is the run's encoder depth.
func data2vecLayers(c *train.Config) int {
	if m, ok := c.Model.(*data2vec.ModelConfig); ok {
		return m.Encoder.Layers
	}
	return 0
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
	fs.IntVar(&cfg.Model.Vocab, "vocab", cfg.Model.Vocab, "vocabulary size (random token ids)")
	fs.IntVar(&cfg.Threads, "threads", 0, "libtorch CPU threads (0: all cores)")
	fs.IntVar(&warmup, "warmup", 10, "untimed steps")
	fs.IntVar(&steps, "steps", 50, "timed steps")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("data2vec bench: unexpected arguments %q", fs.Args())
	}
	switch {
	case steps < 1 || warmup < 0:
		return usagef("data2vec bench: --steps must be >= 1 and --warmup >= 0")
	case cfg.Batch < 1 || cfg.Model.SeqLen < 2 || cfg.Threads < 0 || cfg.Model.Vocab < 10:
		return usagef("data2vec bench: --batch must be >= 1, --seq >= 2, --vocab >= 10 and --threads >= 0")
	case cfg.Model.Encoder.Layers < 1 || cfg.Model.TopK < 1 || cfg.Model.TopK > cfg.Model.Encoder.Layers:
		return usagef("data2vec bench: --layers must be >= 1 and --top-k in [1, layers]")
	}
	if _, err := train.ParseDevice(cfg.Device); err != nil {
		return usagef("data2vec bench: --device: %v", err)
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
