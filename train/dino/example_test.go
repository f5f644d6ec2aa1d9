package dino_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/dino"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	_ "github.com/sslpipe/sslpipe/train/transformer" // registers the vit-* backbones
)

// One DINO step with a ViT-Nano on 28-pixel global crops and 12-pixel
// local crops (the position embedding is interpolated for them), the
// schedules at step 0 of 1000 (100 steps per epoch).
func ExampleModel_Step() {
	defer op.LockThread()()
	cfg := dino.DefaultConfig()
	cfg.OutDim, cfg.HiddenDim = 1024, 256 // a CPU-sized head
	vit := func(p *nn.Params, teacher bool) (nn.Backbone, error) {
		return nn.NewBackbone(p, "backbone.", nn.Arch{Name: "vit-nano", InChannels: 1, ImageSize: 28})
	}
	m, err := dino.New(vit, cfg, 1, gotch.CPU)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Free()
	g1, g2, _ := sslkit.NoisyPair(1, 4, 1, 28, 28, 0.5)
	l1, l2, _ := sslkit.NoisyPair(2, 4, 1, 12, 12, 0.5)
	views := []op.Tensor{g1, g2, l1, l2}
	for _, v := range views {
		defer op.Free(v)
	}
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "adamw", LR: 5e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ExcludeBiasNorm: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opt.Free()
	const k, total, perEpoch = 0, 1000, 100
	st, err := m.Step(opt, views, dino.Schedule{
		LR:              sslkit.WarmupCosine(5e-4*4/256, 0, k, 10*perEpoch, total),
		WeightDecay:     sslkit.WarmupCosine(0.04, 0.4, k, 0, total),
		Momentum:        train.TauSchedule{Kind: "cosine", Base: 0.996}.At(k, total),
		TeacherTemp:     cfg.TeacherTempAt(k / perEpoch),
		FreezeLastLayer: k/perEpoch < cfg.FreezeLastLayerEpochs,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("loss positive:", st.Loss > 0, "skipped:", st.Skipped)
	// Output: loss positive: true skipped: false
}
