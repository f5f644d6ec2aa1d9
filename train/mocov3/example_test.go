package mocov3_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/mocov3"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	_ "github.com/sslpipe/sslpipe/train/transformer" // registers the vit-* backbones
)

// One MoCo v3 step with the ViT recipe (3-layer projector, AdamW, τ 0.2)
// on a ViT-Nano and two views of four 28-pixel images, at step 0 of 1000.
func ExampleModel_Step() {
	defer op.LockThread()()
	cfg := mocov3.DefaultConfig()
	cfg.ProjHidden, cfg.PredHidden = 512, 512 // a CPU-sized head
	vit := func(p *nn.Params, momentum bool) (nn.Backbone, error) {
		return nn.NewBackbone(p, "backbone.", nn.Arch{Name: "vit-nano", InChannels: 1, ImageSize: 28})
	}
	m, err := mocov3.New(vit, cfg, 1, gotch.CPU)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Free()
	v1, v2, _ := sslkit.NoisyPair(1, 4, 1, 28, 28, 0.5)
	defer op.Free(v1)
	defer op.Free(v2)
	adamw := train.OptimConfig{Name: "adamw", LR: 1.5e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}
	opt, err := nn.NewOptimizer(adamw)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opt.Free()
	const k, total = 0, 1000
	lr := sslkit.WarmupCosine(adamw.LR*4/256, 0, k, 40, total)
	st, err := m.Step(opt, []op.Tensor{v1, v2}, lr, train.TauSchedule{Kind: "cosine", Base: 0.99}.At(k, total))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("loss positive:", st.Loss > 0, "skipped:", st.Skipped)
	// Output: loss positive: true skipped: false
}
