package data2vec

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/train"
	tr "github.com/sslpipe/sslpipe/train/transformer"
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

func init() { _ = train.DeviceName; _ = tr.Free }
