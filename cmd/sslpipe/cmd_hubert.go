//go:build cgo && portpending

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/eval/summary"
	"github.com/sslpipe/sslpipe/train/hubert"
)

func init() {
	register(&command{Name: "hubert", Summary: "HuBERT speech pretraining: labels (MFCC or layer k-means), train, probe (spoken words), bench [libtorch]", Run: runHubertCmd})
}

func runHubertCmd(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(env.Stderr, `Usage:
  sslpipe hubert labels --data DIR --out LABELS [--kmeans 100] [--features-from RUN --layer 6 --kmeans 500]
  sslpipe hubert train  --data DIR --labels LABELS --dir RUN [--preset cpu-small|cpu-reproduce|hubert-base] [--steps N] [--print-config]
  sslpipe hubert probe  --run RUN --train DIGITS/train --test DIGITS/test [--layer L] [--json] [--summary FILE]
  sslpipe hubert bench  [--preset hubert-base] [--batch 8] [--seconds 4] [--steps 20] [--device cuda]
`)
		if len(args) == 0 {
			return usagef("hubert: no subcommand given (labels, train, probe, bench)")
		}
		return flagHelp
	}
	switch args[0] {
	case "labels":
		return runHubertLabels(ctx, env, args[1:])
	case "train":
		return runHubertTrain(ctx, env, args[1:])
	case "probe":
		return runHubertProbe(ctx, env, args[1:])
	case "bench":
		return runHubertBench(ctx, env, args[1:])
	}
	return usagef("hubert: unknown subcommand %q (labels, train, probe, bench)", args[0])
}

func runHubertLabels(ctx context.Context, env *cmdEnv, args []string) error {
	var data, out, from, codebook string
	var k, layer int
	var frac float64
	var seed uint64
	fs := newFlagSet("hubert labels", env.Stderr)
	fs.StringVar(&data, "data", "", "pretraining folder (train/ and valid/ of 16 kHz WAVs)")
	fs.StringVar(&out, "out", "", "labels folder to write")
	fs.IntVar(&k, "kmeans", 100, "k-means clusters (HuBERT: 100 on MFCC, 500 on layer features)")
	fs.StringVar(&from, "kmeans-features-from", "", "iteration 2: cluster this trained run's transformer layer instead of MFCCs")
	fs.StringVar(&from, "features-from", "", "alias of --kmeans-features-from")
	fs.IntVar(&layer, "layer", 6, "transformer block whose output is clustered (with --features-from)")
	fs.Float64Var(&frac, "fraction", 1, "fraction of train frames the k-means is fitted on")
	fs.StringVar(&codebook, "codebook", "", "assign with this existing k-means file instead of fitting one")
	fs.Uint64Var(&seed, "seed", 1, "seed of frame sampling and k-means")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if data == "" || out == "" {
		return usagef("hubert labels: --data and --out are required")
	}
	o := hubert.LabelOptions{K: k, Fraction: frac, Seed: seed, KMeans: codebook,
		Progress: func(f string, a ...any) { fmt.Fprintf(env.Stderr, "hubert labels: "+f+"\n", a...) }}
	var m *hubert.LabelsMeta
	var err error
	if from != "" {
		m, err = hubert.LayerLabels(ctx, from, layer, data, out, o)
	} else {
		m, err = hubert.MFCCLabels(ctx, data, out, o)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "hubert labels: %s: k=%d %s at %g Hz, %d utterances, %d frames, inertia %.4g, %.1f s\n",
		out, m.K, m.FeatureType, m.LabelRate, m.Utterances, m.Frames, m.Inertia, m.Seconds)
	return nil
}

func runHubertTrain(ctx context.Context, env *cmdEnv, args []string) error {
	var preset, cfgPath, data, labels, dir, device, resume string
	var steps int64
	var batch, threads int
	var seed uint64
	var printCfg, quiet bool
	fs := newFlagSet("hubert train", env.Stderr)
	fs.StringVar(&preset, "preset", "cpu-small", "preset: "+strings.Join(hubert.Presets(), ", "))
	fs.StringVar(&cfgPath, "config", "", "YAML config (overrides the preset; flags override it)")
	fs.StringVar(&data, "data", "", "pretraining folder")
	fs.StringVar(&labels, "labels", "", "labels folder (sslpipe hubert labels)")
	fs.StringVar(&dir, "dir", "", "run folder to write")
	fs.StringVar(&resume, "resume", "", "continue the run in RUN_DIR from its newest checkpoint (its config.yaml; --device and --threads may change)")
	fs.StringVar(&device, "device", "", "auto, cpu, cuda or cuda:N")
	fs.Int64Var(&steps, "steps", 0, "training steps (0: the preset's)")
	fs.IntVar(&batch, "batch", 0, "utterances per step (0: the preset's)")
	fs.IntVar(&threads, "threads", -1, "libtorch threads (0: all cores)")
	fs.Uint64Var(&seed, "seed", 0, "seed (0: the preset's)")
	fs.BoolVar(&printCfg, "print-config", false, "print the resolved config and exit")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := hubert.Preset(preset)
	if err != nil {
		return usagef("hubert train: %v", err)
	}
	if resume != "" {
		if cfgPath != "" || (dir != "" && dir != resume) {
			return usagef("hubert train: --resume takes the run's own config.yaml and folder (no --config or --dir)")
		}
		cfgPath = filepath.Join(resume, "config.yaml")
		dir = resume
	}
	if cfgPath != "" {
		if cfg, err = hubert.LoadConfig(cfgPath); err != nil {
			return err
		}
	}
	if data != "" {
		cfg.Data = data
	}
	if labels != "" {
		cfg.Labels = labels
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
	if threads >= 0 {
		cfg.Threads = threads
	}
	if seed > 0 {
		cfg.Seed = seed
	}
	if cfg.Model.NumClasses == 0 || labels != "" {
		if m, err := hubert.ReadLabelsMeta(cfg.Labels); err == nil && cfg.Model.NumClasses != m.K && cfgPath == "" {
			cfg.Model.NumClasses = m.K // the labels decide k unless a config file pins it
		}
	}
	if printCfg {
		y, err := cfg.YAML()
		if err != nil {
			return err
		}
		_, err = env.Stdout.Write(y)
		return err
	}
	if cfg.Data == "" || cfg.Labels == "" || cfg.Dir == "" {
		return usagef("hubert train: --data, --labels and --dir are required")
	}
	o := hubert.RunOptions{Resume: resume != ""}
	if !quiet {
		o.Progress = env.Stderr
	}
	res, err := hubert.Train(ctx, cfg, o)
	if err != nil {
		if res != nil && res.Checkpoint != "" {
			fmt.Fprintf(env.Stderr, "hubert train: stopped at step %d; checkpoint written, continue with: sslpipe hubert train --resume %s\n", res.Steps, cfg.Dir)
		}
		return err
	}
	f := res.Final
	va := 0.0
	if f.ValAccM != nil {
		va = *f.ValAccM
	}
	fmt.Fprintf(env.Stdout, "hubert train: %s: %d steps in %.0f s; masked accuracy %.3f (train), %.3f (held-out valid), chance %.3f\n",
		res.Dir, res.Steps, res.Seconds, f.AccM, va, res.Chance)
	return nil
}

// hubertProbeRow is one encoder's scores.
type hubertProbeRow struct {
	Name   string  `json:"name"`
	KNN    float64 `json:"knn"`
	Linear float64 `json:"linear"`
	Dim    int     `json:"dim"`
}

type hubertProbeReport struct {
	Run         string           `json:"run"`
	Layer       int              `json:"layer"`
	Train       int              `json:"train_examples"`
	Test        int              `json:"test_examples"`
	Classes     int              `json:"classes"`
	KNN         string           `json:"knn_setting"`
	Rows        []hubertProbeRow `json:"rows"` // trained, random_init, mean MFCC
	TrainSecs   float64          `json:"train_seconds"`
	Device      string           `json:"device"`
	Seconds     float64          `json:"seconds"`
	Description string           `json:"description"`
}

func loadWaves(s *datasets.Set) ([][]float32, error) {
	out := make([][]float32, s.Len())
	for i, k := range s.Keys {
		w, err := hubert.LoadWave(k, 400)
		if err != nil {
			return nil, err
		}
		out[i] = w
	}
	return out, nil
}

func toMatrix(rows [][]float32) *eval.Matrix {
	m := eval.NewMatrix(len(rows), len(rows[0]))
	for i, r := range rows {
		copy(m.Row(i), r)
	}
	return m
}

func probeScores(tr, te *eval.Matrix, ytr, yte []int, classes int, knn eval.KNNSetting, seed uint64) (k, l float64, err error) {
	pred, err := eval.KNN(tr, ytr, te, eval.KNNOptions{Settings: []eval.KNNSetting{knn}, Classes: classes})
	if err != nil {
		return 0, 0, err
	}
	lp, err := eval.LinearProbe(tr, ytr, eval.LinearOptions{Seed: seed, Classes: classes})
	if err != nil {
		return 0, 0, err
	}
	lpred, err := lp.Model.Predict(te, 0)
	if err != nil {
		return 0, 0, err
	}
	return eval.Accuracy(pred[0], yte), eval.Accuracy(lpred, yte), nil
}

func runHubertProbe(ctx context.Context, env *cmdEnv, args []string) error {
	var run, trainDir, testDir, summary, name string
	var layer, k int
	var temp float64
	var jsonOut bool
	fs := newFlagSet("hubert probe", env.Stderr)
	fs.StringVar(&run, "run", "", "trained run folder")
	fs.StringVar(&trainDir, "train", "", "labelled folder of WAVs for probe training (class = directory)")
	fs.StringVar(&testDir, "test", "", "labelled folder of WAVs for probe testing (held-out voices)")
	fs.IntVar(&layer, "layer", -1, "transformer block whose mean-pooled output is probed (-1: the last)")
	fs.IntVar(&k, "k", 20, "kNN neighbours")
	fs.Float64Var(&temp, "t", 0.07, "kNN temperature")
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&summary, "summary", "", "add the entry to this summary.json (the make demo format)")
	fs.StringVar(&name, "probe", "linear", "probe reported in --summary: linear or knn")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if run == "" || trainDir == "" || testDir == "" {
		return usagef("hubert probe: --run, --train and --test are required")
	}
	if name != "linear" && name != "knn" {
		return usagef("hubert probe: --probe must be linear or knn")
	}
	start := time.Now()
	trs, err := datasets.Folder(trainDir, ".wav")
	if err != nil {
		return err
	}
	tes, err := datasets.Folder(testDir, ".wav")
	if err != nil {
		return err
	}
	if strings.Join(trs.Classes, ",") != strings.Join(tes.Classes, ",") {
		return fmt.Errorf("hubert probe: %s has classes %v but %s has %v", trainDir, trs.Classes, testDir, tes.Classes)
	}
	wtr, err := loadWaves(trs)
	if err != nil {
		return err
	}
	wte, err := loadWaves(tes)
	if err != nil {
		return err
	}
	m, cfg, err := hubert.OpenRun(run, gotch.CPU)
	if err != nil {
		return err
	}
	defer m.Free()
	if layer < 0 {
		layer = cfg.Model.Encoder.Layers
	}
	rnd, err := hubert.NewModel(cfg.Model, cfg.Seed, gotch.CPU)
	if err != nil {
		return err
	}
	defer rnd.Free()
	knn := eval.KNNSetting{K: k, T: temp}
	rep := hubertProbeReport{Run: run, Layer: layer, Train: trs.Len(), Test: tes.Len(), Classes: len(trs.Classes), KNN: knn.String(), Device: "cpu",
		Description: "spoken digits, probe-test voices unseen by the probe; mean-pooled features"}
	for _, enc := range []struct {
		name string
		m    *hubert.Model
	}{{"trained", m}, {"random_init", rnd}} {
		a, err := hubert.Embed(enc.m, wtr, layer, 0)
		if err != nil {
			return err
		}
		b, err := hubert.Embed(enc.m, wte, layer, 0)
		if err != nil {
			return err
		}
		kn, li, err := probeScores(toMatrix(a), toMatrix(b), trs.Labels, tes.Labels, len(trs.Classes), knn, cfg.Seed)
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, hubertProbeRow{Name: enc.name, KNN: kn, Linear: li, Dim: len(a[0])})
	}
	mtr, err := eval.MeanMFCC(wtr, eval.MeanMFCCOptions{})
	if err != nil {
		return err
	}
	mte, err := eval.MeanMFCC(wte, eval.MeanMFCCOptions{})
	if err != nil {
		return err
	}
	kn, li, err := probeScores(mtr, mte, trs.Labels, tes.Labels, len(trs.Classes), knn, cfg.Seed)
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, hubertProbeRow{Name: "mean MFCC", KNN: kn, Linear: li, Dim: mtr.Cols})
	rep.Seconds = time.Since(start).Seconds()
	if met, err := lastMetrics(run); err == nil {
		rep.TrainSecs = met.ElapsedSec
	}
	if summary != "" {
		if err := addSummary(summary, rep, name, cfg); err != nil {
			return err
		}
	}
	if jsonOut {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
		return nil
	}
	fmt.Fprintf(env.Stdout, "HuBERT spoken-digit probe (%d train / %d test utterances, test voices held out), layer %d\n", rep.Train, rep.Test, layer)
	fmt.Fprintf(env.Stdout, "%-12s %8s %8s %6s\n", "features", "linear", "kNN", "dim")
	for _, r := range rep.Rows {
		fmt.Fprintf(env.Stdout, "%-12s %7.1f%% %7.1f%% %6d\n", r.Name, 100*r.Linear, 100*r.KNN, r.Dim)
	}
	fmt.Fprintf(env.Stdout, "(kNN %s; linear: logistic regression with an L2 sweep; chance %.1f%%)\n", knn, 100/float64(rep.Classes))
	return nil
}

func lastMetrics(run string) (*hubert.Metrics, error) {
	data, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var m hubert.Metrics
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// addSummary adds (or replaces) the audio/hubert rows of a summary.json
// (the format of the train issue, through eval/summary): the chosen probe's
// row and, beside it, the other probe's, so the kNN and linear scores both
// reach the demo table.
func addSummary(path string, rep hubertProbeReport, probe string, cfg hubert.Config) error {
	for _, p := range []string{probe, map[string]string{"linear": "knn", "knn": "linear"}[probe]} {
		score := func(r hubertProbeRow) float64 {
			if p == "knn" {
				return r.KNN
			}
			return r.Linear
		}
		row := summary.Result{
			Modality: "audio", Method: "hubert", Probe: p,
			Trained: score(rep.Rows[0]), RandomInit: score(rep.Rows[1]), Baseline: score(rep.Rows[2]),
			BaselineKind: "mean MFCC", TrainSeconds: math.Max(0, rep.TrainSecs), Device: cfg.Device,
		}
		if _, err := summary.Update(path, row); err != nil {
			return fmt.Errorf("hubert probe: %w", err)
		}
	}
	return nil
}
