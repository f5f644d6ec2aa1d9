package mocov3

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// MoCo v3 trains the small ConvNet with the ResNet recipe (2-layer
// projector, LARS, τ = 1, momentum cosine from 0.99): on a fixed batch of
// two noisy views the loss falls and the queries come to pick their keys.
func TestConvNetBackbone(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	train.ManualSeed(1)
	conv := func(p *nn.Params, momentum bool) (nn.Backbone, error) {
		return nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{16, 32}})
	}
	m, err := New(conv, Config{ProjHidden: 64, ProjOut: 32, PredHidden: 64, ProjLayers: 2, Temperature: 1}, 2, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if p := m.Momentum.Get("predictor.0.weight"); p != nil {
		t.Error("the momentum encoder has a predictor")
	}
	v1, v2, err := sslkit.NoisyPair(1, 16, 3, 16, 16, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Free(v1)
	defer op.Free(v2)
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "lars", LR: 0.3, Momentum: 0.9, WeightDecay: 1e-6, Eta: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	const steps = 40
	var first, last Stats
	for k := range int64(steps) {
		st, err := m.Step(opt, []op.Tensor{v1, v2}, sslkit.WarmupCosine(0.3, 0, k, 4, steps),
			train.TauSchedule{Kind: "cosine", Base: 0.99}.At(k, steps))
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(st.Loss) || st.Skipped {
			t.Fatalf("step %d: loss %v, skipped %v", k, st.Loss, st.Skipped)
		}
		if k == 0 {
			first = st
		}
		last = st
	}
	t.Logf("loss %.3f -> %.3f, acc %.2f -> %.2f", first.Loss, last.Loss, first.Acc, last.Acc)
	if last.Loss > first.Loss-0.5 || last.Acc < first.Acc+0.3 {
		t.Errorf("loss %.3f -> %.3f, acc %.2f -> %.2f: not learning the fixed batch", first.Loss, last.Loss, first.Acc, last.Acc)
	}
}
