package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/eval/summary"
	"github.com/sslpipe/sslpipe/npy"
)

func runArgs(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cmdEnv{Stdout: &out, Stderr: &errb}
	var err error
	if args[0] == "eval" { // registered only in cgo builds; call it directly
		err = runEvalCmd(context.Background(), env, args[1:])
	} else {
		err = run(context.Background(), env, args)
	}
	return out.String(), errb.String(), err
}

func needFashionMNIST(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(datasets.FashionMNISTDir(), "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST not installed: %v", err)
	}
}

// TestEvalRawPixelsKNN runs the baseline-only eval on a Fashion-MNIST
// subset and checks the reported numbers against eval.KNN called directly.
func TestEvalRawPixelsKNN(t *testing.T) {
	needFashionMNIST(t)
	out, _, err := runArgs(t, "eval", "--train", "fashion-mnist:train", "--test", "fashion-mnist:test",
		"--max-train", "3000", "--max-test", "500", "--k", "200,20", "--t", "0.1,0.07", "--json", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Train.N != 3000 || rep.Test.N != 500 || len(rep.Results) != 2 || len(rep.Classes) != 10 {
		t.Fatalf("report %+v", rep)
	}
	tr, _ := datasets.Open("fashion-mnist:train")
	te, _ := datasets.Open("fashion-mnist:test")
	tr, te = tr.Subset(evenIndices(tr.Len(), 3000)), te.Subset(evenIndices(te.Len(), 500))
	if c := tr.ClassCounts(); c[0] < 250 || c[9] < 250 {
		t.Errorf("subset is not balanced: %v", c)
	}
	preds, err := eval.KNN(eval.RawPixels(tr.Images), tr.Labels, eval.RawPixels(te.Images), eval.KNNOptions{Settings: []eval.KNNSetting{eval.KNNDefault, eval.KNNDINO}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rep.Results {
		if r.Features != "baseline" || r.Dim != 784 || r.Top1 != eval.Accuracy(preds[i], te.Labels) || len(r.PerClass) != 10 {
			t.Errorf("result %d: %+v, want top-1 %v", i, r, eval.Accuracy(preds[i], te.Labels))
		}
	}
	if rep.Results[0].Setting != "k=200 T=0.1" || rep.Results[1].Setting != "k=20 T=0.07" {
		t.Errorf("settings %q %q", rep.Results[0].Setting, rep.Results[1].Setting)
	}
	// The text report shows the same numbers.
	txt, _, err := runArgs(t, "eval", "--train", "fashion-mnist:train", "--test", "fashion-mnist:test",
		"--max-train", "3000", "--max-test", "500", "--per-class", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%.2f%%", 100*rep.Results[0].Top1)
	if !strings.Contains(txt, "raw pixels") || !strings.Contains(txt, want) || !strings.Contains(txt, "9-ankle-boot") {
		t.Errorf("text report lacks raw pixels / %s / per-class:\n%s", want, txt)
	}
}

// TestEvalFolderLinear exercises labelled folders of PNG files and the
// linear probe: 30 images per class written from Fashion-MNIST.
func TestEvalFolderLinear(t *testing.T) {
	needFashionMNIST(t)
	te, err := datasets.Open("fashion-mnist:test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trainDir, testDir := filepath.Join(dir, "train"), filepath.Join(dir, "test")
	if _, err := datasets.WriteFolder(te.Head(2000), trainDir, 30, datasets.FashionMNISTFolderNames); err != nil {
		t.Fatal(err)
	}
	if _, err := datasets.WriteFolder(te.Subset(seq(5000, 7000)), testDir, 10, datasets.FashionMNISTFolderNames); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runArgs(t, "eval", "--train", trainDir, "--test", testDir, "--probe", "linear", "--raw-size", "28", "--l2", "0.1,0.01", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if rep.Train.N != 300 || rep.Test.N != 100 || r.Setting != "linear" || r.Dim != 28*28 || (r.L2 != 0.1 && r.L2 != 0.01) {
		t.Fatalf("report %+v", rep)
	}
	// Far above chance (10%) even with 30 examples per class.
	if r.Top1 < 0.5 {
		t.Errorf("linear probe top-1 %v", r.Top1)
	}
	if !strings.Contains(stderr, "validation top-1") {
		t.Errorf("no sweep progress on stderr:\n%s", stderr)
	}
}

func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

func TestEvalUsageErrors(t *testing.T) {
	cases := [][]string{
		{"eval"},
		{"eval", "--train", "a", "--test", "b", "--probe", "svm"},
		{"eval", "--train", "a", "--test", "b", "--k", "x"},
		{"eval", "--train", "a", "--test", "b", "--k", "1,2,3", "--t", "0.1,0.2"},
		{"eval", "--train", "a", "--test", "b", "--k", "0"},
		{"eval", "--train", "a", "--test", "b", "--which", "both"},
		{"eval", "--train", "a", "--test", "b", "--summary", "s.json"},
		{"eval", "--train", "a", "--test", "b", "extra"},
	}
	for _, args := range cases {
		if _, _, err := runArgs(t, args...); exitCode(err) != exitUsage {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
	if _, _, err := runArgs(t, "eval", "--train", "/no/such/dir", "--test", "fashion-mnist:test"); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "/no/such/dir") {
		t.Errorf("missing set: %v", err)
	}
}

func TestEvalClassMismatch(t *testing.T) {
	dir := t.TempDir()
	var pngData bytes.Buffer
	if err := png.Encode(&pngData, (&augment.Image{W: 2, H: 2, C: 1, Pix: []uint8{0, 1, 2, 3}}).ToImage()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a/cat/1.png", "a/dog/2.png", "b/cat/3.png", "b/bird/4.png"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), pngData.Bytes(), 0o644)
	}
	_, _, err := runArgs(t, "eval", "--train", filepath.Join(dir, "a"), "--test", filepath.Join(dir, "b"))
	if err == nil || !strings.Contains(err.Error(), "probe-test classes [bird] do not occur in probe-train") {
		t.Errorf("class mismatch: %v", err)
	}
}

func TestUpdateSummaryRow(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(`{"step": 10, "elapsed_s": 12.5}`+"\n"+`{"step": 20, "elapsed_s": 30.25}`+"\n"), 0o644)
	path := filepath.Join(dir, "summary.json")
	o := &evalOptions{Run: dir, Probe: "knn", Modality: "image", Summary: path, TrainSeconds: -1, Quiet: true}
	rep := &evalReport{Results: []probeResult{
		{Features: "trained", Top1: 0.87}, {Features: "trained", Top1: 0.5},
		{Features: "random_init", Top1: 0.8}, {Features: "baseline", Top1: 0.855},
	}}
	if err := updateSummary(&cmdEnv{Stdout: os.Stdout, Stderr: os.Stderr}, o, runInfo{Method: "byol", Device: "cpu"}, rep); err != nil {
		t.Fatal(err)
	}
	f, err := summary.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := summary.Result{Modality: "image", Method: "byol", Probe: "knn", Trained: 0.87, RandomInit: 0.8, Baseline: 0.855, BaselineKind: "raw pixels", TrainSeconds: 30.25, Device: "cpu"}
	if len(f.Results) != 1 || f.Results[0] != want {
		t.Errorf("summary %+v, want %+v", f.Results, want)
	}
}

func TestEvalRunNeedsLibtorchWithoutCgo(t *testing.T) {
	if encoderFeatures != nil {
		t.Skip("cgo build: the encoder path is tested in cmd_eval_test.go")
	}
	_, _, err := runArgs(t, "eval", "--run", "runs/x", "--train", "a", "--test", "b")
	if !errors.Is(err, errNoLibtorch) || exitCode(err) != exitNoLibtorch {
		t.Errorf("err %v, want errNoLibtorch", err)
	}
}

func TestBenchKNN(t *testing.T) {
	out, _, err := runArgs(t, "bench", "knn", "--train", "3000", "--test", "300", "--dim", "64", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r knnBenchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Train != 3000 || r.Test != 300 || r.Dim != 64 || len(r.Settings) != 2 || r.Seconds <= 0 || r.QueriesPerS <= 0 || r.Kernel == "" {
		t.Errorf("result %+v", r)
	}
	if _, _, err := runArgs(t, "bench", "knn", "--data", "imagenet"); exitCode(err) != exitUsage {
		t.Errorf("bad data: %v", err)
	}
}

func TestSummaryCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.json")
	row := summary.Result{Modality: "image", Method: "byol", Probe: "knn", Trained: 0.87, RandomInit: 0.8, Baseline: 0.8459, BaselineKind: "raw pixels", TrainSeconds: 200, Device: "cpu"}
	if _, err := summary.Update(path, row); err != nil {
		t.Fatal(err)
	}
	out, _, err := runArgs(t, "summary", "--markdown", path)
	if err != nil || !strings.Contains(out, "| image | byol | knn | 87.00% | 80.00% | 84.59% | raw pixels | 3.3 min | cpu |") {
		t.Errorf("markdown: %v\n%s", err, out)
	}
	out, _, err = runArgs(t, "summary", path)
	if err != nil || !strings.Contains(out, "84.59%") || strings.Contains(out, "|") {
		t.Errorf("text: %v\n%s", err, out)
	}
	if _, _, err := runArgs(t, "summary"); exitCode(err) != exitUsage {
		t.Errorf("no file: %v", err)
	}
	os.WriteFile(path, []byte("{"), 0o644)
	if _, _, err := runArgs(t, "summary", path); !errors.Is(err, summary.ErrFormat) {
		t.Errorf("bad file: %v", err)
	}
}

// TestEvalPrecomputedFeatures: features of any modality as .npy pairs,
// rows following manifests, with a named baseline and a summary row.
func TestEvalPrecomputedFeatures(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"zero", "one", "two"}
	write := func(name string, n int) (labels []int) {
		var b strings.Builder
		b.WriteString("path,label,voice\n")
		for i := range n {
			labels = append(labels, i%3)
			fmt.Fprintf(&b, "wav/%s_%d.wav,%s,v%d\n", words[i%3], i, words[i%3], i%5)
		}
		os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644)
		return labels
	}
	trY, teY := write("train.csv", 90), write("test.csv", 30)
	// Classes sort as one, two, zero: label index of word w.
	cls := map[int]int{0: 2, 1: 0, 2: 1}
	feats := func(labels []int, sep float64) *eval.Matrix {
		m := eval.NewMatrix(len(labels), 8)
		for i, l := range labels {
			for j := range 8 {
				m.Row(i)[j] = float32(r.NormFloat64())
			}
			m.Row(i)[l] += float32(sep)
		}
		return m
	}
	save := func(name string, m *eval.Matrix) string {
		p := filepath.Join(dir, name)
		if err := npy.WriteFile(p, npy.Float32Matrix(m.Data, m.Rows, m.Cols)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trT, teT := feats(trY, 6), feats(teY, 6)
	pair := func(a, b string) string { return a + "," + b }
	trained := pair(save("tr_t.npy", trT), save("te_t.npy", teT))
	random := pair(save("tr_r.npy", feats(trY, 0)), save("te_r.npy", feats(teY, 0)))
	base := pair(save("tr_b.npy", feats(trY, 1.5)), save("te_b.npy", feats(teY, 1.5)))
	sum := filepath.Join(dir, "summary.json")
	out, _, err := runArgs(t, "eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"),
		"--trained-features", trained, "--random-features", random, "--baseline-features", base, "--baseline-kind", "mean MFCC",
		"--k", "10", "--json", "--quiet", "--summary", sum, "--modality", "audio", "--method", "hubert", "--train-seconds", "5", "--train-device", "cpu")
	if err != nil {
		t.Fatal(err)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 || rep.Results[2].Label != "mean MFCC" || rep.Results[0].Features != "trained" {
		t.Fatalf("report %+v", rep)
	}
	trLab := make([]int, len(trY))
	teLab := make([]int, len(teY))
	for i, l := range trY {
		trLab[i] = cls[l]
	}
	for i, l := range teY {
		teLab[i] = cls[l]
	}
	p, _ := eval.KNN(trT, trLab, teT, eval.KNNOptions{Settings: []eval.KNNSetting{{K: 10, T: 0.1}}})
	if got, want := rep.Results[0].Top1, eval.Accuracy(p[0], teLab); got != want || got < 0.9 {
		t.Errorf("trained top-1 %v, direct kNN %v", got, want)
	}
	f, err := summary.Read(sum)
	if err != nil || len(f.Results) != 1 {
		t.Fatalf("summary: %v %+v", err, f)
	}
	if row := f.Results[0]; row.Modality != "audio" || row.Method != "hubert" || row.BaselineKind != "mean MFCC" || row.Trained != rep.Results[0].Top1 || row.Baseline != rep.Results[2].Top1 || row.TrainSeconds != 5 {
		t.Errorf("summary row %+v", row)
	}
	// Subsets pick the same rows of the features as of the labels.
	out, _, err = runArgs(t, "eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"),
		"--trained-features", trained, "--no-baseline", "--max-train", "45", "--max-test", "10", "--k", "5", "--json", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(out), &rep)
	idxTr, idxTe := evenIndices(90, 45), evenIndices(30, 10)
	p, _ = eval.KNN(trT.SelectRows(idxTr), pickInts(trLab, idxTr), teT.SelectRows(idxTe), eval.KNNOptions{Settings: []eval.KNNSetting{{K: 5, T: 0.1}}})
	if got, want := rep.Results[0].Top1, eval.Accuracy(p[0], pickInts(teLab, idxTe)); len(rep.Results) != 1 || got != want {
		t.Errorf("subset top-1 %v, direct %v", got, want)
	}
	// Row counts must match the labelled sets; the pair needs two files.
	if _, _, err := runArgs(t, "eval", "--train", filepath.Join(dir, "test.csv"), "--test", filepath.Join(dir, "test.csv"), "--trained-features", trained, "--no-baseline"); err == nil || !strings.Contains(err.Error(), "90 rows but the labelled set has 30") {
		t.Errorf("row mismatch: %v", err)
	}
	if _, _, err := runArgs(t, "eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"), "--trained-features", "a.npy"); exitCode(err) != exitUsage {
		t.Errorf("single file: %v", err)
	}
	if _, _, err := runArgs(t, "eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"), "--trained-features", trained, "--no-baseline", "--summary", sum); exitCode(err) != exitUsage {
		t.Errorf("summary without --method: %v", err)
	}
}

// TestEvalStandardize: --standardize standardizes every feature set with
// its probe-train statistics before the kNN probe (the top-1 equals a
// direct kNN on eval.Standardize's output, for the trained and the
// random-init rows alike), and the summary row names the probe.
func TestEvalStandardize(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	write := func(name string, n int) (labels []int) {
		var b strings.Builder
		b.WriteString("path,label\n")
		for i := range n {
			labels = append(labels, i%2)
			fmt.Fprintf(&b, "wav/%d.wav,c%d\n", i, i%2)
		}
		os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644)
		return labels
	}
	trY, teY := write("train.csv", 200), write("test.csv", 100)
	// An anisotropic representation: the class shows in a small-scale
	// column, a large-scale column is noise and a constant one an offset.
	feats := func(labels []int, scale float64) *eval.Matrix {
		m := eval.NewMatrix(len(labels), 3)
		for i, l := range labels {
			m.Row(i)[0] = float32(0.3*float64(2*l-1) + 0.05*r.NormFloat64())
			m.Row(i)[1] = float32(scale * r.NormFloat64())
			m.Row(i)[2] = 50
		}
		return m
	}
	save := func(name string, m *eval.Matrix) string {
		p := filepath.Join(dir, name)
		if err := npy.WriteFile(p, npy.Float32Matrix(m.Data, m.Rows, m.Cols)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trT, teT := feats(trY, 30), feats(teY, 30)
	trR, teR := feats(trY, 3), feats(teY, 3)
	trained := save("tr_t.npy", trT) + "," + save("te_t.npy", teT)
	random := save("tr_r.npy", trR) + "," + save("te_r.npy", teR)
	sum := filepath.Join(dir, "summary.json")
	run := func(extra ...string) evalReport {
		args := append([]string{"eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"),
			"--trained-features", trained, "--random-features", random, "--no-baseline", "--k", "20", "--json", "--quiet"}, extra...)
		return evalJSON(t, args...)
	}
	direct := func(tr, te *eval.Matrix) float64 {
		str, ste, err := eval.Standardize(tr, te)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := eval.KNN(str, trY, ste[0], eval.KNNOptions{Settings: []eval.KNNSetting{{K: 20, T: 0.1}}})
		return eval.Accuracy(p[0], teY)
	}
	plain := run()
	std := run("--standardize", "--summary", sum, "--modality", "audio", "--method", "m")
	if !std.Standardized || plain.Standardized {
		t.Fatalf("standardized flags %v %v", std.Standardized, plain.Standardized)
	}
	if got, want := std.Results[0].Top1, direct(trT, teT); got != want || got < 0.9 || plain.Results[0].Top1 > 0.75 {
		t.Errorf("trained: standardized top-1 %v, direct %v, plain %v", got, want, plain.Results[0].Top1)
	}
	if got, want := std.Results[1].Top1, direct(trR, teR); got != want {
		t.Errorf("random init: standardized top-1 %v, direct %v", got, want)
	}
	f, err := summary.Read(sum)
	if err != nil || len(f.Results) != 1 || f.Results[0].Probe != "knn (standardized)" || f.Results[0].RandomInit != std.Results[1].Top1 {
		t.Fatalf("summary: %v %+v", err, f)
	}
}

// TestEvalFolds: --folds pools --train and --test and probes each of K
// stratified folds on the others; every fold's top-1 equals a direct probe
// of that split (kNN, standardized kNN, linear with its L2 chosen by
// cross-validation inside the training folds), the reported top-1 is
// their mean with its spread, and the summary row names the probe.
func TestEvalFolds(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 8))
	write := func(name string, n int) (labels []int) {
		var b strings.Builder
		b.WriteString("path,label\n")
		for i := range n {
			l := i % 3
			if i%7 == 0 {
				l = 0 // unbalanced
			}
			labels = append(labels, l)
			fmt.Fprintf(&b, "wav/%s_%d.wav,c%d\n", name, i, l)
		}
		os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644)
		return labels
	}
	trY, teY := write("train.csv", 61), write("test.csv", 29)
	all := append(append([]int(nil), trY...), teY...)
	feats := func(labels []int) *eval.Matrix {
		m := eval.NewMatrix(len(labels), 6)
		for i, l := range labels {
			for j := range 6 {
				m.Row(i)[j] = float32(r.NormFloat64() * float64(1+4*j))
			}
			m.Row(i)[l] += 1.2
		}
		return m
	}
	save := func(name string, m *eval.Matrix) string {
		p := filepath.Join(dir, name)
		if err := npy.WriteFile(p, npy.Float32Matrix(m.Data, m.Rows, m.Cols)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trT, teT := feats(trY), feats(teY)
	x := concatRows(trT, teT)
	trained := save("tr.npy", trT) + "," + save("te.npy", teT)
	run := func(extra ...string) evalReport {
		args := append([]string{"eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"),
			"--trained-features", trained, "--no-baseline", "--folds", "4", "--seed", "5", "--json", "--quiet", "--workers", "2"}, extra...)
		return evalJSON(t, args...)
	}
	folds, err := eval.StratifiedFolds(all, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, rep evalReport, direct func(tr, te *eval.Matrix, trL []int) ([]int, float64)) {
		t.Helper()
		if rep.Folds != 4 || rep.Train.N != 90 || len(rep.Results) != 1 {
			t.Fatalf("%s: report %+v", name, rep)
		}
		res := rep.Results[0]
		if len(res.FoldTop1) != 4 {
			t.Fatalf("%s: %d fold results", name, len(res.FoldTop1))
		}
		pooled := make([]int, len(all))
		for k, f := range folds {
			rest := eval.Complement(len(all), f)
			pred, l2 := direct(x.SelectRows(rest), x.SelectRows(f), pickInts(all, rest))
			if want := eval.Accuracy(pred, pickInts(all, f)); res.FoldTop1[k] != want {
				t.Errorf("%s fold %d: top-1 %v, direct %v", name, k, res.FoldTop1[k], want)
			}
			if l2 >= 0 && res.FoldL2[k] != l2 {
				t.Errorf("%s fold %d: L2 %v, direct %v", name, k, res.FoldL2[k], l2)
			}
			for j, i := range f {
				pooled[i] = pred[j]
			}
		}
		mean, sd, se := eval.MeanSD(res.FoldTop1)
		if res.Top1 != mean || res.SD != sd || res.SE != se || sd == 0 {
			t.Errorf("%s: top-1 %v sd %v se %v, want %v %v %v", name, res.Top1, res.SD, res.SE, mean, sd, se)
		}
		if pc, _ := eval.PerClassAccuracy(pooled, all, 3); !slices.Equal(pc, res.PerClass) {
			t.Errorf("%s: per-class %v, pooled direct %v", name, res.PerClass, pc)
		}
	}
	knn := func(tr, te *eval.Matrix, trL []int) ([]int, float64) {
		p, err := eval.KNN(tr, trL, te, eval.KNNOptions{Settings: []eval.KNNSetting{{K: 7, T: 0.1}}, Classes: 3})
		if err != nil {
			t.Fatal(err)
		}
		return p[0], -1
	}
	check("knn", run("--k", "7"), knn)
	check("standardized knn", run("--k", "7", "--standardize"), func(tr, te *eval.Matrix, trL []int) ([]int, float64) {
		str, ste, err := eval.Standardize(tr, te)
		if err != nil {
			t.Fatal(err)
		}
		return knn(str, ste[0], trL)
	})
	linear := func(cv int) func(tr, te *eval.Matrix, trL []int) ([]int, float64) {
		return func(tr, te *eval.Matrix, trL []int) ([]int, float64) {
			res, err := eval.LinearProbe(tr, trL, eval.LinearOptions{Folds: cv, Seed: 5, Classes: 3, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			p, _ := res.Model.Predict(te, 1)
			return p, res.L2
		}
	}
	check("linear", run("--probe", "linear"), linear(4))
	check("linear cv 3", run("--probe", "linear", "--cv-folds", "3"), linear(3))
	check("linear one split", run("--probe", "linear", "--cv-folds", "1"), linear(1))

	// --repeats 3: the partitions of fold seeds 5, 6 and 7 in one call,
	// each equal to its own --seed call; top-1 their mean, sd and se
	// across the partitions' means, per-class top-1 averaged.
	for _, probeArgs := range [][]string{{"--k", "7"}, {"--probe", "linear"}} {
		rep := run(append(probeArgs, "--repeats", "3")...)
		res := rep.Results[0]
		if rep.Repeats != 3 || rep.FoldSeed != 5 || len(res.FoldTop1) != 12 || len(res.RepeatTop1) != 3 {
			t.Fatalf("--repeats 3 %v: %+v", probeArgs, rep)
		}
		var wantFolds, wantL2 []float64
		perClass := make([]float64, 3)
		for r, seed := range []string{"5", "6", "7"} {
			one := run(append(probeArgs, "--seed", seed)...).Results[0]
			wantFolds, wantL2 = append(wantFolds, one.FoldTop1...), append(wantL2, one.FoldL2...)
			if res.RepeatTop1[r] != one.Top1 {
				t.Errorf("--repeats 3 %v: partition %d top-1 %v, --seed %s %v", probeArgs, r, res.RepeatTop1[r], seed, one.Top1)
			}
			for c := range perClass {
				perClass[c] += one.PerClass[c] / 3
			}
		}
		if !slices.Equal(res.FoldTop1, wantFolds) || !slices.Equal(res.FoldL2, wantL2) {
			t.Errorf("--repeats 3 %v: folds %v L2 %v, want %v %v", probeArgs, res.FoldTop1, res.FoldL2, wantFolds, wantL2)
		}
		if mean, sd, se := eval.MeanSD(res.RepeatTop1); res.Top1 != mean || res.SD != sd || res.SE != se {
			t.Errorf("--repeats 3 %v: top-1 %v sd %v se %v, want %v %v %v", probeArgs, res.Top1, res.SD, res.SE, mean, sd, se)
		}
		for c := range perClass {
			if math.Abs(res.PerClass[c]-perClass[c]) > 1e-12 {
				t.Errorf("--repeats 3 %v: per-class %v, want %v", probeArgs, res.PerClass, perClass)
			}
		}
	}

	// Without --folds, --cv-folds picks the L2 on probe-train alone.
	out, _, err := runArgs(t, "eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"),
		"--trained-features", trained, "--no-baseline", "--probe", "linear", "--cv-folds", "3", "--seed", "5", "--workers", "2", "--json", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	var split evalReport
	if err := json.Unmarshal([]byte(out), &split); err != nil {
		t.Fatal(err)
	}
	pred, l2 := linear(3)(trT, teT, trY)
	if r := split.Results[0]; split.Folds != 0 || r.L2 != l2 || r.Top1 != eval.Accuracy(pred, teY) || len(r.FoldTop1) != 0 {
		t.Errorf("--cv-folds 3 without --folds: %+v, direct L2 %v top-1 %v", r, l2, eval.Accuracy(pred, teY))
	}

	sum := filepath.Join(dir, "summary.json")
	rep := run("--k", "7", "--summary", sum, "--modality", "audio", "--method", "m")
	f, err := summary.Read(sum)
	if err != nil || len(f.Results) != 1 || f.Results[0].Probe != "knn (4-fold)" || f.Results[0].Trained != rep.Results[0].Top1 {
		t.Fatalf("summary: %v %+v", err, f)
	}
	out, _, err = runArgs(t, "eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"),
		"--trained-features", trained, "--no-baseline", "--folds", "4", "--k", "7", "--quiet")
	if err != nil || !strings.Contains(out, "90), 4 folds stratified by class (seed 0)") || !strings.Contains(out, "sd") {
		t.Errorf("table: %v\n%s", err, out)
	}
	for _, bad := range [][]string{
		{"--folds", "1"},
		{"--folds", "91"},
		{"--random-seeds", "3"}, // no --run
		{"--repeats", "2"},      // no --folds
	} {
		args := append([]string{"eval", "--train", filepath.Join(dir, "train.csv"), "--test", filepath.Join(dir, "test.csv"), "--trained-features", trained, "--no-baseline", "--quiet"}, bad...)
		if _, _, err := runArgs(t, args...); exitCode(err) != exitUsage {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if _, _, err := runArgs(t, "eval", "--train", filepath.Join(dir, "train.csv"), "--folds", "4", "--trained-features", trained, "--no-baseline"); exitCode(err) != exitUsage {
		t.Errorf("--folds with features and no --test: %v", err)
	}
}

// TestSeedMeans: the random-init mean row averages the seeds' rows per
// setting, with their spread.
func TestSeedMeans(t *testing.T) {
	seed := func(s uint64) *uint64 { return &s }
	rs := []probeResult{
		{Features: "trained", Setting: "linear", Top1: 0.5},
		{Features: "random_init", Setting: "linear", Top1: 0.2, PerClass: []float64{0.1, 0.3}, InitSeed: seed(4)},
		{Features: "random_init", Setting: "linear", Top1: 0.3, PerClass: []float64{0.3, 0.3}, InitSeed: seed(5)},
		{Features: "random_init", Setting: "linear", Top1: 0.4, PerClass: []float64{0.5, 0.3}, InitSeed: seed(6)},
	}
	m := seedMeans(rs)
	if len(m) != 1 || m[0].Features != "random_init_mean" || math.Abs(m[0].Top1-0.3) > 1e-12 || math.Abs(m[0].SD-0.1) > 1e-12 ||
		!slices.Equal(m[0].Seeds, []uint64{4, 5, 6}) || math.Abs(m[0].PerClass[0]-0.3) > 1e-12 {
		t.Errorf("seedMeans = %+v", m)
	}
	if m := seedMeans(rs[:2]); len(m) != 0 {
		t.Errorf("one seed: %+v", m)
	}
}

// evalJSON runs `sslpipe eval ... --json` with args and decodes its report.
func evalJSON(t *testing.T, args ...string) evalReport {
	t.Helper()
	out, _, err := runArgs(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}
