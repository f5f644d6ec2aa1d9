package dino

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/transformer"
)

func mustRead(t *testing.T, path string) map[string]train.STensor {
	t.Helper()
	ts, err := sslkit.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// tinyViT is the backbone of testdata/make_parity.py.
func tinyViT(p *nn.Params, teacher bool) (nn.Backbone, error) {
	return transformer.NewViT(p, "backbone.", transformer.ViTConfig{ImageSize: 16, Patch: 4, InChannels: 3, Dim: 24, Layers: 2, Heads: 3})
}

func parityConfig() Config {
	c := DefaultConfig()
	c.OutDim, c.HiddenDim, c.Bottleneck, c.ClipGrad = 64, 32, 16, 0.3
	return c
}

// TestParity runs three DINO steps with multi-crop (2 global, 2 local
// crops through the interpolated position embedding) from the weights and
// batch of testdata/make_parity.py and compares the losses, the teacher
// entropies, the center and every student and teacher tensor afterwards
// with PyTorch. The steps cover the frozen last layer, per-parameter
// clipping, scheduled weight decay, teacher temperature and momentum.
func TestParity(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	init := mustRead(t, "testdata/parity_init.safetensors")
	gold := mustRead(t, "testdata/parity_golden.safetensors")
	m, err := New(tinyViT, parityConfig(), 1, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if n := len(m.Student.List()); n != len(init) {
		t.Fatalf("%d student tensors, PyTorch %d", n, len(init))
	}
	if err := m.Student.Load("parity_init.safetensors", init, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncTeacher(); err != nil {
		t.Fatal(err)
	}
	var views []op.Tensor
	for _, k := range []string{"v0", "v1", "v2", "v3"} {
		v, err := op.FromFloat32(gold[k].F32, gotch.CPU, gold[k].Shape...)
		if err != nil {
			t.Fatal(err)
		}
		defer op.Free(v)
		views = append(views, v)
	}
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	sched := []Schedule{
		{LR: 1e-3, WeightDecay: 0.04, Momentum: 0.9, TeacherTemp: 0.04, FreezeLastLayer: true},
		{LR: 2e-3, WeightDecay: 0.1, Momentum: 0.95, TeacherTemp: 0.055},
		{LR: 1.5e-3, WeightDecay: 0.2, Momentum: 0.99, TeacherTemp: 0.07},
	}
	const tol = 1e-4
	for i, s := range sched {
		st, err := m.Step(opt, views, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			got  float64
			want float32
		}{{"loss", st.Loss, gold["losses"].F32[i]}, {"teacher entropy", st.TeacherEntropy, gold["entropies"].F32[i]}} {
			rel := math.Abs(c.got-float64(c.want)) / math.Abs(float64(c.want))
			t.Logf("step %d: %s %.7f PyTorch %.7f (rel %.1e)", i+1, c.name, c.got, c.want, rel)
			if rel > tol {
				t.Errorf("step %d: %s %v, PyTorch %v", i+1, c.name, c.got, c.want)
			}
		}
	}
	center := func() []float32 {
		var out []float32
		err := func() (err error) {
			defer op.Catch(&err)
			out = op.ToFloat32(m.Center)
			return nil
		}()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}()
	d := sslkit.RelDiff(center, gold["center"].F32)
	t.Logf("center: relative difference %.1e", d)
	if d > tol {
		t.Errorf("center differs from PyTorch by %.2e", d)
	}
	for _, set := range []struct {
		name string
		p    *nn.Params
	}{{"student", m.Student}, {"teacher", m.Teacher}} {
		ts, err := set.p.Tensors("")
		if err != nil {
			t.Fatal(err)
		}
		worst, wname, keyBias, err := sslkit.Compare(ts, gold, set.name+".")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s after 3 steps: max relative difference %.1e (%s); attention key biases %.1e", set.name, worst, wname, keyBias)
		if worst > tol {
			t.Errorf("%s tensor %s differs from PyTorch by %.2e relative", set.name, wname, worst)
		}
		if bound := 1e-3 + 2e-3 + 1.5e-3; keyBias > bound {
			t.Errorf("%s attention key biases differ by %.2e, more than the learning rates' sum %.1e", set.name, keyBias, bound)
		}
	}
}
