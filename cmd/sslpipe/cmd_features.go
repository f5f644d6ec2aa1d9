package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
)

func init() {
	register(&command{Name: "features", Summary: "Kaldi fbank/MFCC features (torchaudio-compatible) of WAV files to .npy", Run: runFeaturesCmd})
	registerBench(&benchTarget{Name: "features", Summary: "WAV decode + fbank/MFCC (+deltas) throughput (audio_seconds_per_s)", Run: runBenchFeaturesCmd})
}

// featuresOpts are the flags of `sslpipe features` (and the feature part of
// `sslpipe bench features`).
type featuresOpts struct {
	Kind       string
	Deltas     bool
	CMVN       bool
	CMVNVars   bool
	In, Out    string
	Workers    int
	MaxErrors  int
	SampleRate int
	NumMelBins int
	NumCeps    int
	UseEnergy  bool
	Dither     float64
	Seed       uint64
	Quiet      bool
}

// featuresResult summarises a features run.
type featuresResult struct {
	Files        int     `json:"files"`
	Failed       int     `json:"failed"`
	Frames       int64   `json:"frames"`
	Dim          int     `json:"dim"`
	AudioSeconds float64 `json:"audio_seconds"`
}

func addFeatureFlags(fs *flag.FlagSet, o *featuresOpts) {
	fs.StringVar(&o.Kind, "kind", "mfcc", "feature type: mfcc or fbank (torchaudio.compliance.kaldi defaults)")
	fs.BoolVar(&o.Deltas, "deltas", false, "append deltas and delta-deltas (window 2, replicate padding), as HuBERT does")
	fs.BoolVar(&o.CMVN, "cmvn", false, "per-utterance mean normalisation of every column")
	fs.BoolVar(&o.CMVNVars, "cmvn-vars", false, "with --cmvn, also scale every column to unit variance")
	fs.StringVar(&o.In, "in", "", "input WAV file or directory (searched recursively for *.wav)")
	intVar(fs, &o.Workers, "workers", runtime.GOMAXPROCS(0), 1, maxWorkers, "files processed in parallel")
	intVar(fs, &o.SampleRate, "sample-rate", 16000, audio.MinSampleRate, audio.MaxSampleRate, "feature sample rate; other rates are resampled (windowed sinc, >=90 dB stop band)")
	intVar(fs, &o.NumMelBins, "num-mel-bins", 23, 1, 1024, "mel bins")
	intVar(fs, &o.NumCeps, "num-ceps", 13, 1, 1024, "cepstra (mfcc)")
	fs.BoolVar(&o.UseEnergy, "use-energy", false, "add log energy (C0 for mfcc, first column for fbank)")
	floatVar(fs, &o.Dither, "dither", 0, nonNegative, "Gaussian dither stddev (Kaldi uses 1.0 on int16-scaled audio); seeded per file")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the per-file dither streams")
}

func (o *featuresOpts) options() (audio.Options, error) {
	kind, err := audio.ParseKind(o.Kind)
	if err != nil {
		return audio.Options{}, err
	}
	opt := audio.DefaultOptions(kind)
	opt.SampleRate = float64(o.SampleRate)
	opt.NumMelBins = o.NumMelBins
	opt.NumCeps = o.NumCeps
	opt.UseEnergy = o.UseEnergy
	opt.Dither = o.Dither
	if _, err := audio.NewExtractor(opt); err != nil {
		return opt, err
	}
	return opt, nil
}

func runFeaturesCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o featuresOpts
	fs := newFlagSet("features", env.Stderr)
	addFeatureFlags(fs, &o)
	fs.StringVar(&o.Out, "out", "", "output directory: one float32 .npy (frames x dims) per input, same relative name")
	maxErrorsVar(fs, &o.MaxErrors, "bad input files", "on stderr and in OUT/errors.jsonl")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress output")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sslpipe features --in WAV|DIR --out DIR [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nExit codes: 2 bad flags; 4 more bad input files than --max-errors (listed in OUT/errors.jsonl).\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.In == "" || o.Out == "" || fs.NArg() > 0 {
		return usagef("features: need --in and --out (and no other arguments)")
	}
	if _, err := o.options(); err != nil {
		return usagef("features: %v", err)
	}
	r, err := runFeatures(ctx, env.Stderr, o)
	if err != nil && r.Files == 0 {
		return err
	}
	if *jsonOut {
		if e := json.NewEncoder(env.Stdout).Encode(r); e != nil {
			return e
		}
	} else {
		fmt.Fprintf(env.Stdout, "features %s: files=%d failed=%d frames=%d dim=%d audio_seconds=%.2f out=%s\n",
			o.Kind, r.Files, r.Failed, r.Frames, r.Dim, r.AudioSeconds, o.Out)
	}
	return err
}

// inputFiles lists the WAV inputs of --in: the file itself, or every *.wav
// below the directory, sorted by relative path.
func inputFiles(in string) (pipeline.Source[pipeline.File], []string, error) {
	st, err := os.Stat(in)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		return pipeline.Slice([]pipeline.File{{Path: in, Class: -1}}), []string{filepath.Base(in)}, nil
	}
	src, err := pipeline.Folder(in, ".wav")
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, src.Len())
	for i := range keys {
		s, err := src.At(context.Background(), i)
		if err != nil {
			return nil, nil, err
		}
		keys[i] = s.Key
	}
	return src, keys, nil
}

// featureWorker holds one goroutine's extractor and buffers.
type featureWorker struct {
	ex      *audio.Extractor
	wave    []float32
	m, d    audio.Matrix
	resamp  map[int]*audio.Resampler
	options audio.Options
}

var errNoFrames = errors.New("shorter than one frame: no features")

// compute decodes path and returns its features (aliasing the worker's
// buffers) and its duration in seconds.
func (w *featureWorker) compute(path string, o *featuresOpts, rngSeed [3]uint64) (audio.Matrix, float64, error) {
	wave, info, err := audio.ReadWAV(path, w.wave)
	if err != nil {
		return audio.Matrix{}, 0, err
	}
	w.wave = wave
	if info.SampleRate != o.SampleRate {
		r := w.resamp[info.SampleRate]
		if r == nil {
			if r, err = audio.NewResampler(info.SampleRate, o.SampleRate); err != nil {
				return audio.Matrix{}, 0, err
			}
			w.resamp[info.SampleRate] = r
		}
		wave = r.Resample(wave)
	}
	var rng = pipeline.SampleRand(rngSeed[0], rngSeed[1], rngSeed[2], 0)
	if o.Dither == 0 {
		rng = nil
	}
	w.m, err = w.ex.Compute(w.m, wave, rng)
	if err != nil {
		return audio.Matrix{}, 0, err
	}
	m := w.m
	if o.Deltas {
		w.d = audio.Deltas(w.d, m, 2, 2)
		m = w.d
	}
	if o.CMVN {
		audio.CMVN(m, o.CMVNVars)
	}
	return m, info.Duration(), nil
}

func newWorkerPool(opt audio.Options) (*sync.Pool, error) {
	proto, err := audio.NewExtractor(opt)
	if err != nil {
		return nil, err
	}
	return &sync.Pool{New: func() any {
		return &featureWorker{ex: proto.Clone(), resamp: map[int]*audio.Resampler{}, options: opt}
	}}, nil
}

// runFeatures writes one .npy per input WAV under o.Out, mirroring the input
// tree, using pipeline.Map with o.Workers goroutines (one file per task).
// Bad files are skipped and reported (stderr and o.Out/errors.jsonl); more
// than o.MaxErrors of them (o.MaxErrors >= 0) stops the run with an error
// wrapping errTooManyDataErrors. An input shorter than one frame is written
// as a (0, dim) array.
func runFeatures(ctx context.Context, stderr io.Writer, o featuresOpts) (r featuresResult, err error) {
	opt, err := o.options()
	if err != nil {
		return r, err
	}
	src, _, err := inputFiles(o.In)
	if err != nil {
		return r, fmt.Errorf("features: %w", err)
	}
	single := false
	if st, _ := os.Stat(o.In); st != nil && !st.IsDir() {
		single = true
	}
	pool, err := newWorkerPool(opt)
	if err != nil {
		return r, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return r, fmt.Errorf("features: %w", err)
	}
	skips, err := newSkipLog("features", stderr, o.Out)
	if err != nil {
		return r, err
	}
	defer func() {
		r.Failed = skips.count()
		if e := skips.close(); e != nil && err == nil {
			err = e
		}
	}()
	type done struct {
		frames int64
		dim    int
		secs   float64
	}
	fn := func(ctx context.Context, s pipeline.Sample[pipeline.File]) (done, error) {
		w := pool.Get().(*featureWorker)
		defer pool.Put(w)
		m, secs, err := w.compute(s.Value.Path, &o, [3]uint64{o.Seed, 0, uint64(s.Index)})
		if err != nil {
			return done{}, err
		}
		rel := s.Key
		if single {
			rel = filepath.Base(s.Value.Path)
		}
		outPath := filepath.Join(o.Out, strings.TrimSuffix(rel, filepath.Ext(rel))+".npy")
		if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
			return done{}, err
		}
		if err := npy.WriteFile(outPath, npy.Float32Matrix(m.Data, m.Rows, m.Cols)); err != nil {
			return done{}, err
		}
		return done{int64(m.Rows), m.Cols, secs}, nil
	}
	stream := pipeline.Map(pipeline.From(src, pipeline.Order{Seed: o.Seed}), fn,
		pipeline.MapOptions{Name: "features", Workers: o.Workers, Unordered: true, Chunk: 1})
	var logErr error
	policy := pipeline.ErrorPolicy{Skip: true, OnError: func(e *pipeline.SampleError) {
		if err := skips.skip(e.Index, e.Key, e); err != nil && logErr == nil {
			logErr = err
		}
	}}
	it, err := pipeline.Start(ctx, stream, pipeline.RunOptions{Errors: policy})
	if err != nil {
		return r, err
	}
	defer it.Close()
	last := time.Now()
	for {
		s, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return r, err
		}
		if logErr != nil {
			return r, logErr
		}
		if tooManyErrors(skips.count(), o.MaxErrors) {
			return r, tooManyErr("features", skips.count(), o.MaxErrors, "in "+skips.path)
		}
		r.Files++
		r.Frames += s.Value.frames
		r.Dim = s.Value.dim
		r.AudioSeconds += s.Value.secs
		if !o.Quiet && time.Since(last) > 2*time.Second {
			fmt.Fprintf(stderr, "sslpipe: features: %d files, %.0f s of audio\n", r.Files, r.AudioSeconds)
			last = time.Now()
		}
	}
	if logErr != nil {
		return r, logErr
	}
	if tooManyErrors(skips.count(), o.MaxErrors) {
		return r, tooManyErr("features", skips.count(), o.MaxErrors, "in "+skips.path)
	}
	return r, nil
}

// benchFeaturesResult is printed by `sslpipe bench features`.
type benchFeaturesResult struct {
	Kind             string  `json:"kind"`
	Deltas           bool    `json:"deltas"`
	Workers          int     `json:"workers"`
	Files            int     `json:"files"`
	Passes           int     `json:"passes"`
	Seconds          float64 `json:"seconds"`
	AudioSeconds     float64 `json:"audio_seconds"`
	Frames           int64   `json:"frames"`
	AudioSecondsPerS float64 `json:"audio_seconds_per_s"`
	MicrosPerFrame   float64 `json:"us_per_frame_per_worker"`
	// CPUSeconds is the process's user+system CPU time over the timed
	// passes (0 where the platform does not report it); on a shared,
	// oversubscribed machine audio_seconds_per_cpu_s is the steadier figure.
	CPUSeconds          float64 `json:"cpu_seconds"`
	AudioSecondsPerCPUS float64 `json:"audio_seconds_per_cpu_s"`
}

func runBenchFeaturesCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o featuresOpts
	fs := newFlagSet("bench features", env.Stderr)
	addFeatureFlags(fs, &o)
	var seconds float64
	floatVar(fs, &seconds, "seconds", 5, benchSeconds, "measure for about this long (whole passes over the inputs)")
	jsonOut := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.In == "" || fs.NArg() > 0 {
		return usagef("bench features: need --in")
	}
	if _, err := o.options(); err != nil {
		return usagef("bench features: %v", err)
	}
	r, err := benchFeatures(ctx, o, seconds)
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(env.Stdout).Encode(r)
	}
	_, err = fmt.Fprintf(env.Stdout, "features %s deltas=%v: workers=%d files=%d passes=%d seconds=%.2f audio_seconds=%.1f frames=%d audio_seconds_per_s=%.0f us_per_frame_per_worker=%.2f cpu_seconds=%.2f audio_seconds_per_cpu_s=%.0f\n",
		r.Kind, r.Deltas, r.Workers, r.Files, r.Passes, r.Seconds, r.AudioSeconds, r.Frames, r.AudioSecondsPerS, r.MicrosPerFrame, r.CPUSeconds, r.AudioSecondsPerCPUS)
	return err
}

// benchFeatures decodes every input file from disk and computes its features
// (nothing is written), in whole passes over the inputs, each pass spread
// over o.Workers goroutines, until about seconds have elapsed. One untimed
// warm-up pass runs first.
func benchFeatures(ctx context.Context, o featuresOpts, seconds float64) (benchFeaturesResult, error) {
	opt, err := o.options()
	if err != nil {
		return benchFeaturesResult{}, err
	}
	src, _, err := inputFiles(o.In)
	if err != nil {
		return benchFeaturesResult{}, fmt.Errorf("bench features: %w", err)
	}
	var paths []string
	for i := 0; ; i++ {
		ra, ok := src.(pipeline.RandomAccess[pipeline.File])
		if !ok || i >= ra.Len() {
			break
		}
		s, err := ra.At(ctx, i)
		if err != nil {
			return benchFeaturesResult{}, err
		}
		paths = append(paths, s.Value.Path)
	}
	if len(paths) == 0 {
		return benchFeaturesResult{}, fmt.Errorf("bench features: no .wav files in %s", o.In)
	}
	pool, err := newWorkerPool(opt)
	if err != nil {
		return benchFeaturesResult{}, err
	}
	r := benchFeaturesResult{Kind: o.Kind, Deltas: o.Deltas, Workers: o.Workers, Files: len(paths)}
	pass := func() (float64, int64, error) {
		var next atomic.Int64
		var mu sync.Mutex
		var secs float64
		var frames int64
		var firstErr error
		var wg sync.WaitGroup
		for g := 0; g < o.Workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := pool.Get().(*featureWorker)
				defer pool.Put(w)
				var s float64
				var f int64
				for {
					i := int(next.Add(1)) - 1
					if i >= len(paths) || ctx.Err() != nil {
						break
					}
					m, d, err := w.compute(paths[i], &o, [3]uint64{o.Seed, 0, uint64(i)})
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					s += d
					f += int64(m.Rows)
				}
				mu.Lock()
				secs += s
				frames += f
				mu.Unlock()
			}()
		}
		wg.Wait()
		if firstErr == nil {
			firstErr = ctx.Err()
		}
		return secs, frames, firstErr
	}
	if _, _, err := pass(); err != nil {
		return r, err
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	for time.Since(start).Seconds() < seconds {
		s, f, err := pass()
		if err != nil {
			return r, err
		}
		r.AudioSeconds += s
		r.Frames += f
		r.Passes++
	}
	r.Seconds = time.Since(start).Seconds()
	r.CPUSeconds = cpuSeconds() - cpu0
	r.AudioSecondsPerS = r.AudioSeconds / r.Seconds
	if r.CPUSeconds > 0 {
		r.AudioSecondsPerCPUS = r.AudioSeconds / r.CPUSeconds
	}
	if r.Frames > 0 {
		r.MicrosPerFrame = r.Seconds * 1e6 * float64(o.Workers) / float64(r.Frames)
	}
	return r, nil
}
