package hubert

import (
	"math"
	"os"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// toyConfig is the model of testdata/make_parity.py.
func toyConfig() ModelConfig {
	return ModelConfig{
		CNN:      wavenc.Config{Channels: []int64{16, 16, 16}, Kernels: []int64{10, 3, 2}, Strides: []int64{5, 2, 2}, Mode: "group_norm"},
		Encoder:  tr.Config{Dim: 32, Layers: 2, Heads: 4, FFN: 64, PosConvKernel: 8, PosConvGroups: 4},
		FinalDim: 16, NumClasses: 10, LogitTemp: 0.1, FeaturePenalty: 10, CNNGradScale: 0.1,
		Mask: audio.MaskConfig{Prob: 0.8, Length: 10},
	}
}

func readST(t *testing.T, path string) map[string]train.STensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := train.ParseSafetensors(data)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// TestParityTorchaudio checks the HuBERT loss, the feature penalty, the
// gradients and one AdamW update of a toy model against torchaudio 0.13's
// HuBERTPretrainModel (goldens from testdata/make_parity.py, same initial
// weights, inputs and mask).
func TestParityTorchaudio(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	init := readST(t, "testdata/parity_init.safetensors")
	gold := readST(t, "testdata/parity_golden.safetensors")
	m, err := NewModel(toyConfig(), 1, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := m.Params.Load("parity_init.safetensors", init, ""); err != nil {
		t.Fatal(err)
	}
	// Every torchaudio tensor is a model parameter and vice versa.
	if len(init) != len(m.Params.List()) {
		t.Fatalf("torchaudio has %d tensors, model %d", len(init), len(m.Params.List()))
	}
	b := &Batch{B: 2, L: 1600, Wave: gold["waves"].F32}
	for _, v := range gold["labels"].I64 {
		b.Labels = append(b.Labels, v)
	}
	for _, v := range gold["mask"].I64 {
		b.Mask = append(b.Mask, v != 0)
	}
	if T := m.T(b.L); T != 79 {
		t.Fatalf("frames %d, want 79", T)
	}
	opt, err := NewOptimizer(m, train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	losses := gold["losses"].F32
	pens := gold["pens"].F32
	for step := 0; step < 2; step++ {
		r, err := opt.Step(b, 1e-3, nil)
		if err != nil {
			t.Fatal(err)
		}
		rel := math.Abs(r.Loss-float64(losses[step])) / math.Abs(float64(losses[step]))
		t.Logf("step %d: loss %.7f torchaudio %.7f (rel %.2e); pen %.7f torchaudio %.7f; acc_m %.4f torchaudio %.4f",
			step, r.Loss, losses[step], rel, r.FeatPen, pens[step], r.AccM(), gold["acc_m"].F32[step])
		if rel > 1e-5 {
			t.Errorf("step %d: loss %v, torchaudio %v", step, r.Loss, losses[step])
		}
		if d := math.Abs(r.FeatPen - float64(pens[step])); d > 1e-5*float64(pens[step]) {
			t.Errorf("step %d: feature penalty %v, torchaudio %v", step, r.FeatPen, pens[step])
		}
		if step == 0 {
			after, err := m.Params.Tensors("")
			if err != nil {
				t.Fatal(err)
			}
			worst, wname := 0.0, ""
			for name, got := range after {
				want, ok := gold["after1."+name]
				if !ok {
					t.Fatalf("golden lacks %s", name)
				}
				if d := maxAbsDiff(got.F32, want.F32); d > worst {
					worst, wname = d, name
				}
			}
			t.Logf("after one AdamW update: max |w - w_torch| = %.2e (%s)", worst, wname)
			if worst > 1e-5 {
				t.Errorf("weights after one update differ by %v at %s", worst, wname)
			}
		}
	}
}
