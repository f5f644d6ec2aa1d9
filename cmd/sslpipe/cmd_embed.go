//go:build cgo

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
)

func init() {
	register(&command{Name: "embed", Summary: "write a run's backbone embeddings of images to .npy with a keys file", Run: runEmbedCmd})
}

// embedOptions are the flags of `sslpipe embed`.
type embedOptions struct {
	Run, Data, Out, Keys string
	Network, Device      string
	Batch, Workers       int
	SkipBad, Quiet       bool
}

func runEmbedCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o embedOptions
	fs := newFlagSet("embed", env.Stderr)
	fs.StringVar(&o.Run, "run", "", "run folder (required)")
	fs.StringVar(&o.Data, "data", "", "images to embed: a folder (searched recursively for png/jpg/jpeg), a manifest (CSV/JSONL with a path column) or fashion-mnist:train|test (required)")
	fs.StringVar(&o.Out, "out", "", "output .npy file: float32 N x dim (required)")
	fs.StringVar(&o.Keys, "keys", "", "keys file, one input name per line in row order (default: OUT with .keys.txt instead of .npy)")
	fs.StringVar(&o.Network, "which", "teacher", "teacher (EMA target) or student (online network)")
	fs.StringVar(&o.Device, "device", "cpu", "cpu, cuda, cuda:N or auto")
	fs.IntVar(&o.Batch, "batch", 256, "images per forward pass")
	fs.IntVar(&o.Workers, "workers", 0, "image decoding goroutines (0: GOMAXPROCS)")
	fs.BoolVar(&o.SkipBad, "skip-bad", false, "skip files that cannot be decoded (listed on stderr) instead of failing")
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
	if o.Network != "teacher" && o.Network != "student" {
		return usagef("embed: --which must be teacher or student, not %q", o.Network)
	}
	if o.Keys == "" {
		o.Keys = strings.TrimSuffix(o.Out, ".npy") + ".keys.txt"
	}
	return runEmbed(ctx, env, &o)
}

// embedInputs lists the inputs named by --data as an unlabelled set whose
// Keys are what the keys file reports: file paths as given (relative to
// the folder or as written in the manifest), or "fashion-mnist:test/00042".
func embedInputs(spec string) (set *datasets.Set, names []string, err error) {
	if split, dir, ok := datasets.IsFashionMNISTSpec(spec); ok {
		s, err := datasets.FashionMNIST(dir, split)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Keys, nil
	}
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("embed: %w", err)
	}
	var src *pipeline.FileSource
	if fi.IsDir() {
		src, err = pipeline.Folder(spec, imageExts...)
	} else {
		src, err = pipeline.Manifest(spec, pipeline.ManifestOptions{})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("embed: %w", err)
	}
	set = &datasets.Set{Name: spec, Classes: []string{""}}
	for i := range src.Len() {
		smp, err := src.At(context.Background(), i)
		if err != nil {
			return nil, nil, fmt.Errorf("embed: %w", err)
		}
		set.Keys = append(set.Keys, smp.Value.Path)
		set.Labels = append(set.Labels, 0)
		names = append(names, smp.Key)
	}
	if set.Len() == 0 {
		return nil, nil, fmt.Errorf("embed: %s: no images found", spec)
	}
	return set, names, nil
}

func runEmbed(ctx context.Context, env *cmdEnv, o *embedOptions) error {
	set, names, err := embedInputs(o.Data)
	if err != nil {
		return err
	}
	enc, err := train.OpenEncoder(o.Run, train.EncoderOptions{Network: o.Network, Device: o.Device, Batch: o.Batch})
	if err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	defer enc.Close()
	in := enc.Input()
	if set.Images == nil {
		set, names, err = decodeForEmbed(env, o, set, names, in)
		if err != nil {
			return err
		}
	}
	if !o.Quiet {
		fmt.Fprintf(env.Stderr, "embed: %d images with the %s network of %s (%d-d)\n", set.Len(), o.Network, o.Run, enc.Dim())
	}
	feats, err := embedSet(ctx, enc, set, o.Workers)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	if err := npy.WriteFile(o.Out, npy.Float32Matrix(feats.Data, feats.Rows, feats.Cols)); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	if err := writeKeys(o.Keys, names); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: %d x %d float32\n%s: %d keys\n", o.Out, feats.Rows, feats.Cols, o.Keys, len(names))
	return nil
}

// decodeForEmbed decodes file sets at the encoder's input, dropping (with
// --skip-bad) or failing on undecodable files.
func decodeForEmbed(env *cmdEnv, o *embedOptions, set *datasets.Set, names []string, in train.InputSpec) (*datasets.Set, []string, error) {
	g, err := datasets.LoadImages(set, in.Size, in.Channels, o.Workers)
	if err == nil {
		set.Images = g
		return set, names, nil
	}
	if !o.SkipBad {
		return nil, nil, fmt.Errorf("embed: %w (use --skip-bad to skip such files)", err)
	}
	// Find the good files one by one, then decode them together.
	var keep []int
	for i, k := range set.Keys {
		if _, err := augment.DecodeFile(k, augment.DecodeOptions{}); err != nil {
			fmt.Fprintf(env.Stderr, "embed: skipping %v\n", err)
			continue
		}
		keep = append(keep, i)
	}
	if len(keep) == 0 {
		return nil, nil, fmt.Errorf("embed: %s: no decodable images", set.Name)
	}
	sub := set.Subset(keep)
	kept := make([]string, len(keep))
	for j, i := range keep {
		kept[j] = names[i]
	}
	if sub.Images, err = datasets.LoadImages(sub, in.Size, in.Channels, o.Workers); err != nil {
		return nil, nil, fmt.Errorf("embed: %w", err)
	}
	return sub, kept, nil
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
