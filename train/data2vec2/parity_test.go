package data2vec2

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// parityTol is the relative tolerance of every parity comparison.
const parityTol = 1e-4

// parityConfig is the toy model of testdata/make_parity.py for mod.
func parityConfig(mod string) ModelConfig {
	c := ModelConfig{
		Encoder:    tr.Config{Dim: 32, Layers: 3, Heads: 4, FFN: 64},
		CloneBatch: 2, TopK: 2, TargetNorm: "instance",
	}
	switch mod {
	case "text":
		c.Text = TextConfig{Vocab: 40, SeqLen: 16, Mask: MaskConfig{Kind: "random", Prob: 0.48},
			Decoder: DecoderConfig{Dim: 24, Kernel: 4, Groups: 1, Layers: 2, ProjLayers: 2, ProjRatio: 2}}
		c.LossScale = 1
	case "image":
		c.Image = ImageConfig{ImageSize: 16, Patch: 4, Channels: 2, Normalize: augment.Normalize{Mean: []float64{0, 0}, Std: []float64{1, 1}}, ClsLoss: 0.5,
			Mask:    MaskConfig{Kind: "block", Prob: 0.8, Length: 3, ProbAdjust: 0.07, Inverse: true},
			Decoder: DecoderConfig{Dim: 32, Kernel: 3, Groups: 4, Layers: 2, Residual: true, ProjLayers: 1}}
		c.FinalLayerNorm = true
	case "audio":
		c.Audio = AudioConfig{CNN: wavenc.Config{Channels: []int64{16, 16, 16}, Kernels: []int64{10, 3, 3}, Strides: []int64{5, 2, 2}, Mode: "layer_norm"},
			MaxSamples: 400, PosConv: PosConvConfig{Depth: 2, Kernel: 4, Groups: 4},
			Mask:    MaskConfig{Kind: "span", Prob: 0.5, Length: 5, MinMasks: 1},
			Decoder: DecoderConfig{Dim: 16, Kernel: 3, Groups: 4, Layers: 2, Residual: true, ProjLayers: 1}}
	}
	return c
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

// relDiff is max |a - b| over max |b|.
func relDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// parityModel loads the script's weights and batch for mod.
func parityModel(t *testing.T, mod string) (*Model, *Batch, map[string]train.STensor) {
	t.Helper()
	init := readST(t, "testdata/parity_"+mod+"_init.safetensors")
	gold := readST(t, "testdata/parity_"+mod+"_golden.safetensors")
	m, err := NewModel(mod, parityConfig(mod), 1, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	for _, p := range []*nn.Params{m.Params, m.Teacher} {
		if err := p.Load("parity_"+mod+"_init.safetensors", init, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(m.Params.List()) + len(m.Teacher.List()); n != len(init) {
		t.Fatalf("PyTorch has %d tensors, student + teacher %d", len(init), n)
	}
	ms := gold["mask"]
	b := &Batch{B: 2, Clones: 2, T: int(ms.Shape[1]), Train: true}
	for _, v := range ms.I64 {
		b.Mask = append(b.Mask, v != 0)
	}
	switch mod {
	case "text":
		b.IDs = gold["ids"].I64
	case "image":
		b.Patches = gold["patches"].F32
	case "audio":
		b.Wave, b.L = gold["wave"].F32, int(gold["wave"].Shape[1])
	}
	return m, b, gold
}

// TestParityTargets checks the teacher's targets (top-K feed-forward
// outputs, instance norm, average, image: final layer norm and CLS
// removed), the masked predictions, the loss parts and the gradients of
// every student parameter against PyTorch.
func TestParityTargets(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	for _, mod := range Modalities {
		t.Run(mod, func(t *testing.T) {
			defer op.LockThread()()
			m, b, gold := parityModel(t, mod)
			var tp op.Tape
			defer tp.Drop()
			var err error
			func() {
				defer op.Catch(&err)
				y := op.ToFloat32(m.Targets(&tp, b))
				check(t, mod+" targets (Targets)", relDiff(y, gold["targets"].F32))
				out := m.Loss(&tp, b)
				check(t, mod+" targets (Loss)", relDiff(op.ToFloat32(out.Targets), gold["targets"].F32))
				check(t, mod+" masked predictions", relDiff(op.ToFloat32(out.Pred), gold["pred"].F32))
				check(t, mod+" masked targets", relDiff(op.ToFloat32(out.Target), gold["tgt"].F32))
				for _, c := range []struct {
					name string
					x    op.Tensor
				}{{"loss", out.Loss}, {"reg", out.Reg}, {"cls", out.Cls}} {
					got := float32(0)
					if c.x != nil {
						got = float32(op.Scalar(c.x))
					}
					check(t, mod+" "+c.name, relDiff([]float32{got}, gold[c.name].F32))
				}
				op.Backward(out.Loss)
				// The key projections' bias gradients are zero in exact
				// arithmetic (softmax ignores a shift shared by a query's
				// logits): both sides must be rounding noise, below 1e-6 of
				// the largest gradient.
				var top float64
				for _, p := range m.Params.List() {
					for _, v := range gold["grad."+p.Name].F32 {
						top = math.Max(top, math.Abs(float64(v)))
					}
				}
				worst, wname := 0.0, ""
				for _, p := range m.Params.List() {
					g := tp.Grad(p.T)
					want, ok := gold["grad."+p.Name]
					if !ok || g == nil {
						t.Fatalf("%s: gradient of %s: golden %v, Go %v", mod, p.Name, ok, g != nil)
					}
					got := op.ToFloat32(g)
					if strings.HasSuffix(p.Name, "attention.k_proj.bias") {
						zero := make([]float32, len(got))
						if a, b := relDiff(got, zero), relDiff(want.F32, zero); a > 1e-6*top || b > 1e-6*top {
							t.Errorf("%s: %s gradient %.2g (PyTorch %.2g), want rounding noise", mod, p.Name, a, b)
						}
						continue
					}
					if d := relDiff(got, want.F32); d > worst {
						worst, wname = d, p.Name
					}
				}
				check(t, mod+" gradients (worst: "+wname+")", worst)
			}()
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func check(t *testing.T, what string, rel float64) {
	t.Helper()
	t.Logf("%s: relative difference %.2e", what, rel)
	if !(rel <= parityTol) {
		t.Errorf("%s differs from PyTorch: relative %.3g > %g", what, rel, parityTol)
	}
}

// TestParityStep checks the step's figures, one clipped AdamW update and
// one EMA update against PyTorch.
func TestParityStep(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	for _, mod := range Modalities {
		t.Run(mod, func(t *testing.T) {
			defer op.LockThread()()
			m, b, gold := parityModel(t, mod)
			o, err := NewOptimizer(m, train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.05,
				ExcludeBiasNorm: true, ClipGradNorm: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Free()
			r, err := o.Step(b, 1e-3, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Skipped {
				t.Fatal("update skipped")
			}
			for _, c := range []struct {
				name string
				got  float64
			}{{"loss", r.Loss}, {"reg", r.Reg}, {"cls", r.Cls}, {"target_var", r.TargetVar}, {"pred_var", r.PredVar}, {"grad_norm", r.GradNorm}} {
				check(t, mod+" "+c.name, relDiff([]float32{float32(c.got)}, gold[c.name].F32))
			}
			if err := m.UpdateTeacher(0.9); err != nil {
				t.Fatal(err)
			}
			for _, set := range []struct {
				p      *nn.Params
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
					if d := relDiff(got.F32, want.F32); d > worst {
						worst, wname = d, name
					}
				}
				check(t, mod+" "+set.prefix+" weights (worst: "+wname+")", worst)
			}
		})
	}
}
