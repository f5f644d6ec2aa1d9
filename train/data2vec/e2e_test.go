package data2vec

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/eval"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// tiny shrinks a preset to a test-sized model.
func tiny(t *testing.T, modality string) Config {
	t.Helper()
	c, err := Preset(modality, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Model.Encoder = encoder(32, 2, 4, c.Model.Encoder.LayerNormFirst, c.Model.Encoder.PosConvKernel)
	if c.Model.Encoder.PosConvKernel > 0 {
		c.Model.Encoder.PosConvKernel, c.Model.Encoder.PosConvGroups = 8, 4
	}
	c.Model.TopK = 2
	c.Device, c.Threads, c.Dir = "cpu", 1, t.TempDir()
	c.Steps, c.LogEvery, c.Batch = 60, 10, 8
	c.Optim.LR, c.Optim.WarmupSteps = 1e-3, 10
	c.EMA = EMAConfig{0.99, 0.999, 60}
	c.Collapse.After = 10
	return c
}

// checkRun asserts that the loss fell and the targets did not collapse.
func checkRun(t *testing.T, c Config) *Result {
	t.Helper()
	res, err := Train(context.Background(), c, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, last := res.First, res.Final
	t.Logf("%s: loss %.4f -> %.4f, target_var %.3f -> %.3f (min in last window %.3f), pred_var %.3f, %.0f ms/step",
		c.Modality, first.Loss, last.Loss, first.TargetVar, last.TargetVar, last.MinTargetVar, last.PredVar, last.StepMS)
	if !(last.Loss < 0.8*first.Loss) {
		t.Errorf("loss did not fall: %v -> %v", first.Loss, last.Loss)
	}
	for _, m := range res.Curve {
		if m.MinTargetVar < c.Collapse.MinTargetVar || m.NaNSkipped > 0 {
			t.Errorf("step %d: target variance %v below %v (or %d NaN steps)", m.Step, m.MinTargetVar, c.Collapse.MinTargetVar, m.NaNSkipped)
		}
	}
	if last.CollapseWarnings != 0 {
		t.Errorf("%d collapse warnings", last.CollapseWarnings)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "model.safetensors")); err != nil {
		t.Error(err)
	}
	return res
}

func TestTrainText(t *testing.T) {
	if _, err := os.Stat("/usr/share/games/fortunes"); err != nil {
		t.Skip("fortunes not installed")
	}
	c := tiny(t, "text")
	c.Limit, c.Model.Vocab, c.Model.SeqLen = 400, 300, 32
	checkRun(t, c)
	// The run reopens and embeds.
	m, _, tok, err := OpenRun(c.Dir, tokCPU(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	f, err := EmbedTexts(m, tok, []string{"a fortune", "another fortune cookie", "x"}, EmbedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 3 || len(f[0]) != 32 {
		t.Fatalf("embeddings %d x %d", len(f), len(f[0]))
	}
	// Layer -1: the token embeddings before the encoder, another vector.
	g, err := EmbedTexts(m, tok, []string{"a fortune"}, EmbedOptions{Layer: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 1 || len(g[0]) != 32 || slices.Equal(g[0], f[0]) {
		t.Fatalf("layer -1 embedding %v vs encoder output %v", g, f[0])
	}
	checkWindows(t, m, tok)
}

// A text longer than SeqLen is pooled over all its tokens: the token-count
// weighted mean of its windows' means; Cut keeps the first window only.
func checkWindows(t *testing.T, m *Model, tok *text.Tokenizer) {
	t.Helper()
	// m.pooled switches autograd off and back on: it must stay on one OS
	// thread, or the switch leaks to another test's thread.
	defer op.LockThread()()
	S := m.Cfg.SeqLen
	long := strings.Repeat("the quick brown fox jumps over a lazy dog and ", 12)
	ids := tok.Encode(long, true).IDs
	if len(ids) <= 2*S {
		t.Fatalf("test text has %d tokens, want more than %d", len(ids), 2*S)
	}
	for _, layer := range []int{0, -1} {
		o := EmbedOptions{Layer: layer}
		whole, err := EmbedTexts(m, tok, []string{long}, o)
		if err != nil {
			t.Fatal(err)
		}
		o.Cut = true
		cut, err := EmbedTexts(m, tok, []string{long}, o)
		if err != nil {
			t.Fatal(err)
		}
		// Reference: each window through pooled() by hand.
		want := make([]float64, len(whole[0]))
		for s := 0; s < len(ids); s += S {
			w := ids[s:min(s+S, len(ids))]
			b := &Batch{B: 1, T: len(w)}
			for _, v := range w {
				b.IDs = append(b.IDs, int64(v))
			}
			f, err := m.pooled(b, EmbedOptions{Layer: layer})
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range f[0] {
				want[j] += float64(v) * float64(len(w)) / float64(len(ids))
			}
		}
		for j := range want {
			if d := math.Abs(want[j] - float64(whole[0][j])); d > 1e-5 {
				t.Fatalf("layer %d dim %d: whole-text feature %v, windows' weighted mean %v", layer, j, whole[0][j], want[j])
			}
		}
		if slices.Equal(whole[0], cut[0]) {
			t.Fatalf("layer %d: cut and whole-text features are equal", layer)
		}
	}
}

// crossValidate separates separable classes and sits near chance on
// shuffled labels.
func TestCrossValidate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, d, classes = 300, 8, 3
	x := &eval.Matrix{Rows: n, Cols: d, Data: make([]float32, n*d)}
	y := make([]int, n)
	for i := range y {
		y[i] = i * classes / n // class blocks, as the probe split lists them
		for j := 0; j < d; j++ {
			x.Data[i*d+j] = float32(r.NormFloat64())
		}
		x.Data[i*d+y[i]] += 4
	}
	acc, err := crossValidate(x, y, classes, 1)
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.9 {
		t.Errorf("separable classes: CV accuracy %v", acc)
	}
	shuffled := slices.Clone(y)
	r.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if acc, err = crossValidate(x, shuffled, classes, 1); err != nil {
		t.Fatal(err)
	}
	if acc > 0.5 {
		t.Errorf("shuffled labels: CV accuracy %v, want near 1/3", acc)
	}
}

func TestTrainImage(t *testing.T) {
	if _, err := datasets.FashionMNIST("", "train"); err != nil {
		t.Skip(err)
	}
	c := tiny(t, "image")
	c.Limit = 512
	checkRun(t, c)
}

// synthWaves are harmonic tones with a random pitch glide and noise:
// structured audio with no external files.
func synthWaves(n, samples int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float32, n)
	for i := range out {
		f0 := 100 + 200*r.Float64()
		glide := (r.Float64() - 0.5) * 100
		w := make([]float32, samples)
		ph := 0.0
		for j := range w {
			f := f0 + glide*float64(j)/float64(samples)
			ph += 2 * math.Pi * f / SampleRate
			v := 0.0
			for h := 1; h <= 4; h++ {
				v += math.Sin(float64(h)*ph) / float64(h)
			}
			w[j] = float32(0.2*v + 0.01*r.NormFloat64())
		}
		out[i] = w
	}
	return out
}

func TestTrainAudio(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	for i, w := range synthWaves(24, 8000, 3) {
		if err := writeWAV(filepath.Join(dir, "train", fmtIndex(i)+".wav"), w); err != nil {
			t.Fatal(err)
		}
	}
	c := tiny(t, "audio")
	c.Data = dir
	c.Model.CNN.Channels = []int64{16, 16, 16, 16, 16, 16, 16}
	c.Model.MaxSamples = 8000
	checkRun(t, c)
}

func init() { _ = train.DeviceName; _ = op.Free }
