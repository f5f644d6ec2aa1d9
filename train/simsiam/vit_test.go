package simsiam

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

// SimSiam trains a ViT backbone with SGD: on a fixed batch of two noisy
// views the predictions come to match the other view's projections
// without the projections collapsing.
func TestViTBackbone(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	train.ManualSeed(1)
	p := nn.NewParams(4, gotch.CPU)
	defer p.Free()
	vit, err := transformer.NewViT(p, "backbone.", transformer.ViTConfig{ImageSize: 16, Patch: 4, InChannels: 3, Dim: 32, Layers: 2, Heads: 4})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(p, vit, Config{ProjHidden: 64, ProjOut: 32, PredHidden: 16, FixPredictorLR: true})
	if err != nil {
		t.Fatal(err)
	}
	v1, v2, err := sslkit.NoisyPair(1, 16, 3, 16, 16, 1.0)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Free(v1)
	defer op.Free(v2)
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	var first, last Stats
	for i := range 40 {
		st, err := m.Step(opt, []op.Tensor{v1, v2}, sslkit.WarmupCosine(0.05, 0, int64(i), 0, 40), 0.05)
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(st.Loss) {
			t.Fatalf("step %d: NaN loss", i)
		}
		if i == 0 {
			first = st
		}
		last = st
	}
	t.Logf("loss %.3f -> %.3f, z std %.3f -> %.3f (1/sqrt(d) = %.3f)", first.Loss, last.Loss, first.ZStd, last.ZStd, 1/math.Sqrt(32))
	if last.Loss > first.Loss-0.3 {
		t.Errorf("loss %.3f -> %.3f: not learning the fixed batch", first.Loss, last.Loss)
	}
	if last.ZStd < 0.3/math.Sqrt(32) {
		t.Errorf("projections collapsed: std %.3f", last.ZStd)
	}
}
