package simsiam_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/simsiam"
)

// One SimSiam step: the encoder's learning rate follows a cosine schedule
// while the predictor keeps the base rate.
func ExampleModel_Step() {
	defer op.LockThread()()
	p := nn.NewParams(1, gotch.CPU)
	defer p.Free()
	bb, err := nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{16, 32}})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := simsiam.New(p, bb, simsiam.Config{ProjHidden: 64, ProjOut: 64, PredHidden: 16, FixPredictorLR: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	v1, v2, err := sslkit.NoisyPair(1, 8, 3, 8, 8, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer op.Free(v1)
	defer op.Free(v2)
	base := 0.05
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "sgd", LR: base, Momentum: 0.9, WeightDecay: 1e-5})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opt.Free()
	lr := sslkit.WarmupCosine(base, 0, 10, 0, 100) // step 10 of 100
	st, err := m.Step(opt, []op.Tensor{v1, v2}, lr, base)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("negative cosine in [-1, 1]:", st.Loss >= -1 && st.Loss <= 1)
	// Output: negative cosine in [-1, 1]: true
}
