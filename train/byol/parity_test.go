package byol

import (
	"math"
	"os"
	"runtime"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// TestParityPyTorch runs 20 BYOL steps of a small network (two conv
// layers with BatchNorm, projector, predictor, EMA target) from the
// initial weights and fixed batches written by
// testdata/parity/make_goldens.py (PyTorch 1.13, CPU, float32) and
// compares every loss and every final tensor (online, target, BatchNorm
// running statistics) with PyTorch's, for SGD, LARS and AdamW.
// Tolerance: 1e-4 relative (losses; per tensor ||go-torch|| <= 1e-4 ||torch||).
func TestParityPyTorch(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	read := func(name string) map[string]train.STensor {
		data, err := os.ReadFile("testdata/parity/" + name + ".safetensors")
		if err != nil {
			t.Fatal(err)
		}
		ts, _, err := train.ParseSafetensors(data)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	// Reductions split across threads sum in another order, and 20 steps
	// amplify such 1e-7 differences to ~1e-4 in a few tensors, so both
	// sides run libtorch with 2 intra-op threads (the script sets it too).
	train.SetNumThreads(2)
	defer train.SetNumThreads(0)
	init, batches := read("init"), read("batches")
	optims := map[string]train.OptimConfig{
		"sgd":   {Name: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4},
		"lars":  {Name: "lars", LR: 0.2, Momentum: 0.9, WeightDecay: 1e-4, Eta: 0.02},
		"adamw": {Name: "adamw", LR: 2e-3, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6},
	}
	for _, name := range []string{"sgd", "lars", "adamw"} {
		t.Run(name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			gold := read(name)
			mc := &Model{Arch: nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{8, 16}}, Heads: Heads{Hidden: 32, Out: 16}}
			cfg := train.Config{Optim: optims[name], Schedule: train.ScheduleConfig{Steps: 20, WarmupSteps: 3, Kind: "cosine"}}
			m, err := newBYOL(mc, cfg.Optim, 0, gotch.CPU, false, true)
			if err != nil {
				t.Fatal(err)
			}
			defer m.free()
			if err := m.online.p.Load("init", init, "online."); err != nil {
				t.Fatal(err)
			}
			if err := m.target.p.Load("init", init, "target."); err != nil {
				t.Fatal(err)
			}
			tau := train.TauSchedule{Kind: "cosine", Base: 0.99}
			var worstLoss float64
			for k := int64(0); k < 20; k++ {
				b := k % 4
				v1, _ := op.FromFloat32(batches[bname(b, 0)].F32, gotch.CPU, 8, 3, 16, 16)
				v2, _ := op.FromFloat32(batches[bname(b, 1)].F32, gotch.CPU, 8, 3, 16, 16)
				r, err := m.step(v1, v2, cfg.LRAt(k), tau.At(k, 20), 0, nil, false)
				op.Free(v1)
				op.Free(v2)
				if err != nil {
					t.Fatal(err)
				}
				want := float64(gold["loss"].F32[k])
				rel := math.Abs(r.loss-want) / math.Abs(want)
				worstLoss = math.Max(worstLoss, rel)
				if testing.Verbose() {
					t.Logf("step %d loss %.7f torch %.7f rel %.2g", k, r.loss, want, rel)
				}
				if rel > 1e-4 {
					t.Errorf("step %d: loss %.7f, PyTorch %.7f (rel %.2g)", k, r.loss, want, rel)
				}
			}
			var worst float64
			var worstName string
			check := func(prefix string, mod *nn.Params) {
				for _, v := range mod.List() {
					g, ok := gold[prefix+v.Name]
					if !ok {
						t.Errorf("golden lacks %s", prefix+v.Name)
						continue
					}
					got := op.ToFloat32(v.T)
					// Relative error of the tensor: ||go - torch|| / ||torch||.
					var diff, d2, n2 float64
					for i := range got {
						e := float64(got[i]) - float64(g.F32[i])
						diff = math.Max(diff, math.Abs(e))
						d2 += e * e
						n2 += float64(g.F32[i]) * float64(g.F32[i])
					}
					rel := math.Sqrt(d2) / math.Max(math.Sqrt(n2), 1e-12)
					if name == "adamw" && zeroGrad[v.Name] {
						// No true gradient: only rounding noise, which
						// Adam normalizes into steps of up to ~lr in both
						// implementations. Check the Adam step bound only.
						if bound := 2 * 20 * cfg.Optim.LR; diff > bound {
							t.Errorf("%s%s: max diff %.3g above Adam's step bound %.3g", prefix, v.Name, diff, bound)
						}
						continue
					}
					if rel > worst {
						worst, worstName = rel, prefix+v.Name
					}
					if rel > 1e-4 {
						t.Errorf("%s%s: max diff %.3g (rel %.3g)", prefix, v.Name, diff, rel)
					}
				}
			}
			check("online.", m.online.p)
			check("target.", m.target.p)
			t.Logf("%s: 20 steps, worst loss rel diff %.3g, worst tensor rel diff %.3g (%s)", name, worstLoss, worst, worstName)
		})
	}
}

// zeroGrad are the biases whose gradient is zero in exact arithmetic: a
// Linear bias followed by BatchNorm (projector.0, predictor.0), and the
// projector's output bias, which reaches the loss only through the
// predictor's Linear -> BatchNorm (the target's copy is an EMA of it).
//
// The running means of the BatchNorm layers right after the first two
// follow those biases and are checked the same way.
var zeroGrad = map[string]bool{"projector.0.bias": true, "predictor.0.bias": true, "projector.3.bias": true,
	"projector.1.running_mean": true, "predictor.1.running_mean": true}

func bname(b, v int64) string {
	return "b" + string(rune('0'+b)) + ".v" + string(rune('0'+v))
}
