//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sslpipe/sslpipe/train/hubert"
)

func init() {
	register(&command{Name: "hubert", Summary: "HuBERT iteration-2 labels (k-means of a trained run's layer) and the step benchmark [libtorch]", Run: runHubertCmd})
}

const hubertUsage = `Usage:
  sslpipe hubert labels --data DS --from-run RUN --out DS2 [--layer 6] [--kmeans 500] [--fraction 0.1] [--seed 1]
  sslpipe hubert labels --data VALID --from-run RUN --out VALID2 --layer 6 --codebook DS2/kmeans.model
  sslpipe hubert bench  [--preset hubert-base] [--batch 8] [--seconds 4] [--steps 20] [--device cuda]   (also: sslpipe bench hubert)

HuBERT trains with the other methods:
  sslpipe preprocess --modality audio --in WAVS --out DS --features mfcc --deltas --kmeans 100   # iteration-1 labels
  sslpipe train --method hubert --data DS [--valid VALID] --out RUN [--preset cpu-small|cpu-reproduce|hubert-base|smoke]
  sslpipe hubert labels --data DS --from-run RUN --layer 6 --kmeans 500 --out DS2                  # iteration-2 labels
  sslpipe train --method hubert --data DS --labels DS2 [--valid VALID --valid-labels VALID2] --out RUN2
  sslpipe eval --run RUN --train LABELLED --test LABELLED [--layer L]
`

func runHubertCmd(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.Stderr, hubertUsage)
		if len(args) == 0 {
			return usagef("hubert: no subcommand given (labels, bench)")
		}
		return flagHelp
	}
	switch args[0] {
	case "labels":
		return runHubertLabels(ctx, env, args[1:])
	case "bench":
		return runHubertBench(ctx, env, args[1:])
	case "train":
		return movedCommand(env, "hubert train", "sslpipe train --method hubert", args[1:], map[string]string{"dir": "out"},
			"iteration-1 labels now come with the data (sslpipe preprocess --modality audio --features mfcc --deltas --kmeans 100), and --labels takes a label set written by `sslpipe hubert labels`")
	case "probe":
		return movedCommand(env, "hubert probe", "sslpipe eval", args[1:], map[string]string{"summary": "summary", "json": "json"},
			"the train and test sets are labelled audio datasets (preprocess --labels-from-dirs, or labelled raw folders); eval also scores the random init and a mean-MFCC baseline")
	}
	return usagef("hubert: unknown subcommand %q (labels, bench)", args[0])
}

// movedCommand answers a command that no longer exists with the command
// line that does its work now (flags renamed as rename says), and exit
// code 2.
func movedCommand(env *cmdEnv, old, now string, args []string, rename map[string]string, note string) error {
	var b strings.Builder
	b.WriteString(now)
	for _, a := range args {
		if name, ok := strings.CutPrefix(a, "-"); ok {
			name = strings.TrimPrefix(name, "-")
			n, v, hasV := strings.Cut(name, "=")
			if r, ok := rename[n]; ok {
				n = r
			}
			a = "--" + n
			if hasV {
				a += "=" + v
			}
		}
		b.WriteString(" " + shellQuote(a))
	}
	fmt.Fprintf(env.Stderr, "sslpipe %s has moved; the equivalent command is\n  %s\n(%s)\n", old, b.String(), note)
	return usagef("%s: moved to `%s`", old, now)
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func runHubertLabels(ctx context.Context, env *cmdEnv, args []string) error {
	var o hubert.LabelOptions
	var quiet, jsonOut bool
	fs := newFlagSet("hubert labels", env.Stderr)
	fs.StringVar(&o.Data, "data", "", "audio dataset to label: a `sslpipe preprocess` output folder or a shard glob")
	fs.StringVar(&o.Run, "from-run", "", "trained HuBERT run whose transformer block is clustered")
	fs.StringVar(&o.Out, "out", "", "label set to write (a new folder: labels.json, kmeans.model and one shard of <key>.km.npy per data shard)")
	intVar(fs, &o.Layer, "layer", 6, 1, 1<<20, "transformer block whose output is clustered (1-based; HuBERT base: 6)")
	intVar(fs, &o.K, "kmeans", 500, 2, 1<<20, "k-means clusters (HuBERT's second iteration: 500)")
	floatVar(fs, &o.Fraction, "fraction", 0.1, fraction, "fraction of the utterances whose frames fit the k-means (HuBERT: about 10%)")
	intVar(fs, &o.MaxFrames, "max-frames", 1<<20, 1, 1<<30, "most frames the k-means is fitted on (reservoir sampled beyond)")
	fs.StringVar(&o.Codebook, "codebook", "", "assign with this kmeans.model of an earlier label set (same run and layer) instead of fitting: labels for a held-out set in the training labels' dictionary")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the utterance choice and the k-means")
	fs.StringVar(&o.Device, "device", "cpu", "device for the model: cpu, cuda, cuda:N or auto")
	intVar(fs, &o.Workers, "workers", 0, 0, 4096, "decoding workers (0: GOMAXPROCS)")
	fs.BoolVar(&quiet, "quiet", false, "no progress on stderr")
	fs.BoolVar(&jsonOut, "json", false, "print the label set's labels.json on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("hubert labels: unexpected arguments %q", fs.Args())
	}
	if o.Run == "" && o.Data != "" && o.Out != "" {
		return movedCommand(env, "hubert labels (MFCC, iteration 1)", "sslpipe preprocess --modality audio --features mfcc --deltas",
			[]string{"--in", o.Data, "--out", o.Out, fmt.Sprintf("--kmeans=%d", o.K), fmt.Sprintf("--kmeans-fraction=%g", o.Fraction)}, nil,
			"iteration-1 labels are km.npy members of the preprocessed dataset; --from-run RUN makes iteration-2 labels")
	}
	if o.Data == "" || o.Run == "" || o.Out == "" {
		return usagef("hubert labels: --data, --from-run and --out are required")
	}
	if !quiet {
		o.Progress = env.Stderr
	}
	ls, err := hubert.LayerLabels(ctx, o)
	if err != nil {
		return trainUsage(err)
	}
	if jsonOut {
		b, _ := json.MarshalIndent(ls, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
		return nil
	}
	fmt.Fprintf(env.Stdout, "label set %s: k=%d at %d Hz (%s), %d samples in %d shards\ntrain iteration 2 with: sslpipe train --method hubert --data %s --labels %s --out RUN\n",
		o.Out, ls.K, ls.LabelRate, ls.FeatureType, ls.Samples, len(ls.Shards), shellQuote(o.Data), shellQuote(o.Out))
	return nil
}
