//go:build cgo

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
)

// openTestEncoder opens a run's encoder through its method.
func openTestEncoder(t *testing.T, run, network string) train.Embedder {
	t.Helper()
	m, info, err := openRun(run)
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Encoder(info, train.EncoderOptions{Network: network})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	tinyRunOnce sync.Once
	tinyRunDir  string
	tinyRunErr  error
)

// tinyRun trains a small BYOL ConvNet for 6 steps on Fashion-MNIST once per
// test binary and returns its run folder.
func tinyRun(t *testing.T) string {
	t.Helper()
	needFashionMNIST(t)
	tinyRunOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sslpipe-eval-run")
		if err != nil {
			tinyRunErr = err
			return
		}
		run := filepath.Join(dir, "run")
		var out, errb strings.Builder
		env := &cmdEnv{Stdout: &out, Stderr: &errb}
		tinyRunErr = runTrainCmd(context.Background(), env, []string{"--method", "byol", "--preset", "smoke", "--out", run,
			"--steps", "6", "--batch", "16", "--checkpoint-every", "3", "--threads", "1", "--quiet"})
		tinyRunDir = run
	})
	if tinyRunErr != nil {
		t.Fatalf("training the tiny run: %v", tinyRunErr)
	}
	return tinyRunDir
}

func TestEvalRunKNN(t *testing.T) {
	run := tinyRun(t)
	sum := filepath.Join(t.TempDir(), "demo", "summary.json")
	out, stderr, err := runArgs(t, "eval", "--run", run, "--train", "fashion-mnist:train", "--test", "fashion-mnist:test",
		"--max-train", "600", "--max-test", "200", "--json", "--summary", sum, "--train-seconds", "12")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("results %+v", rep.Results)
	}
	enc := openTestEncoder(t, run, "")
	dim := enc.Dim()
	enc.Close()
	want := []struct {
		name string
		dim  int
	}{{"trained", dim}, {"random_init", dim}, {"baseline", 784}}
	for i, w := range want {
		r := rep.Results[i]
		// Even a barely trained or random ConvNet is far above chance (10%).
		if r.Features != w.name || r.Dim != w.dim || r.Top1 < 0.3 || r.Top1 > 1 {
			t.Errorf("result %d: %+v, want %s with dim %d", i, r, w.name, w.dim)
		}
	}
	raw, err := os.ReadFile(sum)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"modality": "image"`, `"method": "byol"`, `"probe": "knn"`, `"baseline_kind": "raw pixels"`, `"train_seconds": 12`, `"device": "cpu"`} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("summary lacks %s:\n%s", s, raw)
		}
	}
}

func readKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		keys = append(keys, sc.Text())
	}
	return keys
}

func TestEmbedFolder(t *testing.T) {
	run := tinyRun(t)
	te, err := datasets.Open("fashion-mnist:test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	imgDir := filepath.Join(dir, "imgs")
	if _, err := datasets.WriteFolder(te.Head(100), imgDir, 2, datasets.FashionMNISTFolderNames); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "emb.npy")
	if _, stderr, err := runArgs(t, "embed", "--run", run, "--data", imgDir, "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	a, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	keys := readKeys(t, filepath.Join(dir, "out", "emb.keys.txt"))
	enc := openTestEncoder(t, run, "")
	defer enc.Close()
	if a.DType != npy.Float32 || len(a.Shape) != 2 || a.Shape[0] != 20 || a.Shape[1] != enc.Dim() || len(keys) != 20 {
		t.Fatalf("shape %v dtype %v, %d keys", a.Shape, a.DType, len(keys))
	}
	first := 0
	for te.Labels[first] != 0 {
		first++
	}
	if want := fmt.Sprintf("0-tshirt-top/%05d.png", first); keys[0] != want {
		t.Errorf("first key %q, want %q", keys[0], want)
	}
	// Row i is the teacher's embedding of the image named by key i.
	var ex []data.Example
	for _, k := range keys {
		m, err := augment.DecodeFile(filepath.Join(imgDir, k), augment.DecodeOptions{Channels: 1})
		if err != nil {
			t.Fatal(err)
		}
		ex = append(ex, data.Example{Image: m})
	}
	rows, err := enc.Embed(ex)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(rows...)
	for i := range want {
		if math.Abs(float64(want[i]-a.F32[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("value %d: %v, want %v", i, a.F32[i], want[i])
		}
	}
	// The student is another network.
	out2 := filepath.Join(dir, "student.npy")
	if _, _, err := runArgs(t, "embed", "--run", run, "--data", imgDir, "--out", out2, "--which", "student", "--keys", filepath.Join(dir, "s.keys")); err != nil {
		t.Fatal(err)
	}
	b, _ := npy.ReadFile(out2)
	same := true
	for i := range b.F32 {
		same = same && b.F32[i] == a.F32[i]
	}
	if same || len(readKeys(t, filepath.Join(dir, "s.keys"))) != 20 {
		t.Error("student embeddings equal the teacher's, or keys missing")
	}
	// A corrupt file is skipped and reported (default --max-errors), or
	// stops the command with exit 4 under --max-errors 0.
	os.WriteFile(filepath.Join(imgDir, "3-dress", "zz-broken.png"), []byte("not a png"), 0o644)
	if _, stderr, err := runArgs(t, "embed", "--run", run, "--data", imgDir, "--out", out); err != nil || !strings.Contains(stderr, "zz-broken.png") {
		t.Errorf("corrupt file skipped: %v\n%s", err, stderr)
	}
	if keys := readKeys(t, filepath.Join(dir, "out", "emb.keys.txt")); len(keys) != 20 {
		t.Errorf("%d keys after skipping", len(keys))
	}
	if _, _, err := runArgs(t, "embed", "--run", run, "--data", imgDir, "--out", out, "--max-errors", "0"); exitCode(err) != exitDataErrors || !strings.Contains(err.Error(), "zz-broken.png") {
		t.Errorf("--max-errors 0: %v (exit %d)", err, exitCode(err))
	}
}

func TestEmbedUsage(t *testing.T) {
	for _, args := range [][]string{
		{"embed"},
		{"embed", "--run", "r", "--data", "d"},
		{"embed", "--run", "r", "--data", "d", "--out", "o.npy", "--which", "backbone"},
	} {
		if _, _, err := runArgs(t, args...); exitCode(err) != exitUsage {
			t.Errorf("%q: %v", args, err)
		}
	}
	if _, _, err := runArgs(t, "embed", "--run", t.TempDir(), "--data", "fashion-mnist:test", "--out", filepath.Join(t.TempDir(), "x.npy")); err == nil {
		t.Error("a folder without a run: no error")
	}
}

// TestEvalRandomSeeds: --random-seeds N probes the run's architecture
// initialized with the run's seed and the N-1 seeds after it (the first
// equals the plain random-init row), the networks differ with the seed,
// and a last row gives their mean and spread; with --folds every row is a
// fold mean.
func TestEvalRandomSeeds(t *testing.T) {
	run := tinyRun(t)
	_, info, err := openRun(run)
	if err != nil {
		t.Fatal(err)
	}
	s0 := info.Config.Seed
	args := []string{"eval", "--run", run, "--train", "fashion-mnist:train", "--test", "fashion-mnist:test", "--max-train", "300", "--max-test", "120",
		"--no-baseline", "--k", "10", "--json", "--quiet"}
	report := func(extra ...string) evalReport {
		out, stderr, err := runArgs(t, append(append([]string(nil), args...), extra...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		var rep evalReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	plain := report()
	rep := report("--random-seeds", "3")
	if len(rep.Results) != 5 || rep.Results[0].Features != "trained" || rep.Results[4].Features != "random_init_mean" {
		t.Fatalf("results %+v", rep.Results)
	}
	var top1 []float64
	for i, r := range rep.Results[1:4] {
		if r.Features != "random_init" || r.InitSeed == nil || *r.InitSeed != s0+uint64(i) {
			t.Fatalf("row %d: %+v, want random init with seed %d", i+1, r, s0+uint64(i))
		}
		top1 = append(top1, r.Top1)
	}
	if got, want := rep.Results[1].Top1, plain.Results[1].Top1; got != want || !slices.Equal(rep.Results[1].PerClass, plain.Results[1].PerClass) {
		t.Errorf("seed %d: top-1 %v, plain random init %v", s0, got, want)
	}
	if slices.Equal(rep.Results[1].PerClass, rep.Results[2].PerClass) && slices.Equal(rep.Results[2].PerClass, rep.Results[3].PerClass) {
		t.Errorf("three seeds give the same per-class accuracies %v", rep.Results[1].PerClass)
	}
	mean, sd, _ := eval.MeanSD(top1)
	if r := rep.Results[4]; math.Abs(r.Top1-mean) > 1e-12 || math.Abs(r.SD-sd) > 1e-12 || !slices.Equal(r.Seeds, []uint64{s0, s0 + 1, s0 + 2}) {
		t.Errorf("mean row %+v, want top-1 %v sd %v", r, mean, sd)
	}
	folds := report("--random-seeds", "2", "--folds", "3")
	if len(folds.Results) != 4 || len(folds.Results[2].FoldTop1) != 3 || folds.Results[3].Features != "random_init_mean" {
		t.Fatalf("folds: %+v", folds.Results)
	}
}
