package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
)

func init() {
	registerBench(&benchTarget{Name: "knn", Summary: "weighted kNN speed (queries/s, GFLOP/s) on synthetic features or raw Fashion-MNIST pixels", Run: runBenchKNNCmd})
}

type knnBenchResult struct {
	Data         string             `json:"data"`
	Train        int                `json:"train"`
	Test         int                `json:"test"`
	Dim          int                `json:"dim"`
	Settings     []string           `json:"settings"`
	Workers      int                `json:"workers"`
	Kernel       string             `json:"kernel"`
	Seconds      float64            `json:"seconds"`
	CPUSeconds   float64            `json:"cpu_seconds"`
	QueriesPerS  float64            `json:"queries_per_s"`
	GFLOPPerS    float64            `json:"gflop_per_s"`
	GFLOPPerCPUS float64            `json:"gflop_per_cpu_s"`
	Accuracy     map[string]float64 `json:"accuracy,omitempty"` // Fashion-MNIST only
}

func runBenchKNNCmd(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("bench knn", env.Stderr)
	data := fs.String("data", "synthetic", "synthetic (Gaussian features) or fashion-mnist (raw pixels, 784-d, with accuracy)")
	ntrain, ntest, dim, workers := new(int), new(int), new(int), new(int)
	intVar(fs, ntrain, "train", 60000, 1, 10000000, "train rows (synthetic)")
	intVar(fs, ntest, "test", 10000, 1, 10000000, "query rows (synthetic)")
	intVar(fs, dim, "dim", 512, 1, 1<<16, "feature dimension (synthetic)")
	ks := fs.String("k", "200,20", "neighbours, comma list")
	ts := fs.String("t", "0.1,0.07", "temperatures, comma list")
	intVar(fs, workers, "workers", 0, 0, 4096, "goroutines (0: GOMAXPROCS)")
	jsonOut := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o := &evalOptions{}
	var err error
	if o.K, err = parseIntList(*ks); err != nil {
		return usagef("bench knn: --k: %v", err)
	}
	if o.T, err = parseFloatList(*ts); err != nil {
		return usagef("bench knn: --t: %v", err)
	}
	settings, err := o.settings()
	if err != nil {
		return err
	}
	var train, test *eval.Matrix
	var trainY, testY []int
	switch *data {
	case "synthetic":
		if *ntrain <= 0 || *ntest <= 0 || *dim <= 0 {
			return usagef("bench knn: --train, --test and --dim must be positive")
		}
		r := rand.New(rand.NewPCG(1, 2))
		gen := func(n int) (*eval.Matrix, []int) {
			m := eval.NewMatrix(n, *dim)
			for i := range m.Data {
				m.Data[i] = float32(r.NormFloat64())
			}
			y := make([]int, n)
			for i := range y {
				y[i] = r.IntN(10)
			}
			return m, y
		}
		train, trainY = gen(*ntrain)
		test, testY = gen(*ntest)
	case "fashion-mnist":
		tr, err := datasets.Open("fashion-mnist:train")
		if err != nil {
			return err
		}
		te, err := datasets.Open("fashion-mnist:test")
		if err != nil {
			return err
		}
		train, trainY, test, testY = eval.RawPixels(tr.Images), tr.Labels, eval.RawPixels(te.Images), te.Labels
	default:
		return usagef("bench knn: --data must be synthetic or fashion-mnist")
	}
	w := *workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	cpu0, t0 := cpuSeconds(), time.Now()
	preds, err := eval.KNN(train, trainY, test, eval.KNNOptions{Settings: settings, Workers: w, Classes: 10})
	if err != nil {
		return err
	}
	sec, cpu := time.Since(t0).Seconds(), cpuSeconds()-cpu0
	flop := 2 * float64(train.Rows) * float64(test.Rows) * float64(train.Cols)
	r := knnBenchResult{Data: *data, Train: train.Rows, Test: test.Rows, Dim: train.Cols, Workers: w, Kernel: eval.Kernel(),
		Seconds: sec, CPUSeconds: cpu, QueriesPerS: float64(test.Rows) / sec, GFLOPPerS: flop / sec / 1e9}
	if cpu > 0 {
		r.GFLOPPerCPUS = flop / cpu / 1e9
	}
	for i, s := range settings {
		r.Settings = append(r.Settings, s.String())
		if *data == "fashion-mnist" {
			if r.Accuracy == nil {
				r.Accuracy = map[string]float64{}
			}
			r.Accuracy[s.String()] = eval.Accuracy(preds[i], testY)
		}
	}
	if *jsonOut {
		return json.NewEncoder(env.Stdout).Encode(r)
	}
	fmt.Fprintf(env.Stdout, "knn %s: train=%d test=%d dim=%d settings=%v workers=%d kernel=%s seconds=%.2f cpu_seconds=%.2f queries_per_s=%.0f gflop_per_s=%.1f gflop_per_cpu_s=%.1f",
		r.Data, r.Train, r.Test, r.Dim, r.Settings, r.Workers, r.Kernel, r.Seconds, r.CPUSeconds, r.QueriesPerS, r.GFLOPPerS, r.GFLOPPerCPUS)
	for _, s := range r.Settings {
		if a, ok := r.Accuracy[s]; ok {
			fmt.Fprintf(env.Stdout, " top1[%s]=%.4f", s, a)
		}
	}
	fmt.Fprintln(env.Stdout)
	return nil
}
