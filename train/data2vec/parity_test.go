package data2vec

import (
	"math"
	"os"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// parityConfig is the toy model of testdata/make_parity.py.
func parityConfig() ModelConfig {
	return ModelConfig{
		Encoder: tr.Config{Dim: 32, Layers: 3, Heads: 4, FFN: 64},
		Vocab:   40, SeqLen: 16,
		Mask:       MaskConfig{Kind: "span", Prob: 0.35, Length: 4},
		TopK:       2,
		TargetNorm: "layer", HeadLayers: 2, LossBeta: 4,
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
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// parityModel loads the script's initial weights and batch.
func parityModel(t *testing.T, cfg ModelConfig) (*Model, *Batch, map[string]train.STensor) {
	t.Helper()
	init := readST(t, "testdata/parity_init.safetensors")
	gold := readST(t, "testdata/parity_golden.safetensors")
	m, err := NewModel("text", cfg, 1, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Params.Load("parity_init.safetensors", init, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Teacher.Load("parity_init.safetensors", init, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(m.Params.List()) + len(m.Teacher.List()); n != len(init) {
		t.Fatalf("PyTorch has %d tensors, student + teacher %d", len(init), n)
	}
	b := &Batch{B: 2, T: 12, IDs: gold["ids"].I64, Input: gold["input"].I64, Train: true}
	for _, v := range gold["mask"].I64 {
		b.Mask = append(b.Mask, v != 0)
	}
	return m, b, gold
}

// TestParityTargets checks target construction (top-K feed-forward outputs
// before the last residual, layer or instance norm per block, averaged)
// against PyTorch with torchaudio's encoder blocks.
func TestParityTargets(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	for _, norm := range []string{"layer", "instance"} {
		cfg := parityConfig()
		cfg.TargetNorm = norm
		m, b, gold := parityModel(t, cfg)
		var got []float32
		err := func() (err error) {
			defer op.Catch(&err)
			var tp op.Tape
			defer tp.Drop()
			_, xt := m.features(&tp, b)
			got = op.ToFloat32(m.Targets(&tp, xt))
			return nil
		}()
		m.Free()
		if err != nil {
			t.Fatal(err)
		}
		d := maxAbsDiff(got, gold["targets_"+norm].F32)
		t.Logf("%s-normalized targets: max |y - y_torch| = %.2e", norm, d)
		if d > 1e-5 {
			t.Errorf("%s targets differ by %v", norm, d)
		}
	}
}

// TestParityStep checks the loss, the variances, one clipped AdamW update
// and one EMA update against PyTorch.
func TestParityStep(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	m, b, gold := parityModel(t, parityConfig())
	defer m.Free()
	opt, err := NewOptimizer(m, OptimConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, ClipGradNorm: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	r, err := opt.Step(b, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(a float64, b float32) float64 { return math.Abs(a-float64(b)) / math.Abs(float64(b)) }
	for _, c := range []struct {
		name string
		got  float64
	}{{"loss", r.Loss}, {"target_var", r.TargetVar}, {"pred_var", r.PredVar}, {"grad_norm", r.GradNorm}} {
		want := gold[c.name].F32[0]
		t.Logf("%s: %.7f PyTorch %.7f (rel %.1e)", c.name, c.got, want, rel(c.got, want))
		if rel(c.got, want) > 1e-5 {
			t.Errorf("%s %v, PyTorch %v", c.name, c.got, want)
		}
	}
	if r.Masked != 15 {
		t.Errorf("%d masked positions, want 15", r.Masked)
	}
	if err := m.UpdateTeacher(0.9); err != nil {
		t.Fatal(err)
	}
	for _, set := range []struct {
		p      *tr.Params
		prefix string
	}{{m.Params, "after."}, {m.Teacher, "ema."}} {
		ts, err := set.p.Tensors("")
		if err != nil {
			t.Fatal(err)
		}
		worst, wname := 0.0, ""
		for name, got := range ts {
			want, ok := gold[set.prefix+name]
			if !ok {
				t.Fatalf("golden lacks %s%s", set.prefix, name)
			}
			if d := maxAbsDiff(got.F32, want.F32); d > worst {
				worst, wname = d, name
			}
		}
		t.Logf("%s: max |w - w_torch| = %.2e (%s)", set.prefix, worst, wname)
		if worst > 1e-5 {
			t.Errorf("%s weights differ by %v at %s", set.prefix, worst, wname)
		}
	}
}
