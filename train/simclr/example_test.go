package simclr_test

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/simclr"
)

// One SimCLR step with LARS on a backbone and two views of four images.
func ExampleModel_Step() {
	defer op.LockThread()()
	p := sslkit.NewParams(1, gotch.CPU)
	defer p.Free()
	m, err := simclr.New(p, sslkit.NewMLPNet(p, "backbone", 3*8*8, 64, 32), simclr.Config{ProjHidden: 64, ProjOut: 16, Temperature: 0.2})
	if err != nil {
		fmt.Println(err)
		return
	}
	x := make([]float32, 4*3*8*8)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	v1, _ := op.FromFloat32(x, gotch.CPU, 4, 3, 8, 8)
	v2, _ := op.FromFloat32(x, gotch.CPU, 4, 3, 8, 8)
	defer op.Free(v1)
	defer op.Free(v2)
	opt := &sslkit.SGD{Momentum: 0.9, WeightDecay: 1e-5, LARS: true, Eta: 0.02}
	defer opt.Free()
	st, err := m.Step(opt, []op.Tensor{v1, v2}, 0.4)
	if err != nil {
		fmt.Println(err)
		return
	}
	// With 8 views the loss is at least 0 and random guessing is log(7).
	fmt.Println("loss positive:", st.Loss > 0)
	// Output: loss positive: true
}
