//go:build cgo

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
)

func init() {
	register(&command{Name: "embed", Summary: "write a run's embeddings of any dataset to .npy with the sample keys", Run: runEmbedCmd})
}

// embedOptions are the flags of `sslpipe embed`.
type embedOptions struct {
	Run, Data, Out, Keys string
	Network, Device      string
	Tokenizer            string
	Layer                int
	Batch, Workers       int
	MaxErrors            int
	Quiet                bool
}

func runEmbedCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o embedOptions
	fs := newFlagSet("embed", env.Stderr)
	fs.StringVar(&o.Run, "run", "", "run folder (required)")
	fs.StringVar(&o.Data, "data", "", "data to embed: a preprocess output folder, a shard glob, a raw folder or fashion-mnist:SPLIT (required)")
	fs.StringVar(&o.Out, "out", "", "output .npy file: float32 N x dim (required)")
	fs.StringVar(&o.Keys, "keys", "", "keys file, one sample key per line in row order (default: OUT with .keys.txt instead of .npy)")
	fs.StringVar(&o.Network, "which", "", "teacher or student (default: the method's)")
	fs.StringVar(&o.Device, "device", "auto", "auto, cpu, cuda or cuda:N")
	fs.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json for raw text folders")
	intVar(fs, &o.Layer, "layer", 0, -1, 1000, "layer to embed where the method offers several (0: its default)")
	intVar(fs, &o.Batch, "batch", 64, 1, 1<<20, "examples per forward pass")
	intVar(fs, &o.Workers, "workers", 0, 0, 4096, "decoding goroutines (0: GOMAXPROCS)")
	maxErrorsVar(fs, &o.MaxErrors, "bad samples", "on stderr")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("embed: unexpected arguments %q", fs.Args())
	}
	if o.Run == "" || o.Data == "" || o.Out == "" {
		return usagef("embed: --run, --data and --out are required")
	}
	if o.Network != "" && o.Network != "teacher" && o.Network != "student" {
		return usagef("embed: --which must be teacher or student, not %q", o.Network)
	}
	if o.Keys == "" {
		o.Keys = strings.TrimSuffix(o.Out, ".npy") + ".keys.txt"
	}
	return runEmbed(ctx, env, &o)
}

func runEmbed(ctx context.Context, env *cmdEnv, o *embedOptions) error {
	m, run, err := openRun(o.Run)
	if err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	ds, err := data.Open(o.Data, data.Options{Tokenizer: o.Tokenizer, Workers: o.Workers, SeqLen: 1 << 20})
	if err != nil {
		if errors.Is(err, data.ErrSpec) {
			return usagef("embed: %v", err)
		}
		return fmt.Errorf("embed: %w", err)
	}
	defer ds.Close()
	if run.Config.Data.Modality != "" && ds.Modality != run.Config.Data.Modality {
		return usagef("embed: %s holds %s data but the run trained on %s", o.Data, ds.Modality, run.Config.Data.Modality)
	}
	enc, err := m.Encoder(run, train.EncoderOptions{Network: o.Network, Device: o.Device, Batch: o.Batch, Layer: o.Layer})
	if err != nil {
		return trainUsage(fmt.Errorf("embed: %w", err))
	}
	defer enc.Close()
	if !o.Quiet {
		fmt.Fprintf(env.Stderr, "embed: %d %s samples of %s with %s (%s, %d-d)\n", ds.Len(), ds.Modality, o.Data, o.Run, m.Name, enc.Dim())
	}
	policy := pipeline.ErrorPolicy{Skip: o.MaxErrors != 0, OnError: func(se *pipeline.SampleError) {
		fmt.Fprintf(env.Stderr, "embed: skipped bad sample: %v\n", se)
	}}
	if o.MaxErrors > 0 {
		policy.MaxErrors = o.MaxErrors
	}
	var keys []string
	var vecs []float32
	var batch []data.Example
	dim := enc.Dim()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		vs, err := enc.Embed(batch)
		if err != nil {
			return fmt.Errorf("embed: %w", err)
		}
		for i, v := range vs {
			if len(v) != dim {
				return fmt.Errorf("embed: encoder returned %d values for a %d-d embedding", len(v), dim)
			}
			vecs = append(vecs, v...)
			keys = append(keys, batch[i].Key)
		}
		batch = batch[:0]
		return nil
	}
	for s, err := range pipeline.All(ctx, ds.Stream(pipeline.Order{}), pipeline.RunOptions{Errors: policy}) {
		if err != nil {
			if errors.Is(err, pipeline.ErrTooManyErrors) || errors.As(err, new(*pipeline.SampleError)) {
				return fmt.Errorf("embed: %w: %w (--max-errors %d)", errTooManyDataErrors, err, o.MaxErrors)
			}
			return fmt.Errorf("embed: %w", err)
		}
		batch = append(batch, s.Value)
		if len(batch) == o.Batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, v := range vecs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("embed: the encoder produced non-finite values")
		}
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	if err := npy.WriteFile(o.Out, npy.Float32Matrix(vecs, len(keys), dim)); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	if err := writeKeys(o.Keys, keys); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %d x %d float32\n%s: %d keys\n", o.Out, len(keys), dim, o.Keys, len(keys))
	return nil
}

func writeKeys(path string, names []string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, n := range names {
		if strings.ContainsAny(n, "\n\r") {
			f.Close()
			os.Remove(tmp)
			return fmt.Errorf("embed: key %q contains a newline", n)
		}
		w.WriteString(n)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("embed: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("embed: %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
