package simclr_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/simclr"
)

// One SimCLR step with LARS on the small ConvNet and two views of four
// images.
func ExampleModel_Step() {
	defer op.LockThread()()
	p := nn.NewParams(1, gotch.CPU)
	defer p.Free()
	bb, err := nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{16, 32}})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := simclr.New(p, bb, simclr.Config{ProjHidden: 64, ProjOut: 16, Temperature: 0.2})
	if err != nil {
		fmt.Println(err)
		return
	}
	v1, v2, err := sslkit.NoisyPair(1, 4, 3, 8, 8, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer op.Free(v1)
	defer op.Free(v2)
	lars := train.OptimConfig{Name: "lars", LR: 0.4, Momentum: 0.9, WeightDecay: 1e-5, Eta: 0.02}
	opt, err := nn.NewOptimizer(lars)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer opt.Free()
	st, err := m.Step(opt, []op.Tensor{v1, v2}, lars.LR*4/256)
	if err != nil {
		fmt.Println(err)
		return
	}
	// With 8 views the loss is at least 0 and random guessing is log(7).
	fmt.Println("loss positive:", st.Loss > 0)
	// Output: loss positive: true
}
