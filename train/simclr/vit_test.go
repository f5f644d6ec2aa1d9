package simclr

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

// SimCLR trains a ViT backbone with AdamW: on a fixed batch of two noisy
// views the loss falls and the positive pairs become the most similar.
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
	m, err := New(p, vit, Config{ProjHidden: 64, ProjOut: 16, Temperature: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	v1, v2, err := sslkit.NoisyPair(1, 8, 3, 16, 16, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Free(v1)
	defer op.Free(v2)
	views := []op.Tensor{v1, v2}
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "adamw", LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.05, ExcludeBiasNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	var first, last Stats
	for i := range 30 {
		st, err := m.Step(opt, views, 1e-3)
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
	t.Logf("loss %.3f -> %.3f, acc %.2f -> %.2f", first.Loss, last.Loss, first.Acc, last.Acc)
	if last.Loss > 0.5*first.Loss || last.Acc < 0.9 {
		t.Errorf("loss %.3f -> %.3f, acc %.2f -> %.2f: not learning the fixed batch", first.Loss, last.Loss, first.Acc, last.Acc)
	}
}
