package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/eval/summary"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/plot"
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
	Method       string
	TrainSeconds float64
	TrainDevice  string
	Seed         uint64
	Workers      int
	MaxIter      int

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
var encoderFeatures func(ctx context.Context, env *cmdEnv, o *evalOptions, train, test *datasets.Set) ([]featureSet, runInfo, error)

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
	fs.StringVar(&o.Train, "train", "", "labelled probe-train set: fashion-mnist:train, a labelled folder or a manifest (CSV/JSONL path,label)")
	fs.StringVar(&o.Test, "test", "", "labelled probe-test set (same forms as --train)")
	fs.StringVar(&o.Probe, "probe", "knn", "knn or linear")
	fs.StringVar(ks, "k", "200", "kNN neighbours; a comma list evaluates several settings (pairs with --t)")
	fs.StringVar(ts, "t", "0.1", "kNN temperature(s); one value or one per --k")
	fs.StringVar(l2, "l2", "", "linear probe: comma list of L2 strengths to sweep (default 0.1,0.01,0.001,1e-4)")
	fs.StringVar(&o.Network, "which", "teacher", "network of the run: teacher (EMA target) or student (online)")
	fs.StringVar(&o.Device, "device", "cpu", "device for the encoder: cpu, cuda, cuda:N or auto")
	fs.IntVar(&o.Batch, "batch", 256, "images per encoder forward pass")
	fs.IntVar(&o.MaxTrain, "max-train", 0, "use an evenly spaced subset of this many probe-train examples (0: all)")
	fs.IntVar(&o.MaxTest, "max-test", 0, "use an evenly spaced subset of this many probe-test examples (0: all)")
	fs.IntVar(&o.RawSize, "raw-size", 0, "side of the raw-pixel baseline for file sets (0: the encoder's input size, or 32)")
	fs.BoolVar(&o.NoRandom, "no-random", false, "skip the random-init encoder")
	fs.BoolVar(&o.NoBaseline, "no-baseline", false, "skip the raw-pixel baseline")
	fs.BoolVar(&o.PerClass, "per-class", false, "also print per-class accuracy")
	fs.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress on stderr")
	fs.StringVar(&o.Summary, "summary", "", "add or replace this probe's row in a summary.json (e.g. runs/demo/summary.json)")
	fs.StringVar(&o.Modality, "modality", "image", "summary: modality of the row")
	fs.StringVar(&o.Method, "method", "", "summary: method of the row (default: the run's method)")
	fs.Float64Var(&o.TrainSeconds, "train-seconds", -1, "summary: training time (default: the last elapsed_sec of RUN_DIR/metrics.jsonl)")
	fs.StringVar(&o.TrainDevice, "train-device", "", "summary: device the run trained on (default: the run's configured device)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the linear probe's validation split")
	fs.IntVar(&o.Workers, "workers", 0, "probe goroutines (0: GOMAXPROCS)")
	fs.IntVar(&o.MaxIter, "max-iter", 100, "linear probe: L-BFGS iterations per fit")
	fs.StringVar(&o.TrainedNPY, "trained-features", "", "precomputed trained-encoder features TRAIN.npy,TEST.npy (float32 N x D, rows in the order of --train/--test), instead of --run")
	fs.StringVar(&o.RandomNPY, "random-features", "", "precomputed random-init features TRAIN.npy,TEST.npy")
	fs.StringVar(&o.BaselineNPY, "baseline-features", "", "precomputed baseline features TRAIN.npy,TEST.npy (e.g. mean MFCC, bag of words), instead of raw pixels")
	fs.StringVar(&o.BaselineKind, "baseline-kind", "", "name of the baseline in the table and summary (default: raw pixels, or \"baseline\" with --baseline-features)")
}

// evalMethods are the probes of runs made by other methods than BYOL
// (HuBERT, data2vec), by the method named in RUN/config.yaml: `sslpipe
// eval --run RUN ...` runs `sslpipe <method> probe --run RUN ...`.
var evalMethods = map[string]func(ctx context.Context, env *cmdEnv, args []string) error{}

func runEvalCmd(ctx context.Context, env *cmdEnv, args []string) error {
	if f := evalMethods[runMethod(flagValue(args, "run"))]; f != nil {
		return f(ctx, env, args)
	}
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

// evenSubset keeps n examples at even strides (keeps class balance of
// sorted or shuffled sets alike).
func evenSubset(s *datasets.Set, n int) *datasets.Set {
	if idx := evenIndices(s.Len(), n); idx != nil {
		return s.Subset(idx)
	}
	return s
}

var imageExts = []string{"png", "jpg", "jpeg"}

// evenIndices returns the indices evenSubset keeps (nil: all).
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

// loadLabelled opens a labelled set of full examples and keeps max of
// them; idx lists the kept rows of the full set (nil: all).
func loadLabelled(spec string, max int) (s *datasets.Set, idx []int, full int, err error) {
	s, err = datasets.Open(spec, imageExts...)
	if err != nil {
		return nil, nil, 0, err
	}
	full = s.Len()
	idx = evenIndices(full, max)
	if idx != nil {
		s = s.Subset(idx)
	}
	return s, idx, full, nil
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
}

type evalReport struct {
	Probe   string        `json:"probe"`
	Run     string        `json:"run,omitempty"`
	Network string        `json:"network,omitempty"`
	Train   setInfo       `json:"train"`
	Test    setInfo       `json:"test"`
	Classes []string      `json:"classes"`
	Results []probeResult `json:"results"`
}

type setInfo struct {
	Spec string `json:"spec"`
	N    int    `json:"n"`
}

func runEval(ctx context.Context, env *cmdEnv, o *evalOptions) error {
	if o.Train == "" || o.Test == "" {
		return usagef("eval: --train and --test are required")
	}
	if o.Probe != "knn" && o.Probe != "linear" {
		return usagef("eval: --probe must be knn or linear, not %q", o.Probe)
	}
	if o.Network != "teacher" && o.Network != "student" {
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
	train, idxTrain, nTrain, err := loadLabelled(o.Train, o.MaxTrain)
	if err != nil {
		return fmt.Errorf("eval: probe-train set: %w", err)
	}
	test, idxTest, nTest, err := loadLabelled(o.Test, o.MaxTest)
	if err != nil {
		return fmt.Errorf("eval: probe-test set: %w", err)
	}
	onlyTrain, onlyTest := datasets.AlignClasses(train, test)
	if len(onlyTrain) == len(train.Classes) {
		return fmt.Errorf("eval: probe-train and probe-test share no class (probe-train: %v, probe-test: %v)", onlyTrain, onlyTest)
	}
	if len(onlyTest) > 0 {
		return fmt.Errorf("eval: probe-test classes %v do not occur in probe-train; a probe cannot predict them", onlyTest)
	}
	if len(onlyTrain) > 0 {
		fmt.Fprintf(env.Stderr, "eval: warning: probe-train classes %v do not occur in probe-test\n", onlyTrain)
	}
	o.progress(env, "probe-train %s: %d examples, probe-test %s: %d examples, %d classes", o.Train, train.Len(), o.Test, test.Len(), len(train.Classes))

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
		sets = append(sets, featureSet{Name: f.name, Label: f.label, Train: tr, Test: te})
	}
	if !o.NoBaseline && o.BaselineNPY == "" {
		t0 := time.Now()
		fs, err := rawPixelFeatures(o, info, train, test)
		if err != nil {
			return err
		}
		fs.Seconds = time.Since(t0).Seconds()
		sets = append(sets, fs)
	}
	if len(sets) == 0 {
		return usagef("eval: nothing to evaluate (no --run or --*-features, and --no-baseline)")
	}
	rep := &evalReport{Probe: o.Probe, Run: o.Run, Train: setInfo{o.Train, train.Len()}, Test: setInfo{o.Test, test.Len()}, Classes: train.Classes}
	if o.Run != "" {
		rep.Network = o.Network
	}
	for _, fs := range sets {
		if err := ctx.Err(); err != nil {
			return err
		}
		rs, err := probe(env, o, settings, fs, train, test)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, rs...)
	}
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
func (o *evalOptions) baselineKind() string {
	switch {
	case o.BaselineKind != "":
		return o.BaselineKind
	case o.BaselineNPY != "":
		return "baseline"
	}
	return "raw pixels"
}

// rawPixelFeatures is the baseline: in-memory images as they are, file
// images decoded at --raw-size (or the encoder's input) with its channels.
func rawPixelFeatures(o *evalOptions, info runInfo, train, test *datasets.Set) (featureSet, error) {
	size, ch := o.RawSize, info.Channels
	if size <= 0 {
		size = info.Size
	}
	if size <= 0 {
		size = 32
	}
	if ch == 0 {
		ch = 3
	}
	get := func(s *datasets.Set) (*eval.Matrix, error) {
		if s.Images != nil && (o.RawSize <= 0 || (s.Images.H == o.RawSize && s.Images.W == o.RawSize)) {
			return eval.RawPixels(s.Images), nil
		}
		if s.Images != nil {
			return nil, usagef("eval: --raw-size %d differs from the in-memory images (%dx%d) of %s", o.RawSize, s.Images.W, s.Images.H, s.Name)
		}
		imgs, err := datasets.LoadImages(s, size, ch, o.Workers)
		if err != nil {
			return nil, err
		}
		return eval.RawPixels(imgs), nil
	}
	tr, err := get(train)
	if err != nil {
		return featureSet{}, err
	}
	te, err := get(test)
	if err != nil {
		return featureSet{}, err
	}
	if tr.Cols != te.Cols {
		return featureSet{}, fmt.Errorf("eval: raw pixels: train has %d values per image, test %d", tr.Cols, te.Cols)
	}
	return featureSet{Name: "baseline", Label: o.baselineKind(), Train: tr, Test: te}, nil
}

// probe runs the chosen probe on one feature set.
func probe(env *cmdEnv, o *evalOptions, settings []eval.KNNSetting, fs featureSet, train, test *datasets.Set) ([]probeResult, error) {
	classes := len(train.Classes)
	t0 := time.Now()
	var out []probeResult
	switch o.Probe {
	case "knn":
		o.progress(env, "kNN on %s features (%d x %d train, %d test)", fs.Label, fs.Train.Rows, fs.Train.Cols, fs.Test.Rows)
		preds, err := eval.KNN(fs.Train, train.Labels, fs.Test, eval.KNNOptions{Settings: settings, Classes: classes, Workers: o.Workers})
		if err != nil {
			return nil, fmt.Errorf("eval: %s: %w", fs.Label, err)
		}
		sec := time.Since(t0).Seconds()
		for i, s := range settings {
			pc, _ := eval.PerClassAccuracy(preds[i], test.Labels, classes)
			out = append(out, probeResult{Features: fs.Name, Label: fs.Label, Dim: fs.Train.Cols, Setting: s.String(),
				Top1: eval.Accuracy(preds[i], test.Labels), PerClass: pc, Seconds: sec})
		}
	case "linear":
		o.progress(env, "linear probe on %s features (%d x %d train, %d test)", fs.Label, fs.Train.Rows, fs.Train.Cols, fs.Test.Rows)
		res, err := eval.LinearProbe(fs.Train, train.Labels, eval.LinearOptions{L2: o.L2, Seed: o.Seed, Classes: classes, Workers: o.Workers, MaxIter: o.MaxIter,
			Progress: func(p eval.SweepPoint) {
				if p.ValAccuracy < 0 {
					o.progress(env, "  %s: refit on all %d examples with L2 %g: loss %.4f (%d iterations, %.0f s)", fs.Label, fs.Train.Rows, p.L2, p.TrainLoss, p.Iterations, time.Since(t0).Seconds())
					return
				}
				o.progress(env, "  %s: L2 %g: validation top-1 %.2f%% (%d iterations, %.0f s)", fs.Label, p.L2, 100*p.ValAccuracy, p.Iterations, time.Since(t0).Seconds())
			}})
		if err != nil {
			return nil, fmt.Errorf("eval: %s: %w", fs.Label, err)
		}
		pred, err := res.Model.Predict(fs.Test, o.Workers)
		if err != nil {
			return nil, fmt.Errorf("eval: %s: %w", fs.Label, err)
		}
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
	return out, nil
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
	fmt.Fprintf(w, "probe-train: %s (%d)   probe-test: %s (%d)", r.Train.Spec, r.Train.N, r.Test.Spec, r.Test.N)
	if r.Run != "" {
		fmt.Fprintf(w, "   run: %s (%s)", r.Run, r.Network)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "features\tdim\tprobe\ttop-1\t\n")
	for _, res := range r.Results {
		setting := res.Setting
		if res.Setting == "linear" {
			setting = fmt.Sprintf("linear (L2 %g)", res.L2)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f%%\t\n", res.Label, res.Dim, setting, 100*res.Top1)
	}
	tw.Flush()
	if perClass {
		fmt.Fprintln(w, "\nper-class top-1:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "class\t")
		for _, res := range r.Results {
			fmt.Fprintf(tw, "%s %s\t", res.Label, res.Setting)
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
	row := summary.Result{Modality: o.Modality, Method: o.Method, Probe: o.Probe, BaselineKind: o.baselineKind(), TrainSeconds: o.TrainSeconds, Device: o.TrainDevice}
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

// lastElapsed returns the largest elapsed_sec in a metrics file (0 if
// there is none).
func lastElapsed(path string) float64 {
	s, err := plot.ReadJSONL(path, "step", "elapsed_sec")
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
