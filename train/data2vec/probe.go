package data2vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train/hubert"
)

// ProbeRow is one feature set's scores (fractions).
type ProbeRow struct {
	Name   string  `json:"name"`
	KNN    float64 `json:"knn"`
	Linear float64 `json:"linear"`
	Dim    int     `json:"dim"`
	// Layer is the layer the features came from (trained and random_init
	// rows; see EmbedOptions.Layer); CV is its 5-fold cross-validated
	// linear accuracy on the probe-train split when the layer was chosen
	// by it (ProbeOptions.SelectLayer).
	Layer int     `json:"layer"`
	CV    float64 `json:"cv,omitempty"`
}

// ProbeReport is the result of a probe: rows "trained", "random_init",
// then the baseline (bag of words, raw pixels or mean MFCC).
type ProbeReport struct {
	Run          string     `json:"run"`
	Modality     string     `json:"modality"`
	Task         string     `json:"task"`
	Train        int        `json:"train_examples"`
	Test         int        `json:"test_examples"`
	Classes      []string   `json:"classes"`
	KNN          string     `json:"knn_setting"`
	Network      string     `json:"network"` // student or teacher
	Layer        int        `json:"layer"`   // 0: encoder output
	Rows         []ProbeRow `json:"rows"`
	BaselineKind string     `json:"baseline_kind"`
	TrainSeconds float64    `json:"train_seconds"`
	Seconds      float64    `json:"seconds"`
}

// ProbeOptions configure Probe.
type ProbeOptions struct {
	// Data is the labelled probe data: text: a fortunes folder (default
	// text.FortunesDir); image: the Fashion-MNIST folder ("": default);
	// audio: a spoken-digit folder with train/ and test/ (sslpipe
	// speechdata's digits/).
	Data string
	// Categories (text) are the fortune files used as classes
	// (default DefaultCategories); PerClass caps the documents of each
	// (default 150); 30% of each class is held out for testing.
	Categories []string
	PerClass   int
	// TrainN and TestN (image) are the numbers of Fashion-MNIST train
	// images (kNN bank and probe training) and test images (default 10000
	// and 2000).
	TrainN, TestN int
	// HuBERT (audio) is a HuBERT run folder (sslpipe hubert train) whose
	// last-layer mean-pooled features, and those of its random
	// initialization, are scored with the same protocol (rows "hubert",
	// "hubert random_init" after the baseline).
	HuBERT string
	Embed  EmbedOptions
	// SelectLayer chooses, for the trained and the random-init network
	// each, the layer (embeddings, each block, the encoder output) with the
	// best 5-fold cross-validated linear accuracy on the probe-train split,
	// and scores that layer on the test split (Embed.Layer is ignored).
	SelectLayer bool
	KNN         eval.KNNSetting // default k=20 T=0.07
	Seed        uint64
}

// DefaultCategories are the fortune files of the text probe.
var DefaultCategories = []string{"art", "computers", "education", "food", "law", "love", "medicine", "politics", "science", "sports"}

type split struct {
	trainX, testX   [][]float32
	trainY, testY   []int
	trainBL, testBL *eval.Matrix // baseline features
}

func toMatrix(rows [][]float32) *eval.Matrix {
	m := eval.NewMatrix(len(rows), len(rows[0]))
	for i, r := range rows {
		copy(m.Row(i), r)
	}
	return m
}

// standardize z-scores columns with the training rows' statistics.
func standardize(tr, te *eval.Matrix) {
	for j := 0; j < tr.Cols; j++ {
		var s, s2 float64
		for i := 0; i < tr.Rows; i++ {
			v := float64(tr.Row(i)[j])
			s += v
			s2 += v * v
		}
		mu := s / float64(tr.Rows)
		sd := math.Sqrt(math.Max(s2/float64(tr.Rows)-mu*mu, 0)) + 1e-6
		for _, m := range []*eval.Matrix{tr, te} {
			for i := 0; i < m.Rows; i++ {
				m.Row(i)[j] = float32((float64(m.Row(i)[j]) - mu) / sd)
			}
		}
	}
}

func scores(tr, te *eval.Matrix, ytr, yte []int, classes int, knn eval.KNNSetting, seed uint64, std bool) (k, l float64, err error) {
	pred, err := eval.KNN(tr, ytr, te, eval.KNNOptions{Settings: []eval.KNNSetting{knn}, Classes: classes})
	if err != nil {
		return 0, 0, err
	}
	k = eval.Accuracy(pred[0], yte)
	if std {
		tr, te = clone(tr), clone(te)
		standardize(tr, te)
	}
	lp, err := eval.LinearProbe(tr, ytr, eval.LinearOptions{Seed: seed, Classes: classes})
	if err != nil {
		return 0, 0, err
	}
	lpred, err := lp.Model.Predict(te, 0)
	if err != nil {
		return 0, 0, err
	}
	return k, eval.Accuracy(lpred, yte), nil
}

// Probe scores a trained run on its modality's labelled task with kNN
// and a linear probe on mean-pooled features, against the same model at
// its random initialization and a baseline without learning: text:
// fortune categories vs tf-idf bag of words; image: Fashion-MNIST vs raw
// pixels; audio: spoken digits with held-out voices vs mean MFCC.
func Probe(run string, o ProbeOptions) (*ProbeReport, error) {
	start := time.Now()
	if o.KNN.K == 0 {
		o.KNN = eval.KNNDINO
	}
	cfg, err := LoadConfig(filepath.Join(run, "config.yaml"))
	if err != nil {
		return nil, err
	}
	if o.Seed == 0 {
		o.Seed = cfg.Seed
	}
	rep := &ProbeReport{Run: run, Modality: cfg.Modality, KNN: o.KNN.String(), Network: "student", Layer: o.Embed.Layer}
	if o.Embed.Teacher {
		rep.Network = "teacher"
	}
	if met, err := lastMetrics(run); err == nil {
		rep.TrainSeconds = met.ElapsedSec
	}
	var embed func(m *Model, tok *text.Tokenizer, eo EmbedOptions) (tr, te [][]float32, err error)
	var wavesTr, wavesTe [][]float32
	var ytr, yte []int
	var btr, bte *eval.Matrix
	switch cfg.Modality {
	case "text":
		dir := o.Data
		if dir == "" {
			dir = text.FortunesDir
		}
		docs, err := text.ReadFortunes(dir)
		if err != nil {
			return nil, err
		}
		cats := o.Categories
		if len(cats) == 0 {
			cats = DefaultCategories
		}
		per := o.PerClass
		if per <= 0 {
			per = 150
		}
		var trT, teT []string
		for c, name := range cats {
			var d []string
			for _, doc := range docs {
				if doc.Category == name {
					d = append(d, doc.Text)
				}
			}
			if len(d) < 10 {
				return nil, fmt.Errorf("data2vec: probe: %s: category %q has %d fortunes", dir, name, len(d))
			}
			r := rand.New(rand.NewPCG(o.Seed, uint64(c)))
			r.Shuffle(len(d), func(i, j int) { d[i], d[j] = d[j], d[i] })
			d = d[:min(per, len(d))]
			nt := int(0.7 * float64(len(d)))
			for i, s := range d {
				if i < nt {
					trT, ytr = append(trT, s), append(ytr, c)
				} else {
					teT, yte = append(teT, s), append(yte, c)
				}
			}
		}
		rep.Task, rep.Classes, rep.BaselineKind = "fortune categories ("+dir+"), 70/30 split per category", cats, "bag of words (tf-idf)"
		words := func(ts []string) [][]string {
			var out [][]string
			for _, s := range ts {
				out = append(out, eval.Words(s))
			}
			return out
		}
		v := eval.FitTFIDF(words(trT), eval.TFIDFOptions{MinDF: 2})
		btr, bte = v.Transform(words(trT)), v.Transform(words(teT))
		embed = func(m *Model, tok *text.Tokenizer, eo EmbedOptions) ([][]float32, [][]float32, error) {
			a, err := EmbedTexts(m, tok, trT, eo)
			if err != nil {
				return nil, nil, err
			}
			b, err := EmbedTexts(m, tok, teT, eo)
			return a, b, err
		}
	case "image":
		trS, err := datasets.FashionMNIST(o.Data, "train")
		if err != nil {
			return nil, err
		}
		teS, err := datasets.FashionMNIST(o.Data, "test")
		if err != nil {
			return nil, err
		}
		ntr, nte := o.TrainN, o.TestN
		if ntr <= 0 {
			ntr = 10000
		}
		if nte <= 0 {
			nte = 2000
		}
		cut := func(s *datasets.Set, n int) *datasets.Images {
			n = min(n, s.Images.N)
			im := *s.Images
			im.N, im.Pix = n, im.Pix[:n*im.H*im.W*im.C]
			return &im
		}
		imTr, imTe := cut(trS, ntr), cut(teS, nte)
		ytr, yte = trS.Labels[:imTr.N], teS.Labels[:imTe.N]
		rep.Task, rep.Classes, rep.BaselineKind = fmt.Sprintf("Fashion-MNIST: first %d train images (kNN bank, probe fit), first %d test images", imTr.N, imTe.N), trS.Classes, "raw pixels"
		btr, bte = eval.RawPixels(imTr), eval.RawPixels(imTe)
		if imTr.H != cfg.Model.ImageSize {
			return nil, fmt.Errorf("data2vec: probe: model image size %d, Fashion-MNIST is 28", cfg.Model.ImageSize)
		}
		embed = func(m *Model, _ *text.Tokenizer, eo EmbedOptions) ([][]float32, [][]float32, error) {
			a, err := EmbedImages(m, imTr, eo)
			if err != nil {
				return nil, nil, err
			}
			b, err := EmbedImages(m, imTe, eo)
			return a, b, err
		}
	default:
		trS, err := datasets.Folder(filepath.Join(o.Data, "train"), ".wav")
		if err != nil {
			return nil, err
		}
		teS, err := datasets.Folder(filepath.Join(o.Data, "test"), ".wav")
		if err != nil {
			return nil, err
		}
		if strings.Join(trS.Classes, ",") != strings.Join(teS.Classes, ",") {
			return nil, fmt.Errorf("data2vec: probe: %s/train has classes %v, test has %v", o.Data, trS.Classes, teS.Classes)
		}
		load := func(s *datasets.Set) ([][]float32, error) {
			var out [][]float32
			for _, k := range s.Keys {
				w, err := LoadWave(k, cfg.Model.CNN.ReceptiveField())
				if err != nil {
					return nil, err
				}
				out = append(out, w)
			}
			return out, nil
		}
		wtr, err := load(trS)
		if err != nil {
			return nil, err
		}
		wte, err := load(teS)
		if err != nil {
			return nil, err
		}
		ytr, yte = trS.Labels, teS.Labels
		wavesTr, wavesTe = wtr, wte
		rep.Task, rep.Classes, rep.BaselineKind = "spoken digits ("+o.Data+"), test voices held out", trS.Classes, "mean MFCC"
		if btr, err = eval.MeanMFCC(wtr, eval.MeanMFCCOptions{}); err != nil {
			return nil, err
		}
		if bte, err = eval.MeanMFCC(wte, eval.MeanMFCCOptions{}); err != nil {
			return nil, err
		}
		embed = func(m *Model, _ *text.Tokenizer, eo EmbedOptions) ([][]float32, [][]float32, error) {
			a, err := EmbedWaves(m, wtr, 0, eo)
			if err != nil {
				return nil, nil, err
			}
			b, err := EmbedWaves(m, wte, 0, eo)
			return a, b, err
		}
	}
	rep.Train, rep.Test = len(ytr), len(yte)
	nc := len(rep.Classes)
	layers := []int{o.Embed.Layer}
	if o.SelectLayer {
		rep.Layer = LayerSelected
		layers = []int{-1}
		for l := 1; l < cfg.Model.Encoder.Layers; l++ {
			layers = append(layers, l)
		}
		layers = append(layers, 0)
	}
	for _, random := range []bool{false, true} {
		m, _, tok, err := OpenRun(run, gotch.CPU, random)
		if err != nil {
			return nil, err
		}
		name := "trained"
		if random {
			name = "random_init"
		}
		best := ProbeRow{Name: name, CV: -1}
		var bestA, bestB [][]float32
		for _, layer := range layers {
			eo := o.Embed
			eo.Layer = layer
			a, b, err := embed(m, tok, eo)
			if err != nil {
				m.Free()
				return nil, err
			}
			if len(layers) == 1 {
				best, bestA, bestB = ProbeRow{Name: name, Layer: layer}, a, b
				break
			}
			cv, err := crossValidate(toMatrix(a), ytr, nc, o.Seed)
			if err != nil {
				m.Free()
				return nil, err
			}
			if cv > best.CV {
				best, bestA, bestB = ProbeRow{Name: name, Layer: layer, CV: cv}, a, b
			}
		}
		m.Free()
		k, l, err := scores(toMatrix(bestA), toMatrix(bestB), ytr, yte, nc, o.KNN, o.Seed, true)
		if err != nil {
			return nil, err
		}
		best.KNN, best.Linear, best.Dim = k, l, len(bestA[0])
		rep.Rows = append(rep.Rows, best)
	}
	k, l, err := scores(btr, bte, ytr, yte, nc, o.KNN, o.Seed, false)
	if err != nil {
		return nil, err
	}
	rep.Rows = append(rep.Rows, ProbeRow{Name: rep.BaselineKind, KNN: k, Linear: l, Dim: btr.Cols})
	if cfg.Modality == "audio" && o.HuBERT != "" {
		rows, err := hubertRows(o.HuBERT, wavesTr, wavesTe, ytr, yte, nc, o)
		if err != nil {
			return nil, err
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// LayerSelected is ProbeReport.Layer when each network's layer was chosen
// by cross-validation (the rows name their layers).
const LayerSelected = -1000

// crossValidate is the mean linear-probe accuracy over 5 folds of x
// (example i in fold i mod 5; the probe splits list examples class by
// class, so every fold holds every class), standardized on each training
// part.
func crossValidate(x *eval.Matrix, y []int, classes int, seed uint64) (float64, error) {
	const folds = 5
	var sum float64
	for f := 0; f < folds; f++ {
		var trI, teI []int
		for i := range y {
			if i%folds == f {
				teI = append(teI, i)
			} else {
				trI = append(trI, i)
			}
		}
		pick := func(idx []int) (*eval.Matrix, []int) {
			m := &eval.Matrix{Rows: len(idx), Cols: x.Cols, Data: make([]float32, 0, len(idx)*x.Cols)}
			ys := make([]int, len(idx))
			for k, i := range idx {
				m.Data = append(m.Data, x.Row(i)...)
				ys[k] = y[i]
			}
			return m, ys
		}
		a, ya := pick(trI)
		b, yb := pick(teI)
		standardize(a, b)
		lp, err := eval.LinearProbe(a, ya, eval.LinearOptions{Seed: seed, Classes: classes})
		if err != nil {
			return 0, err
		}
		pred, err := lp.Model.Predict(b, 0)
		if err != nil {
			return 0, err
		}
		sum += eval.Accuracy(pred, yb)
	}
	return sum / folds, nil
}

// lastMetrics reads the last line of run's metrics.jsonl.
func lastMetrics(run string) (*Metrics, error) {
	data, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var m Metrics
	if err := jsonUnmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		return nil, fmt.Errorf("data2vec: %s/metrics.jsonl: %w", run, err)
	}
	return &m, nil
}

func clone(m *eval.Matrix) *eval.Matrix {
	c := eval.NewMatrix(m.Rows, m.Cols)
	copy(c.Data, m.Data)
	return c
}

// hubertRows scores a HuBERT run's last-layer features and its random
// initialization with Probe's protocol.
func hubertRows(run string, wtr, wte [][]float32, ytr, yte []int, nc int, o ProbeOptions) ([]ProbeRow, error) {
	m, cfg, err := hubert.OpenRun(run, gotch.CPU)
	if err != nil {
		return nil, err
	}
	defer m.Free()
	rnd, err := hubert.NewModel(cfg.Model, cfg.Seed, gotch.CPU)
	if err != nil {
		return nil, err
	}
	defer rnd.Free()
	layer := cfg.Model.Encoder.Layers
	var rows []ProbeRow
	for _, e := range []struct {
		name string
		m    *hubert.Model
	}{{"hubert", m}, {"hubert random_init", rnd}} {
		a, err := hubert.Embed(e.m, wtr, layer, 0)
		if err != nil {
			return nil, err
		}
		b, err := hubert.Embed(e.m, wte, layer, 0)
		if err != nil {
			return nil, err
		}
		k, l, err := scores(toMatrix(a), toMatrix(b), ytr, yte, nc, o.KNN, o.Seed, true)
		if err != nil {
			return nil, err
		}
		rows = append(rows, ProbeRow{Name: e.name, KNN: k, Linear: l, Dim: len(a[0])})
	}
	return rows, nil
}
