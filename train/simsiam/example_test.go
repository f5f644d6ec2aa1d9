package simsiam_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/simsiam"
)

// One SimSiam step: the encoder's learning rate follows a cosine schedule
// while the predictor keeps the base rate.
func ExampleModel_Step() {
	defer op.LockThread()()
	p := sslkit.NewParams(1, gotch.CPU)
	defer p.Free()
	m, err := simsiam.New(p, sslkit.NewMLPNet(p, "backbone", 3*8*8, 64, 32), simsiam.Config{ProjHidden: 64, ProjOut: 64, PredHidden: 16, FixPredictorLR: true})
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
	opt := &sslkit.SGD{Momentum: 0.9, WeightDecay: 1e-5}
	defer opt.Free()
	base := 0.05
	lr := sslkit.Cosine(base, 0, 10.0/100) // step 10 of 100
	st, err := m.Step(opt, []op.Tensor{v1, v2}, lr, base)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("negative cosine in [-1, 1]:", st.Loss >= -1 && st.Loss <= 1)
	// Output: negative cosine in [-1, 1]: true
}
