package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/eval/summary"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/plot"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train/data"
)

// This file holds everything of `sslpipe eval` that needs no libtorch:
// flags, labelled data, the raw-pixel baseline, the probes, the report and
// the summary. cmd_eval.go (cgo builds) registers the command and adds the
// encoder features; without cgo, torch_launcher.go hands `eval` to
// sslpipe-torch, and this code is still built and tested through
// runEvalCmd.

// evalOptions are the flags of `sslpipe eval`.
type evalOptions struct {
	Run          string
	Train, Test  string
	Probe        string
	K            []int
	T            []float64
	L2           []float64
	Network      string
	Device       string
	Batch        int
	MaxTrain     int
	MaxTest      int
	RawSize      int
	NoRandom     bool
	NoBaseline   bool
	PerClass     bool
	JSON         bool
	Quiet        bool
	Summary      string
	Modality     string
	Tokenizer    string
	Layer        int
	Method       string
	TrainSeconds float64
	TrainDevice  string
	Seed         uint64
	Workers      int
	MaxIter      int
	Standardize  bool
	Folds        int // k-fold probe of the pooled sets (0: --train/--test)
	Repeats      int // k-fold partitions, fold seeds Seed, Seed+1, ...
	CVFolds      int // linear probe's L2 cross-validation folds (0: auto)
	RandomSeeds  int // random-init networks, seeds Seed, Seed+1, ...

	// Precomputed features (.npy pairs "TRAIN.npy,TEST.npy"), rows in the
	// order of the full labelled sets: any modality's encoder or baseline.
	TrainedNPY, RandomNPY, BaselineNPY string
	BaselineKind                       string
}

// featureSet is one representation of the train and test examples.
type featureSet struct {
	Name        string // trained, random_init, baseline
	Label       string // shown in the table: "trained (teacher)", "raw pixels"
	Train, Test *eval.Matrix
	Seconds     float64 // time to compute the features
	// InitSeed is the seed of a random-init network when --random-seeds
	// asks for several (nil otherwise).
	InitSeed *uint64
}

// runInfo describes the run whose encoder was probed.
type runInfo struct {
	Method   string
	Device   string // the run's configured device
	Channels int    // encoder input
	Size     int
}

// encoderFeatures computes the trained and random-init features of a run;
// set by cmd_eval.go in cgo builds, nil otherwise.
var encoderFeatures func(ctx context.Context, env *cmdEnv, o *evalOptions, train, test *labelledSet) ([]featureSet, runInfo, error)

func parseIntList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseFloatList(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func evalFlags(fs *flag.FlagSet, o *evalOptions, ks, ts, l2 *string) {
	fs.StringVar(&o.Run, "run", "", "run folder whose encoder is probed (omit for the raw-pixel baseline alone)")
	fs.StringVar(&o.Train, "train", "", "labelled probe-train set: a preprocess output folder with .cls members, a labelled raw folder (class sub-folders; fortune files) or fashion-mnist:train")
	fs.StringVar(&o.Test, "test", "", "labelled probe-test set (same forms as --train)")
	fs.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json for raw text folders")
	intVar(fs, &o.Layer, "layer", 0, -1, 1000, "layer of the encoder to probe, where the method offers several (0: its default; -1: the input embeddings where the method has them)")
	fs.StringVar(&o.Probe, "probe", "knn", "knn or linear")
	fs.StringVar(ks, "k", "200", "kNN neighbours; a comma list evaluates several settings (pairs with --t)")
	fs.StringVar(ts, "t", "0.1", "kNN temperature(s); one value or one per --k")
	fs.StringVar(l2, "l2", "", "linear probe: comma list of L2 strengths to sweep (default 0.1,0.01,0.001,1e-4)")
	fs.StringVar(&o.Network, "which", "", "network of the run: teacher (EMA target) or student (online); default: the method's")
	fs.StringVar(&o.Device, "device", "auto", "device for the encoder: auto, cpu, cuda or cuda:N")
	intVar(fs, &o.Batch, "batch", 256, 1, 1<<20, "examples per encoder forward pass")
	intVar(fs, &o.MaxTrain, "max-train", 0, 0, math.MaxInt32, "use an evenly spaced subset of this many probe-train examples (0: all)")
	intVar(fs, &o.MaxTest, "max-test", 0, 0, math.MaxInt32, "use an evenly spaced subset of this many probe-test examples (0: all)")
	intVar(fs, &o.RawSize, "raw-size", 0, 0, 4096, "side of the raw-pixel baseline (0: the encoder's input size, or the images' own)")
	fs.BoolVar(&o.NoRandom, "no-random", false, "skip the random-init encoder")
	fs.BoolVar(&o.NoBaseline, "no-baseline", false, "skip the raw-pixel baseline")
	fs.BoolVar(&o.PerClass, "per-class", false, "also print per-class accuracy")
	fs.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress on stderr")
	fs.StringVar(&o.Summary, "summary", "", "add or replace this probe's row in a summary.json (e.g. runs/demo/summary.json)")
	fs.StringVar(&o.Modality, "modality", "", "summary: modality of the row (default: the data's)")
	fs.StringVar(&o.Method, "method", "", "summary: method of the row (default: the run's method)")
	floatVar(fs, &o.TrainSeconds, "train-seconds", -1, span{Lo: -1, Hi: math.MaxFloat64}, "summary: training time (default -1: the last elapsed_s of RUN_DIR/metrics.jsonl)")
	fs.StringVar(&o.TrainDevice, "train-device", "", "summary: device the run trained on (default: the run's configured device)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the linear probe's validation split and of --folds")
	intVar(fs, &o.Workers, "workers", 0, 0, 4096, "probe goroutines (0: GOMAXPROCS)")
	intVar(fs, &o.MaxIter, "max-iter", 100, 1, 1000000, "linear probe: L-BFGS iterations per fit")
	fs.BoolVar(&o.Standardize, "standardize", false, "standardize every feature set (trained, random init, baseline) per dimension with the mean and std of its probe-train rows before the probe (kNN then compares standardized features; the linear probe standardizes anyway); the summary row's probe reads \"knn (standardized)\"")
	intVar(fs, &o.Folds, "folds", 0, 0, 1000, "k-fold probe: pool the examples of --train and --test (--test may be omitted) and test each once, in this many folds stratified by class and keyed by --seed, each probed on the other folds; reports the mean top-1 over the folds with its standard deviation and standard error (0: train on --train, test on --test)")
	intVar(fs, &o.Repeats, "repeats", 1, 1, 1000, "with --folds: repeat the k-fold probe over this many partitions, keyed by --seed, --seed+1, ...; the top-1 is the mean over every fold of every partition, sd and se are taken across the partitions' means, and fold_top1 lists the folds partition by partition")
	intVar(fs, &o.CVFolds, "cv-folds", 0, 0, 1000, "linear probe: choose the L2 by this many folds of cross-validation of the training rows (0: as many as --folds, or one 10% validation split without --folds; 1: one 10% split)")
	intVar(fs, &o.RandomSeeds, "random-seeds", 1, 1, 1000, "random-init networks to probe: the run's architecture initialized with seeds S, S+1, ... (S: the run's seed), one row each and a row with their mean and spread")
	fs.StringVar(&o.TrainedNPY, "trained-features", "", "precomputed trained-encoder features TRAIN.npy,TEST.npy (float32 N x D, rows in the order of --train/--test), instead of --run")
	fs.StringVar(&o.RandomNPY, "random-features", "", "precomputed random-init features TRAIN.npy,TEST.npy")
	fs.StringVar(&o.BaselineNPY, "baseline-features", "", "precomputed baseline features TRAIN.npy,TEST.npy (e.g. mean MFCC, bag of words), instead of raw pixels")
	fs.StringVar(&o.BaselineKind, "baseline-kind", "", "name of the baseline in the table and summary (default: raw pixels, or \"baseline\" with --baseline-features)")
}

func runEvalCmd(ctx context.Context, env *cmdEnv, args []string) error {
	var o evalOptions
	var ks, ts, l2 string
	fs := newFlagSet("eval", env.Stderr)
	evalFlags(fs, &o, &ks, &ts, &l2)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("eval: unexpected arguments %q", fs.Args())
	}
	var err error
	if o.K, err = parseIntList(ks); err != nil {
		return usagef("eval: --k: %v", err)
	}
	if o.T, err = parseFloatList(ts); err != nil {
		return usagef("eval: --t: %v", err)
	}
	if l2 != "" {
		if o.L2, err = parseFloatList(l2); err != nil {
			return usagef("eval: --l2: %v", err)
		}
	}
	return runEval(ctx, env, &o)
}

// progress prints a progress line to stderr unless quiet.
func (o *evalOptions) progress(env *cmdEnv, format string, a ...any) {
	if !o.Quiet {
		fmt.Fprintf(env.Stderr, "eval: "+format+"\n", a...)
	}
}

func (o *evalOptions) settings() ([]eval.KNNSetting, error) {
	if len(o.T) == 1 && len(o.K) > 1 {
		for len(o.T) < len(o.K) {
			o.T = append(o.T, o.T[0])
		}
	}
	if len(o.K) != len(o.T) {
		return nil, usagef("eval: %d values of --k but %d of --t", len(o.K), len(o.T))
	}
	var s []eval.KNNSetting
	for i, k := range o.K {
		if k <= 0 || !(o.T[i] > 0) {
			return nil, usagef("eval: --k and --t must be positive (got k=%d t=%v)", k, o.T[i])
		}
		s = append(s, eval.KNNSetting{K: k, T: o.T[i]})
	}
	return s, nil
}

// labelledSet is a probe set: examples with their classes.
type labelledSet struct {
	Name      string
	Modality  string
	Classes   []string
	Labels    []int
	Examples  []data.Example
	Tokenizer *text.Tokenizer // text: the dataset's, for the word baseline
}

func (s *labelledSet) Len() int { return len(s.Labels) }

// evenIndices returns the indices of n examples at even strides of total
// (nil: all), which keeps the class balance of sorted and shuffled sets
// alike.
func evenIndices(total, n int) []int {
	if n <= 0 || n >= total {
		return nil
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = int(int64(i) * int64(total) / int64(n))
	}
	return idx
}

// loadLabelled opens a labelled data spec (preprocess output with .cls
// members, a labelled folder, fashion-mnist:SPLIT) and decodes max of its
// examples; idx lists the kept rows of the full set (nil: all).
func loadLabelled(ctx context.Context, spec string, o data.Options, maxN int, decode bool) (s *labelledSet, idx []int, full int, err error) {
	ds, err := data.Open(spec, o)
	if err != nil {
		return nil, nil, 0, err
	}
	defer ds.Close()
	if !ds.Labelled {
		return nil, nil, 0, fmt.Errorf("%s has no class labels (.cls members, class folders or a labelled built-in set)", spec)
	}
	full = ds.Len()
	idx = evenIndices(full, maxN)
	sel := idx
	if sel == nil {
		sel = make([]int, full)
		for i := range sel {
			sel[i] = i
		}
	}
	s = &labelledSet{Name: spec, Modality: ds.Modality, Classes: ds.Classes, Tokenizer: ds.Tokenizer}
	if !decode { // precomputed features: the labels are enough
		for _, i := range sel {
			c, err := ds.Label(ctx, i)
			if err != nil {
				return nil, nil, 0, err
			}
			s.Labels = append(s.Labels, c)
		}
	} else {
		for smp, err := range pipeline.All(ctx, ds.Subset(sel), pipeline.RunOptions{}) {
			if err != nil {
				return nil, nil, 0, err
			}
			s.Examples = append(s.Examples, smp.Value)
			s.Labels = append(s.Labels, smp.Value.Class)
		}
	}
	for i, l := range s.Labels {
		if l < 0 {
			return nil, nil, 0, fmt.Errorf("%s: sample %d has no class label", spec, sel[i])
		}
	}
	maxLabel := -1
	for _, l := range s.Labels {
		maxLabel = max(maxLabel, l)
	}
	for len(s.Classes) <= maxLabel { // integer labels without names
		s.Classes = append(s.Classes, strconv.Itoa(len(s.Classes)))
	}
	return s, idx, full, nil
}

// alignClasses maps test's classes onto train's by name (test's labels
// are rewritten to train's indices). A test class absent from train is an
// error (a probe cannot predict it); train classes absent from test are
// returned for a warning.
func alignClasses(train, test *labelledSet) (onlyTrain []string, err error) {
	index := map[string]int{}
	for i, n := range train.Classes {
		index[n] = i
	}
	remap := make([]int, len(test.Classes))
	var onlyTest []string
	for i, n := range test.Classes {
		j, ok := index[n]
		if !ok {
			j = -1
		}
		remap[i] = j
	}
	seenTest := map[int]bool{}
	for i, l := range test.Labels {
		if remap[l] < 0 {
			if !seenTest[-1-l] {
				onlyTest = append(onlyTest, test.Classes[l])
				seenTest[-1-l] = true
			}
			continue
		}
		test.Labels[i] = remap[l]
		seenTest[remap[l]] = true
	}
	if len(onlyTest) > 0 {
		return nil, fmt.Errorf("probe-test classes %v do not occur in probe-train; a probe cannot predict them", onlyTest)
	}
	test.Classes = train.Classes
	seenTrain := map[int]bool{}
	for _, l := range train.Labels {
		seenTrain[l] = true
	}
	for i, n := range train.Classes {
		if seenTrain[i] && !seenTest[i] {
			onlyTrain = append(onlyTrain, n)
		}
	}
	return onlyTrain, nil
}

// npyFeatures reads a "TRAIN.npy,TEST.npy" pair whose rows follow the full
// labelled sets (nTrain and nTest examples) and keeps the rows idxTrain /
// idxTest (nil: all).
func npyFeatures(flagName, pair string, nTrain, nTest int, idxTrain, idxTest []int) (*eval.Matrix, *eval.Matrix, error) {
	parts := strings.Split(pair, ",")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return nil, nil, usagef("eval: --%s wants TRAIN.npy,TEST.npy, got %q", flagName, pair)
	}
	read := func(path string) (*eval.Matrix, error) {
		a, err := npy.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("eval: --%s: %w", flagName, err)
		}
		if a.DType != npy.Float32 || len(a.Shape) != 2 || a.Shape[1] == 0 {
			return nil, fmt.Errorf("eval: --%s: %s: want a 2-D float32 array, got %v %v", flagName, path, a.DType, a.Shape)
		}
		return &eval.Matrix{Rows: a.Shape[0], Cols: a.Shape[1], Data: a.F32}, nil
	}
	tr, err := read(parts[0])
	if err != nil {
		return nil, nil, err
	}
	te, err := read(parts[1])
	if err != nil {
		return nil, nil, err
	}
	if tr.Cols != te.Cols {
		return nil, nil, fmt.Errorf("eval: --%s: train features have %d columns, test %d", flagName, tr.Cols, te.Cols)
	}
	pick := func(m *eval.Matrix, full int, idx []int, path string) (*eval.Matrix, error) {
		if m.Rows != full {
			return nil, fmt.Errorf("eval: --%s: %s has %d rows but the labelled set has %d examples", flagName, path, m.Rows, full)
		}
		if idx == nil {
			return m, nil
		}
		return m.SelectRows(idx), nil
	}
	if tr, err = pick(tr, nTrain, idxTrain, parts[0]); err != nil {
		return nil, nil, err
	}
	if te, err = pick(te, nTest, idxTest, parts[1]); err != nil {
		return nil, nil, err
	}
	return tr, te, nil
}

// probeResult is one line of the report.
type probeResult struct {
	Features    string    `json:"features"` // trained, random_init, baseline
	Label       string    `json:"label"`
	Dim         int       `json:"dim"`
	Setting     string    `json:"setting"` // "k=200 T=0.1" or "linear"
	Top1        float64   `json:"top1"`
	PerClass    []float64 `json:"per_class"`
	L2          float64   `json:"l2,omitempty"`
	ValAccuracy float64   `json:"val_accuracy,omitempty"`
	Seconds     float64   `json:"probe_seconds"`
	// With --folds: Top1 is the mean of FoldTop1, SD their standard
	// deviation and SE its standard error; PerClass pools every fold's
	// predictions; FoldL2 lists the L2 each fold's linear probe chose.
	// With --repeats above 1, FoldTop1 and FoldL2 hold every partition's
	// folds in turn, RepeatTop1 each partition's mean, and SD and SE are
	// taken across RepeatTop1.
	FoldTop1   []float64 `json:"fold_top1,omitempty"`
	FoldL2     []float64 `json:"fold_l2,omitempty"`
	RepeatTop1 []float64 `json:"repeat_top1,omitempty"`
	// The random-init network's seed (--random-seeds above 1); on the
	// "random_init_mean" row, every seed (Top1: the mean of their Top1,
	// SD and SE across the seeds).
	InitSeed *uint64  `json:"init_seed,omitempty"`
	Seeds    []uint64 `json:"init_seeds,omitempty"`
	SD       float64  `json:"sd,omitempty"`
	SE       float64  `json:"se,omitempty"`
}

type evalReport struct {
	Probe string `json:"probe"`
	// Standardized: every feature set was standardized with its
	// probe-train statistics (--standardize).
	Standardized bool `json:"standardized,omitempty"`
	// Folds of the k-fold probe (--folds; 0: Train and Test), keyed by
	// FoldSeed; Train is then the pooled set.
	Folds    int           `json:"folds,omitempty"`
	FoldSeed uint64        `json:"fold_seed,omitempty"`
	Repeats  int           `json:"repeats,omitempty"` // partitions, fold seeds FoldSeed, FoldSeed+1, ...
	Run      string        `json:"run,omitempty"`
	Network  string        `json:"network,omitempty"`
	Train    setInfo       `json:"train"`
	Test     setInfo       `json:"test"`
	Classes  []string      `json:"classes"`
	Results  []probeResult `json:"results"`
}

type setInfo struct {
	Spec string `json:"spec"`
	N    int    `json:"n"`
}

func runEval(ctx context.Context, env *cmdEnv, o *evalOptions) error {
	if o.Train == "" || (o.Test == "" && o.Folds == 0) {
		return usagef("eval: --train and --test are required (--test may be omitted with --folds)")
	}
	if o.Folds == 1 {
		return usagef("eval: --folds must be 0 (no folds) or at least 2")
	}
	if o.Repeats > 1 && o.Folds == 0 {
		return usagef("eval: --repeats %d needs --folds", o.Repeats)
	}
	if o.Folds > 0 && o.Test == "" && (o.TrainedNPY != "" || o.RandomNPY != "" || o.BaselineNPY != "") {
		return usagef("eval: --folds with precomputed features needs --test (the features come as TRAIN.npy,TEST.npy pairs)")
	}
	if o.RandomSeeds > 1 && (o.NoRandom || o.Run == "") {
		return usagef("eval: --random-seeds needs --run and the random-init rows (not --no-random)")
	}
	if o.Probe != "knn" && o.Probe != "linear" {
		return usagef("eval: --probe must be knn or linear, not %q", o.Probe)
	}
	if o.Network != "" && o.Network != "teacher" && o.Network != "student" {
		return usagef("eval: --which must be teacher or student, not %q", o.Network)
	}
	settings, err := o.settings()
	if err != nil {
		return err
	}
	if o.Run == "" && o.TrainedNPY == "" && o.Summary != "" {
		return usagef("eval: --summary needs --run or --trained-features (the row reports a trained encoder)")
	}
	if o.Run != "" && o.TrainedNPY != "" {
		return usagef("eval: --run and --trained-features are alternatives")
	}
	if o.Summary != "" && o.Run == "" && o.Method == "" {
		return usagef("eval: --summary needs --method when the features come from files")
	}
	if o.Run != "" && encoderFeatures == nil {
		return fmt.Errorf("eval: --run needs libtorch, but this sslpipe was built without cgo (CGO_ENABLED=0): %w", errNoLibtorch)
	}
	for _, f := range []struct{ flag, pair string }{{"trained-features", o.TrainedNPY}, {"random-features", o.RandomNPY}, {"baseline-features", o.BaselineNPY}} {
		if parts := strings.Split(f.pair, ","); f.pair != "" && (len(parts) != 2 || parts[0] == "" || parts[1] == "") {
			return usagef("eval: --%s wants TRAIN.npy,TEST.npy, got %q", f.flag, f.pair)
		}
	}
	// Raw text examples keep their whole text (the encoder pools windows).
	dopt := data.Options{Tokenizer: o.Tokenizer, Workers: o.Workers, SeqLen: 1 << 20}
	decode := o.Run != "" || (!o.NoBaseline && o.BaselineNPY == "")
	train, idxTrain, nTrain, err := loadLabelled(ctx, o.Train, dopt, o.MaxTrain, decode)
	if err != nil {
		return evalDataErr("probe-train", err)
	}
	test := &labelledSet{Modality: train.Modality, Classes: train.Classes}
	var idxTest []int
	var nTest int
	if o.Test != "" {
		if test, idxTest, nTest, err = loadLabelled(ctx, o.Test, dopt, o.MaxTest, decode); err != nil {
			return evalDataErr("probe-test", err)
		}
		if train.Modality != test.Modality {
			return usagef("eval: probe-train is %s data, probe-test %s", train.Modality, test.Modality)
		}
		onlyTrain, err := alignClasses(train, test)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		if len(onlyTrain) > 0 && o.Folds == 0 {
			fmt.Fprintf(env.Stderr, "eval: warning: probe-train classes %v do not occur in probe-test\n", onlyTrain)
		}
	}
	trainSpec := o.Train
	if o.Folds > 0 {
		// One labelled set: --train's rows, then --test's.
		nPooled := train.Len() + test.Len()
		train.Examples = append(train.Examples, test.Examples...)
		train.Labels = append(train.Labels, test.Labels...)
		test = &labelledSet{Name: o.Test, Modality: train.Modality, Classes: train.Classes}
		if o.Test != "" {
			trainSpec = o.Train + " + " + o.Test
		}
		if o.Folds > nPooled {
			return usagef("eval: --folds %d for %d examples", o.Folds, nPooled)
		}
		o.progress(env, "probe set %s: %d examples, %d classes, %d folds", trainSpec, train.Len(), len(train.Classes), o.Folds)
	} else {
		o.progress(env, "probe-train %s: %d examples, probe-test %s: %d examples, %d classes", o.Train, train.Len(), o.Test, test.Len(), len(train.Classes))
	}

	var sets []featureSet
	var info runInfo
	if o.Run != "" {
		if sets, info, err = encoderFeatures(ctx, env, o, train, test); err != nil {
			return err
		}
	}
	for _, f := range []struct{ flag, pair, name, label string }{
		{"trained-features", o.TrainedNPY, "trained", "trained"},
		{"random-features", o.RandomNPY, "random_init", "random init"},
		{"baseline-features", o.BaselineNPY, "baseline", o.baselineKind()},
	} {
		if f.pair == "" {
			continue
		}
		tr, te, err := npyFeatures(f.flag, f.pair, nTrain, nTest, idxTrain, idxTest)
		if err != nil {
			return err
		}
		if o.Folds > 0 {
			tr, te = concatRows(tr, te), eval.NewMatrix(0, tr.Cols)
		}
		sets = append(sets, featureSet{Name: f.name, Label: f.label, Train: tr, Test: te})
	}
	if !o.NoBaseline && o.BaselineNPY == "" {
		t0 := time.Now()
		fs, err := baselineFeatures(o, info, train, test)
		if err != nil {
			return err
		}
		fs.Seconds = time.Since(t0).Seconds()
		sets = append(sets, fs)
	}
	if len(sets) == 0 {
		return usagef("eval: nothing to evaluate (no --run or --*-features, and --no-baseline)")
	}
	if o.Modality == "" {
		o.Modality = train.Modality
	}
	if o.Standardize && o.Folds == 0 { // with folds: per fold, in probeFolds
		for i := range sets {
			tr, te, err := eval.Standardize(sets[i].Train, sets[i].Test)
			if err != nil {
				return fmt.Errorf("eval: %s: %w", sets[i].Label, err)
			}
			sets[i].Train, sets[i].Test = tr, te[0]
		}
	}
	rep := &evalReport{Probe: o.Probe, Standardized: o.Standardize, Run: o.Run, Train: setInfo{trainSpec, train.Len()}, Test: setInfo{o.Test, test.Len()}, Classes: train.Classes}
	if o.Folds > 0 {
		rep.Folds, rep.FoldSeed, rep.Test = o.Folds, o.Seed, setInfo{}
		if o.Repeats > 1 {
			rep.Repeats = o.Repeats
		}
	}
	if o.Run != "" {
		rep.Network = o.Network
	}
	for _, fs := range sets {
		if err := ctx.Err(); err != nil {
			return err
		}
		var rs []probeResult
		if o.Folds > 0 {
			rs, err = probeFolds(env, o, settings, fs, train)
		} else {
			rs, _, err = probe(env, o, settings, fs, train, test)
		}
		if err != nil {
			return err
		}
		for i := range rs {
			rs[i].InitSeed = fs.InitSeed
		}
		rep.Results = append(rep.Results, rs...)
	}
	rep.Results = append(rep.Results, seedMeans(rep.Results)...)
	if o.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonSafe(rep)); err != nil {
			return err
		}
	} else {
		printReport(env.Stdout, rep, o.PerClass)
	}
	if o.Summary != "" {
		return updateSummary(env, o, info, rep)
	}
	return nil
}

// baselineKind names the baseline row.
func (o *evalOptions) baselineKind() string { return o.baselineKindFor(o.Modality) }

func (o *evalOptions) baselineKindFor(modality string) string {
	switch {
	case o.BaselineKind != "":
		return o.BaselineKind
	case o.BaselineNPY != "":
		return "baseline"
	case modality == data.Audio:
		return "mean MFCC"
	case modality == data.Text:
		return "tf-idf"
	}
	return "raw pixels"
}

// baselineFeatures is the modality's baseline: raw pixels for images
// (at --raw-size, or the encoder's input, or the images' own size), the
// mean MFCC for audio, a tf-idf bag of tokens for text.
func baselineFeatures(o *evalOptions, info runInfo, train, test *labelledSet) (featureSet, error) {
	switch train.Modality {
	case data.Audio:
		get := func(s *labelledSet) (*eval.Matrix, error) {
			waves := make([][]float32, len(s.Examples))
			for i, e := range s.Examples {
				waves[i] = e.Wave
			}
			return eval.MeanMFCC(waves, eval.MeanMFCCOptions{Workers: o.Workers})
		}
		tr, err := get(train)
		if err != nil {
			return featureSet{}, err
		}
		te, err := get(test)
		if err != nil {
			return featureSet{}, err
		}
		return featureSet{Name: "baseline", Label: o.baselineKindFor(data.Audio), Train: tr, Test: te}, nil
	case data.Text:
		// Words of the documents (scikit-learn's TfidfVectorizer): the raw
		// text where the set has it, else the decoded tokens, else the
		// token ids.
		words := func(s *labelledSet) [][]string {
			out := make([][]string, len(s.Examples))
			for i, e := range s.Examples {
				if e.Text != "" {
					out[i] = eval.Words(e.Text)
					continue
				}
				if s.Tokenizer != nil {
					out[i] = eval.Words(s.Tokenizer.Decode(e.Tokens, true))
					continue
				}
				for _, id := range e.Tokens {
					out[i] = append(out[i], strconv.Itoa(int(id)))
				}
			}
			return out
		}
		trw := words(train)
		v := eval.FitTFIDF(trw, eval.TFIDFOptions{})
		return featureSet{Name: "baseline", Label: o.baselineKindFor(data.Text), Train: v.Transform(trw), Test: v.Transform(words(test))}, nil
	}
	size, ch := o.RawSize, info.Channels
	if size <= 0 {
		size = info.Size
	}
	if size <= 0 && len(train.Examples) > 0 && train.Examples[0].Image != nil {
		size = train.Examples[0].Image.W
	}
	if ch == 0 && len(train.Examples) > 0 && train.Examples[0].Image != nil {
		ch = train.Examples[0].Image.C
	}
	get := func(s *labelledSet) (*eval.Matrix, error) {
		imgs := make([]*augment.Image, len(s.Examples))
		for i, e := range s.Examples {
			imgs[i] = e.Image
		}
		return eval.RawImagePixels(imgs, size, ch)
	}
	tr, err := get(train)
	if err != nil {
		return featureSet{}, err
	}
	te, err := get(test)
	if err != nil {
		return featureSet{}, err
	}
	return featureSet{Name: "baseline", Label: o.baselineKindFor(data.Image), Train: tr, Test: te}, nil
}

// evalDataErr names the set in a data error; a bad spec is a usage error.
func evalDataErr(which string, err error) error {
	if errors.Is(err, data.ErrSpec) {
		return usagef("eval: %s set: %v", which, err)
	}
	return fmt.Errorf("eval: %s set: %w", which, err)
}

// probe runs the chosen probe on one feature set; it returns one result
// and the test predictions per kNN setting (one for the linear probe).
func probe(env *cmdEnv, o *evalOptions, settings []eval.KNNSetting, fs featureSet, train, test *labelledSet) ([]probeResult, [][]int, error) {
	classes := len(train.Classes)
	t0 := time.Now()
	var out []probeResult
	var preds [][]int
	switch o.Probe {
	case "knn":
		o.progress(env, "kNN on %s features (%d x %d train, %d test)", fs.Label, fs.Train.Rows, fs.Train.Cols, fs.Test.Rows)
		var err error
		preds, err = eval.KNN(fs.Train, train.Labels, fs.Test, eval.KNNOptions{Settings: settings, Classes: classes, Workers: o.Workers})
		if err != nil {
			return nil, nil, fmt.Errorf("eval: %s: %w", fs.Label, err)
		}
		sec := time.Since(t0).Seconds()
		for i, s := range settings {
			pc, _ := eval.PerClassAccuracy(preds[i], test.Labels, classes)
			out = append(out, probeResult{Features: fs.Name, Label: fs.Label, Dim: fs.Train.Cols, Setting: s.String(),
				Top1: eval.Accuracy(preds[i], test.Labels), PerClass: pc, Seconds: sec})
		}
	case "linear":
		o.progress(env, "linear probe on %s features (%d x %d train, %d test)", fs.Label, fs.Train.Rows, fs.Train.Cols, fs.Test.Rows)
		res, err := eval.LinearProbe(fs.Train, train.Labels, eval.LinearOptions{L2: o.L2, Seed: o.Seed, Folds: o.cvFolds(), Classes: classes, Workers: o.Workers, MaxIter: o.MaxIter,
			Progress: func(p eval.SweepPoint) {
				if p.ValAccuracy < 0 {
					o.progress(env, "  %s: refit on all %d examples with L2 %g: loss %.4f (%d iterations, %.0f s)", fs.Label, fs.Train.Rows, p.L2, p.TrainLoss, p.Iterations, time.Since(t0).Seconds())
					return
				}
				o.progress(env, "  %s: L2 %g: validation top-1 %.2f%% (%d iterations, %.0f s)", fs.Label, p.L2, 100*p.ValAccuracy, p.Iterations, time.Since(t0).Seconds())
			}})
		if err != nil {
			return nil, nil, fmt.Errorf("eval: %s: %w", fs.Label, err)
		}
		pred, err := res.Model.Predict(fs.Test, o.Workers)
		if err != nil {
			return nil, nil, fmt.Errorf("eval: %s: %w", fs.Label, err)
		}
		preds = [][]int{pred}
		var val float64
		for _, p := range res.Sweep {
			if p.L2 == res.L2 {
				val = p.ValAccuracy
			}
		}
		pc, _ := eval.PerClassAccuracy(pred, test.Labels, classes)
		out = append(out, probeResult{Features: fs.Name, Label: fs.Label, Dim: fs.Train.Cols, Setting: "linear",
			Top1: eval.Accuracy(pred, test.Labels), PerClass: pc, L2: res.L2, ValAccuracy: val, Seconds: time.Since(t0).Seconds()})
	}
	return out, preds, nil
}

// cvFolds is the linear probe's LinearOptions.Folds: --cv-folds, or
// --folds's count when --cv-folds is 0 (0 or 1: one validation split).
func (o *evalOptions) cvFolds() int {
	if o.CVFolds == 0 {
		return o.Folds
	}
	return o.CVFolds
}

// probeFolds runs the chosen probe on each of o.Folds stratified folds of
// the pooled set all (fs.Train holds its rows), trained on the other
// folds (standardized with their statistics under --standardize), for
// each of o.Repeats partitions (fold seeds o.Seed, o.Seed+1, ...; the
// linear probe's cross-validation takes the same seed): one result per
// kNN setting (one for the linear probe) with the mean top-1 over every
// fold, its spread (across the folds, or across the partitions' means
// when there are several), and the per-class top-1 of every fold's
// predictions pooled (averaged over the partitions).
func probeFolds(env *cmdEnv, o *evalOptions, settings []eval.KNNSetting, fs featureSet, all *labelledSet) ([]probeResult, error) {
	repeats := max(o.Repeats, 1)
	t0 := time.Now()
	var out []probeResult
	for r := range repeats {
		po := *o
		po.Seed = o.Seed + uint64(r)
		rs, err := probePartition(env, &po, settings, fs, all)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = slices.Clone(rs)
			for i := range out {
				out[i].FoldTop1, out[i].FoldL2, out[i].PerClass = nil, nil, make([]float64, len(rs[i].PerClass))
			}
		}
		for i, x := range rs {
			out[i].FoldTop1 = append(out[i].FoldTop1, x.FoldTop1...)
			out[i].FoldL2 = append(out[i].FoldL2, x.FoldL2...)
			out[i].RepeatTop1 = append(out[i].RepeatTop1, x.Top1)
			for c, v := range x.PerClass {
				out[i].PerClass[c] += v / float64(repeats)
			}
		}
	}
	for i := range out {
		r := &out[i]
		if repeats > 1 {
			r.Top1, r.SD, r.SE = eval.MeanSD(r.RepeatTop1)
		} else {
			r.Top1, r.SD, r.SE = eval.MeanSD(r.FoldTop1)
			r.RepeatTop1 = nil
		}
		r.Seconds = time.Since(t0).Seconds()
	}
	return out, nil
}

// probePartition is probeFolds for one partition, keyed by o.Seed.
func probePartition(env *cmdEnv, o *evalOptions, settings []eval.KNNSetting, fs featureSet, all *labelledSet) ([]probeResult, error) {
	folds, err := eval.StratifiedFolds(all.Labels, o.Folds, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("eval: --folds: %w", err)
	}
	var out []probeResult
	var pooled [][]int // per setting: the prediction of every row
	for k, fold := range folds {
		rest := eval.Complement(all.Len(), fold)
		f := fs
		f.Train, f.Test = fs.Train.SelectRows(rest), fs.Train.SelectRows(fold)
		if o.Standardize {
			tr, te, err := eval.Standardize(f.Train, f.Test)
			if err != nil {
				return nil, fmt.Errorf("eval: %s: %w", fs.Label, err)
			}
			f.Train, f.Test = tr, te[0]
		}
		if o.Repeats > 1 {
			o.progress(env, "fold seed %d, fold %d of %d:", o.Seed, k+1, len(folds))
		} else {
			o.progress(env, "fold %d of %d:", k+1, len(folds))
		}
		tr := &labelledSet{Classes: all.Classes, Labels: pickInts(all.Labels, rest)}
		te := &labelledSet{Classes: all.Classes, Labels: pickInts(all.Labels, fold)}
		rs, preds, err := probe(env, o, settings, f, tr, te)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = rs
			pooled = make([][]int, len(rs))
			for i := range pooled {
				pooled[i] = make([]int, all.Len())
			}
		}
		for i, r := range rs {
			out[i].FoldTop1 = append(out[i].FoldTop1, r.Top1)
			if o.Probe == "linear" {
				out[i].FoldL2 = append(out[i].FoldL2, r.L2)
			}
			for j, row := range fold {
				pooled[i][row] = preds[i][j]
			}
		}
	}
	for i := range out {
		r := &out[i]
		r.Top1, _, _ = eval.MeanSD(r.FoldTop1)
		r.PerClass, _ = eval.PerClassAccuracy(pooled[i], all.Labels, len(all.Classes))
		r.L2, r.ValAccuracy = 0, 0
	}
	return out, nil
}

// seedMeans returns, when the results hold the random-init rows of several
// init seeds, one "random_init_mean" row per setting: the mean top-1 over
// the seeds, with its standard deviation and standard error across them.
func seedMeans(results []probeResult) []probeResult {
	var order []string
	bySetting := map[string][]probeResult{}
	for _, r := range results {
		if r.Features != "random_init" || r.InitSeed == nil {
			continue
		}
		if _, ok := bySetting[r.Setting]; !ok {
			order = append(order, r.Setting)
		}
		bySetting[r.Setting] = append(bySetting[r.Setting], r)
	}
	var out []probeResult
	for _, s := range order {
		rs := bySetting[s]
		if len(rs) < 2 {
			continue
		}
		m := probeResult{Features: "random_init_mean", Label: fmt.Sprintf("random init (%d seeds)", len(rs)), Dim: rs[0].Dim, Setting: s}
		var top1 []float64
		for _, r := range rs {
			top1 = append(top1, r.Top1)
			m.Seeds = append(m.Seeds, *r.InitSeed)
			m.Seconds += r.Seconds
		}
		m.Top1, m.SD, m.SE = eval.MeanSD(top1)
		m.PerClass = make([]float64, len(rs[0].PerClass))
		for c := range m.PerClass {
			for _, r := range rs {
				m.PerClass[c] += r.PerClass[c] / float64(len(rs))
			}
		}
		out = append(out, m)
	}
	return out
}

// pickInts returns a[idx[0]], a[idx[1]], ...
func pickInts(a, idx []int) []int {
	out := make([]int, len(idx))
	for j, i := range idx {
		out[j] = a[i]
	}
	return out
}

// concatRows stacks b's rows under a's (equal column counts).
func concatRows(a, b *eval.Matrix) *eval.Matrix {
	m := eval.NewMatrix(a.Rows+b.Rows, a.Cols)
	copy(m.Data, a.Data[:a.Rows*a.Cols])
	copy(m.Data[a.Rows*a.Cols:], b.Data[:b.Rows*b.Cols])
	return m
}

// jsonSafe replaces NaN per-class accuracies (classes absent from the
// test set) by -1, since JSON has no NaN.
func jsonSafe(r *evalReport) *evalReport {
	c := *r
	c.Results = append([]probeResult(nil), r.Results...)
	for i := range c.Results {
		pc := append([]float64(nil), c.Results[i].PerClass...)
		for j, v := range pc {
			if math.IsNaN(v) {
				pc[j] = -1
			}
		}
		c.Results[i].PerClass = pc
	}
	return &c
}

func printReport(w io.Writer, r *evalReport, perClass bool) {
	if r.Folds > 0 {
		if r.Repeats > 1 {
			fmt.Fprintf(w, "probe set: %s (%d), %d folds stratified by class, %d partitions (seeds %d-%d; sd, se across them)", r.Train.Spec, r.Train.N, r.Folds, r.Repeats, r.FoldSeed, r.FoldSeed+uint64(r.Repeats)-1)
		} else {
			fmt.Fprintf(w, "probe set: %s (%d), %d folds stratified by class (seed %d)", r.Train.Spec, r.Train.N, r.Folds, r.FoldSeed)
		}
	} else {
		fmt.Fprintf(w, "probe-train: %s (%d)   probe-test: %s (%d)", r.Train.Spec, r.Train.N, r.Test.Spec, r.Test.N)
	}
	if r.Standardized {
		fmt.Fprint(w, "   features standardized on probe-train")
	}
	if r.Run != "" && r.Network != "" {
		fmt.Fprintf(w, "   run: %s (%s)", r.Run, r.Network)
	} else if r.Run != "" {
		fmt.Fprintf(w, "   run: %s", r.Run)
	}
	fmt.Fprintln(w)
	spread := r.Folds > 0
	for _, res := range r.Results {
		spread = spread || len(res.Seeds) > 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if spread {
		// sd and se: across the folds, or across the init seeds on the
		// random-init mean row.
		fmt.Fprintf(tw, "features\tdim\tprobe\ttop-1\tsd\tse\t\n")
	} else {
		fmt.Fprintf(tw, "features\tdim\tprobe\ttop-1\t\n")
	}
	for _, res := range r.Results {
		setting := res.Setting
		switch {
		case res.Setting == "linear" && len(res.FoldL2) > 0:
			l2 := make([]string, len(res.FoldL2))
			for i, v := range res.FoldL2 {
				l2[i] = strconv.FormatFloat(v, 'g', -1, 64)
			}
			setting = "linear (L2 " + strings.Join(l2, "/") + ")"
		case res.Setting == "linear" && len(res.Seeds) == 0:
			setting = fmt.Sprintf("linear (L2 %g)", res.L2)
		}
		label := res.Label
		if res.InitSeed != nil {
			label = fmt.Sprintf("%s (seed %d)", res.Label, *res.InitSeed)
		}
		if spread {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f%%\t%.2f\t%.2f\t\n", label, res.Dim, setting, 100*res.Top1, 100*res.SD, 100*res.SE)
		} else {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f%%\t\n", label, res.Dim, setting, 100*res.Top1)
		}
	}
	tw.Flush()
	if perClass {
		fmt.Fprintln(w, "\nper-class top-1:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "class\t")
		for _, res := range r.Results {
			if res.InitSeed != nil {
				fmt.Fprintf(tw, "%s (seed %d) %s\t", res.Label, *res.InitSeed, res.Setting)
			} else {
				fmt.Fprintf(tw, "%s %s\t", res.Label, res.Setting)
			}
		}
		fmt.Fprintln(tw)
		for c, name := range r.Classes {
			fmt.Fprintf(tw, "%s\t", name)
			for _, res := range r.Results {
				fmt.Fprintf(tw, "%.2f%%\t", 100*res.PerClass[c])
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}
}

// updateSummary adds this probe's row (first kNN setting) to --summary.
func updateSummary(env *cmdEnv, o *evalOptions, info runInfo, r *evalReport) error {
	probe := o.Probe
	if o.Standardize {
		probe += " (standardized)"
	}
	if o.Folds > 0 && o.Repeats > 1 {
		probe += fmt.Sprintf(" (%d-fold x %d)", o.Folds, o.Repeats)
	} else if o.Folds > 0 {
		probe += fmt.Sprintf(" (%d-fold)", o.Folds)
	}
	row := summary.Result{Modality: o.Modality, Method: o.Method, Probe: probe, BaselineKind: o.baselineKind(), TrainSeconds: o.TrainSeconds, Device: o.TrainDevice}
	if row.Method == "" {
		row.Method = info.Method
	}
	if row.Device == "" {
		row.Device = info.Device
	}
	if row.TrainSeconds < 0 {
		row.TrainSeconds = 0
		if o.Run != "" {
			row.TrainSeconds = lastElapsed(filepath.Join(o.Run, "metrics.jsonl"))
		}
	}
	if row.Method == "" {
		return usagef("eval: --summary needs --method when the features come from files")
	}
	seen := map[string]bool{}
	for _, res := range r.Results {
		if seen[res.Features] {
			continue // later kNN settings of the same features
		}
		seen[res.Features] = true
		switch res.Features {
		case "trained":
			row.Trained = res.Top1
		case "random_init":
			row.RandomInit = res.Top1
		case "random_init_mean": // after the seeds' rows: their mean
			row.RandomInit = res.Top1
		case "baseline":
			row.Baseline = res.Top1
		}
	}
	f, err := summary.Update(o.Summary, row)
	if err != nil {
		return err
	}
	if !o.Quiet {
		fmt.Fprintf(env.Stderr, "eval: updated %s:\n%s", o.Summary, f.Text())
	}
	return nil
}

// lastElapsed returns the largest elapsed_s in a metrics file (0 if
// there is none).
func lastElapsed(path string) float64 {
	s, err := plot.ReadJSONL(path, "step", "elapsed_s")
	if err != nil {
		return 0
	}
	var m float64
	for _, v := range s[0].Y {
		if v > m && !math.IsInf(v, 0) {
			m = v
		}
	}
	return m
}
