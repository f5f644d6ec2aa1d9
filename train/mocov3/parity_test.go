package mocov3

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
func tinyViT(p *nn.Params, momentum bool) (nn.Backbone, error) {
	return transformer.NewViT(p, "backbone.", transformer.ViTConfig{ImageSize: 16, Patch: 4, InChannels: 3, Dim: 24, Layers: 2, Heads: 3})
}

// TestParity runs three MoCo v3 steps (ViT, AdamW with weight decay on
// every parameter, scheduled momentum) from the weights and batch of
// testdata/make_parity.py and compares the losses, the accuracies and
// every tensor of both encoders afterwards with PyTorch (tensors whose
// true gradient is zero within the learning rates' sum: see
// sslkit.Compare).
func TestParity(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	init := mustRead(t, "testdata/parity_init.safetensors")
	gold := mustRead(t, "testdata/parity_golden.safetensors")
	m, err := New(tinyViT, Config{ProjHidden: 32, ProjOut: 16, PredHidden: 32, ProjLayers: 3, Temperature: 0.2}, 1, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if n := len(m.Base.List()); n != len(init) {
		t.Fatalf("%d query-encoder tensors, PyTorch %d", n, len(init))
	}
	if err := m.Base.Load("parity_init.safetensors", init, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncMomentum(); err != nil {
		t.Fatal(err)
	}
	var views []op.Tensor
	for _, k := range []string{"x1", "x2"} {
		v, err := op.FromFloat32(gold[k].F32, gotch.CPU, gold[k].Shape...)
		if err != nil {
			t.Fatal(err)
		}
		defer op.Free(v)
		views = append(views, v)
	}
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-5, WeightDecay: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	lrs, moms := []float64{1e-3, 2e-3, 1.5e-3}, []float64{0.99, 0.995, 0.999}
	const tol = 1e-4
	for i := range lrs {
		st, err := m.Step(opt, views, lrs[i], moms[i])
		if err != nil {
			t.Fatal(err)
		}
		want := float64(gold["losses"].F32[i])
		rel := math.Abs(st.Loss-want) / want
		t.Logf("step %d: loss %.7f PyTorch %.7f (rel %.1e), acc %.4f PyTorch %.4f", i+1, st.Loss, want, rel, st.Acc, gold["accs"].F32[i])
		if rel > tol {
			t.Errorf("step %d: loss %v, PyTorch %v", i+1, st.Loss, want)
		}
		if math.Abs(st.Acc-float64(gold["accs"].F32[i])) > 1e-6 {
			t.Errorf("step %d: acc %v, PyTorch %v", i+1, st.Acc, gold["accs"].F32[i])
		}
	}
	var bound float64
	for _, lr := range lrs {
		bound += lr
	}
	for _, set := range []struct {
		name string
		p    *nn.Params
	}{{"base", m.Base}, {"momentum", m.Momentum}} {
		ts, err := set.p.Tensors("")
		if err != nil {
			t.Fatal(err)
		}
		// The backbone's last LayerNorm bias shifts every sample's
		// feature alike, which the projector's bias-free Linear and
		// train-mode BatchNorm cancel: its gradient is zero.
		worst, wname, noise, err := sslkit.Compare(ts, gold, set.name+".", "backbone.norm.bias")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s after 3 steps: max relative difference %.1e (%s); zero-gradient tensors %.1e", set.name, worst, wname, noise)
		if worst > tol {
			t.Errorf("%s tensor %s differs from PyTorch by %.2e relative", set.name, wname, worst)
		}
		if noise > bound {
			t.Errorf("%s zero-gradient tensors differ by %.2e, more than the learning rates' sum %.1e", set.name, noise, bound)
		}
	}
}

// With data-parallel training each rank's queries see every rank's keys:
// the mean over ranks of Contrastive is the loss of the whole batch on
// one process.
func TestContrastiveGathered(t *testing.T) {
	defer op.LockThread()()
	const n, d, world = 3, 5, 2
	qv, kv := make([]float32, world*n*d), make([]float32, world*n*d)
	for i := range qv {
		qv[i] = float32(math.Sin(float64(i)*0.37 + 1))
		kv[i] = float32(math.Cos(float64(i)*0.53 - 2))
	}
	var err error
	func() {
		defer op.Catch(&err)
		var tp op.Tape
		defer tp.Drop()
		q := tp.Float32(qv, gotch.CPU, world*n, d)
		k := tp.Float32(kv, gotch.CPU, world*n, d)
		ref, _ := Contrastive(&tp, q, k, 0, 0.2)
		var sum float64
		for r := range world {
			l, _ := Contrastive(&tp, tp.Narrow(q, 0, int64(r)*n, n), k, r, 0.2)
			sum += op.Scalar(l)
		}
		if got, want := sum/world, op.Scalar(ref); math.Abs(got-want) > 1e-6*want {
			t.Errorf("mean over ranks %v, whole batch %v", got, want)
		}
		_, acc := Contrastive(&tp, k, k, 0, 0.2)
		if a := op.Scalar(acc); a != 1 {
			t.Errorf("queries equal to their keys: accuracy %v", a)
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
}
