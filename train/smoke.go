package train

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SmokeResult is what SmokeMLP measured.
type SmokeResult struct {
	Device  string    `json:"device"`
	Steps   int       `json:"steps"`
	Losses  []float64 `json:"-"`
	First   float64   `json:"first_loss"`
	Last    float64   `json:"last_loss"` // mean of the last 10 steps
	Seconds float64   `json:"seconds"`
}

// Ratio is how many times the loss fell.
func (r *SmokeResult) Ratio() float64 { return r.First / r.Last }

// SmokeMLP checks that libtorch trains: a 16-64-1 ReLU MLP fits, with
// Adam, the outputs of a fixed random tanh network on 512 Gaussian inputs
// for the given number of full-batch steps. It exercises tensor creation,
// matmul, autograd, the C++ optimizer and freeing, on dev.
func SmokeMLP(ctx context.Context, dev gotch.Device, steps int, seed int64) (res *SmokeResult, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ManualSeed(seed)
	start := time.Now()

	var live []*ts.Tensor
	keep := func(t *ts.Tensor, e error) *ts.Tensor {
		if e != nil && err == nil {
			err = e
		}
		if t != nil {
			live = append(live, t)
		}
		return t
	}
	defer func() {
		for _, t := range live {
			t.Drop()
		}
	}()
	randn := func(scale float64, dims ...int64) *ts.Tensor {
		r := keep(ts.Randn(dims, gotch.Float, dev))
		if err != nil {
			return nil
		}
		return keep(r.MulScalar(ts.FloatScalar(scale), false))
	}

	x := randn(1, 512, 16)
	tw1 := randn(0.5, 16, 32)
	tw2 := randn(1/math.Sqrt(32), 32, 1)
	if err != nil {
		return nil, fmt.Errorf("train: smoke: %w", err)
	}
	h := keep(x.Matmul(tw1, false))
	if err != nil {
		return nil, fmt.Errorf("train: smoke: %w", err)
	}
	ht := keep(h.Tanh(false))
	if err != nil {
		return nil, fmt.Errorf("train: smoke: %w", err)
	}
	y := keep(ht.Matmul(tw2, false))
	if err != nil {
		return nil, fmt.Errorf("train: smoke: %w", err)
	}

	vs := nn.NewVarStore(dev)
	defer vs.Destroy()
	root := vs.Root()
	params := []struct {
		name  string
		init  *ts.Tensor
		dims  []int64
		scale float64
	}{
		{"w1", nil, []int64{16, 64}, math.Sqrt(2.0 / 16)},
		{"w2", nil, []int64{64, 1}, math.Sqrt(1.0 / 64)},
	}
	var w [2]*ts.Tensor
	for i, p := range params {
		t := randn(p.scale, p.dims...)
		if err != nil {
			return nil, fmt.Errorf("train: smoke: %w", err)
		}
		if w[i], err = root.Add(p.name, t, true); err != nil {
			return nil, fmt.Errorf("train: smoke: %w", err)
		}
	}
	b1z := keep(ts.Zeros([]int64{64}, gotch.Float, dev))
	if err != nil {
		return nil, fmt.Errorf("train: smoke: %w", err)
	}
	b1, err := root.Add("b1", b1z, true)
	if err != nil {
		return nil, fmt.Errorf("train: smoke: %w", err)
	}
	opt, err := nn.DefaultAdamConfig().Build(vs, 1e-2)
	if err != nil {
		return nil, fmt.Errorf("train: smoke: %w", err)
	}

	res = &SmokeResult{Device: DeviceName(dev), Steps: steps}
	for step := 0; step < steps; step++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		loss, err := smokeStep(x, y, w[0], b1, w[1])
		if err != nil {
			return res, fmt.Errorf("train: smoke step %d: %w", step, err)
		}
		if err := opt.BackwardStep(loss); err != nil {
			loss.Drop()
			return res, fmt.Errorf("train: smoke step %d: %w", step, err)
		}
		v, err := loss.Float64Value([]int64{})
		loss.Drop()
		if err != nil {
			return res, fmt.Errorf("train: smoke step %d: %w", step, err)
		}
		res.Losses = append(res.Losses, v)
	}
	if len(res.Losses) > 0 {
		res.First = res.Losses[0]
		tail := res.Losses[max(0, len(res.Losses)-10):]
		for _, v := range tail {
			res.Last += v / float64(len(tail))
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// smokeStep computes mean((relu(x w1 + b1) w2 - y)^2), freeing every
// intermediate tensor but the loss.
func smokeStep(x, y, w1, b1, w2 *ts.Tensor) (*ts.Tensor, error) {
	a, err := x.Matmul(w1, false)
	if err != nil {
		return nil, err
	}
	b, err := a.Add(b1, true)
	if err != nil {
		return nil, err
	}
	c, err := b.Relu(true)
	if err != nil {
		return nil, err
	}
	out, err := c.Matmul(w2, true)
	if err != nil {
		return nil, err
	}
	return out.MseLoss(y, 1, true) // 1 = mean reduction
}
