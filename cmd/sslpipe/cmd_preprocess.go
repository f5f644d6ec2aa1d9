package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"time"

	"github.com/sslpipe/sslpipe/preprocess"
)

func init() {
	register(&command{Name: "preprocess", Summary: "turn images, audio or text into validated, resumable WebDataset shards (and 'preprocess merge')", Run: runPreprocessCmd})
}

// preprocessCLI are the flags of `sslpipe preprocess`.
type preprocessCLI struct {
	opts  preprocess.Options
	json  bool
	quiet bool
}

func runPreprocessCmd(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) > 0 && args[0] == "merge" {
		return runPreprocessMerge(ctx, env, args[1:])
	}
	var c preprocessCLI
	o := &c.opts
	fs := newFlagSet("preprocess", env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sslpipe preprocess --modality image|audio|text --in PATH --out DIR [flags]\n       sslpipe preprocess merge [--out DIR] DIR...\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nExit codes: 2 bad flags; 4 more rejected inputs than --max-errors (listed in OUT/errors.jsonl; the finished shards are kept and the same command resumes).\n")
	}
	fs.StringVar(&o.Modality, "modality", "", "image, audio or text")
	fs.StringVar(&o.In, "in", "", "folder, file list (.txt/.lst), manifest (.csv/.tsv/.jsonl), tar shard or glob of shards; text: corpus file or folder")
	fs.StringVar(&o.Out, "out", "", "output folder")
	intVar(fs, &o.ShardSize, "shard-size", 0, 1, 1<<30, "inputs per shard (default 1000; text: documents per shard, default 100000)")
	intVar(fs, &o.Part, "part", 0, 0, 1<<20, "this part's index, 0 <= part < parts (e.g. $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID)")
	intVar(fs, &o.Parts, "parts", 1, 1, 1<<20, "number of parts the shards are split into; combine with 'preprocess merge'")
	maxErrorsVar(fs, &o.MaxErrors, "rejected inputs", "in OUT/errors.jsonl")
	fs.BoolVar(&o.Resume, "resume", false, "require an interrupted run in --out (a plain rerun resumes too)")
	intVar(fs, &o.Workers, "workers", runtime.GOMAXPROCS(0), 1, maxWorkers, "processing goroutines")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of every random choice (k-means sample and init)")
	fs.BoolVar(&o.LabelsFromDirs, "labels-from-dirs", false, "label = first folder below --in, written as <key>.cls")
	fs.StringVar(&o.LabelColumn, "label-column", "", "manifest label column (default \"label\" if present)")
	fs.StringVar(&o.PathColumn, "path-column", "", "manifest path column (default \"path\")")
	// image
	intVar(fs, &o.MaxSide, "max-side", 0, 0, 1<<20, "image: shrink so the shorter side is at most this many pixels (0: keep size)")
	fs.StringVar(&o.Format, "format", "", "image: jpeg (default) or png (lossless)")
	intVar(fs, &o.Quality, "quality", 0, 1, 100, "image: JPEG quality 1-100 (default 90)")
	fs.StringVar(&o.Interp, "interp", "", "image: resize filter bilinear (default) or bicubic")
	intVar(fs, &o.MaxPixels, "max-pixels", 0, 1, math.MaxInt, "image: reject images whose header declares more pixels (default 64 Mi)")
	// audio
	intVar(fs, &o.Rate, "rate", 0, 1000, 192000, "audio: output sample rate in Hz (default 16000)")
	fs.StringVar(&o.DType, "dtype", "", "audio: waveform dtype int16 (default) or float32")
	fs.StringVar(&o.Features, "features", "", "audio: also store mfcc or fbank features (Kaldi-compatible, 100 frames/s)")
	fs.BoolVar(&o.Deltas, "deltas", false, "audio: append delta and delta-delta features")
	intVar(fs, &o.KMeans, "kmeans", 0, 2, 1<<16, "audio: fit mini-batch k-means with K clusters and write per-frame labels (HuBERT targets)")
	floatVar(fs, &o.KMeansFraction, "kmeans-fraction", 0, fraction, "audio: fraction of the recordings whose frames fit k-means (default 0.1)")
	fs.StringVar(&o.KMeansFrom, "kmeans-from", "", "audio: label with the centroids (.npy) of an earlier run instead of fitting")
	intVar(fs, &o.LabelRate, "label-rate", 0, 1, 100, "audio: frame rate of the k-means labels in Hz (default 50, the HuBERT encoder rate)")
	floatVar(fs, &o.MaxSeconds, "max-seconds", 0, positive, "audio: reject recordings longer than this (default 3600)")
	// text
	fs.StringVar(&o.Tokenizer, "tokenizer", "", "text: tokenizer.json (Hugging Face format)")
	fs.StringVar(&o.TrainTokenizer, "train-tokenizer", "", "text: train a wordpiece or bpe tokenizer on the corpus first")
	intVar(fs, &o.Vocab, "vocab", 0, 100, 1<<22, "text: vocabulary size for --train-tokenizer")
	intVar(fs, &o.SeqLen, "seq-len", 0, 4, 1<<16, "text: sequence length including special tokens (default 128)")
	fs.StringVar(&o.Pack, "pack", "", "text: across (default: concatenate documents) or one (one document per sequence)")
	fs.StringVar(&o.Split, "split", "", "text: documents are lines (default), blank (paragraphs), file, or fortune (fortune(6) files: documents between \"%\" lines)")
	fs.StringVar(&o.UTF8, "invalid-utf8", "", "text: a document with invalid UTF-8: error (default: rejected), skip or replace")
	// output
	fs.BoolVar(&c.json, "json", false, "print the summary as JSON on stdout")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("preprocess: unexpected arguments %q", fs.Args())
	}
	if !c.quiet {
		o.Progress = env.Stderr
		o.ProgressTTY = isTerminal(env.Stderr)
		o.ProgressEvery = 2 * time.Second
	}
	sum, err := preprocess.Run(ctx, c.opts)
	if sum != nil {
		if c.json {
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			if e := enc.Encode(sum); e != nil && err == nil {
				err = fmt.Errorf("preprocess: summary: %w", e)
			}
		} else {
			fmt.Fprint(env.Stdout, sum.String())
		}
	}
	return preprocessErr(err)
}

// preprocessErr maps the package's errors to the CLI's exit codes.
func preprocessErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, preprocess.ErrOptions):
		return usagef("%v", err)
	case errors.Is(err, preprocess.ErrTooManyErrors):
		return fmt.Errorf("%w: %v (fix or remove the inputs listed in errors.jsonl, then rerun the same command to resume)", errTooManyDataErrors, err)
	}
	return err
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func runPreprocessMerge(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("preprocess merge", env.Stderr)
	out := fs.String("out", "", "folder receiving manifest.json, errors.jsonl and any shards from other folders (default: the first DIR)")
	verify := fs.Bool("verify", true, "check every shard's sha256 against its part manifest")
	asJSON := fs.Bool("json", false, "print the merged manifest's totals as JSON on stdout")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sslpipe preprocess merge [--out DIR] DIR...\n\nCombines the part manifests (part-*-of-*.json) written by --part/--parts runs.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("preprocess merge: need at least one folder")
	}
	m, err := preprocess.Merge(ctx, preprocess.MergeOptions{Dirs: fs.Args(), Out: *out, Verify: *verify})
	if err != nil {
		return preprocessErr(err)
	}
	dst := *out
	if dst == "" {
		dst = fs.Arg(0)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"out": dst, "inputs": m.Inputs, "samples": m.Samples, "rejected": m.Rejected, "shards": m.ShardCount})
	}
	fmt.Fprintf(env.Stdout, "merged %d shards: %d samples, %d rejected inputs -> %s\n", m.ShardCount, m.Samples, m.Rejected, dst)
	return nil
}
