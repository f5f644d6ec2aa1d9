package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// GridPoolMatrix applied to a map equals libtorch's AdaptiveAvgPool2d for
// grids that pool, copy and upsample, with bins of unequal lengths.
func TestGridPoolMatrix(t *testing.T) {
	defer op.LockThread()()
	for _, c := range [][3]int64{{3, 3, 7}, {4, 4, 7}, {5, 3, 7}, {7, 7, 7}, {9, 9, 7}, {6, 6, 4}, {2, 5, 3}, {1, 1, 2}} {
		h, w, g := c[0], c[1], c[2]
		t.Run(fmt.Sprintf("%dx%d-to-%d", h, w, g), func(t *testing.T) {
			const n = 2 * 3 // batch x channels
			x := make([]float32, n*h*w)
			for i := range x {
				x[i] = float32((i*53)%31)/7 - 2
			}
			var want []float32
			var err error
			func() {
				defer op.Catch(&err)
				var tp op.Tape
				defer tp.Drop()
				want = op.ToFloat32(tp.AdaptiveAvgPool2d(tp.Float32(x, gotch.CPU, 2, 3, h, w), g))
			}()
			if err != nil {
				t.Fatal(err)
			}
			p := GridPoolMatrix(h, w, g)
			for k := range int64(n) {
				for o := range g * g {
					var s float64
					for i := range h * w {
						s += float64(p[o*h*w+i]) * float64(x[k*h*w+i])
					}
					if got := want[k*g*g+o]; math.Abs(s-float64(got)) > 1e-5 {
						t.Fatalf("map %d cell %d: matrix gives %v, AdaptiveAvgPool2d %v", k, o, s, got)
					}
				}
			}
		})
	}
}

// PooledLinear is the Linear of the pooled, flattened map: the output and
// the gradients of the weight, the bias and the map agree with the direct
// computation to float32 rounding, for maps smaller than the grid.
func TestPooledLinear(t *testing.T) {
	defer op.LockThread()()
	for _, c := range [][3]int64{{3, 3, 7}, {2, 4, 5}} {
		h, w, g := c[0], c[1], c[2]
		const b, ch, out = 4, 3, 5
		vals := func(n int64, seed int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32((i*seed+11)%29)/14 - 1
			}
			return v
		}
		run := func(folded bool) (y, gw, gb, gm []float32) {
			var err error
			func() {
				defer op.Catch(&err)
				var tp op.Tape
				defer tp.Drop()
				m := tp.Float32(vals(b*ch*h*w, 17), gotch.CPU, b, ch, h, w)
				wt := tp.Float32(vals(out*ch*g*g, 23), gotch.CPU, out, ch*g*g)
				bias := tp.Float32(vals(out, 5), gotch.CPU, out)
				for _, x := range []op.Tensor{m, wt, bias} {
					op.RequiresGrad(x, true)
				}
				var yt op.Tensor
				if folded {
					yt = PooledLinear(&tp, m, wt, bias, g)
				} else {
					yt = LinearOp(&tp, tp.Flatten(tp.AdaptiveAvgPool2d(m, g)), wt, bias)
				}
				// A loss that weights every output differently.
				loss := tp.Sum(tp.Mul(tp.Mul(yt, yt), tp.Float32(vals(b*out, 7), gotch.CPU, b, out)))
				op.Backward(loss)
				y = op.ToFloat32(yt)
				gw, gb, gm = op.ToFloat32(tp.Grad(wt)), op.ToFloat32(tp.Grad(bias)), op.ToFloat32(tp.Grad(m))
			}()
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		y0, w0, b0, m0 := run(false)
		y1, w1, b1, m1 := run(true)
		for _, cmp := range []struct {
			name      string
			want, got []float32
		}{{"output", y0, y1}, {"weight grad", w0, w1}, {"bias grad", b0, b1}, {"map grad", m0, m1}} {
			if len(cmp.want) != len(cmp.got) {
				t.Fatalf("%dx%d to %d: %s: %d values, want %d", h, w, g, cmp.name, len(cmp.got), len(cmp.want))
			}
			for i := range cmp.want {
				if d := math.Abs(float64(cmp.got[i] - cmp.want[i])); d > 1e-5*(1+math.Abs(float64(cmp.want[i]))) {
					t.Fatalf("%dx%d to %d: %s[%d] = %v, direct %v", h, w, g, cmp.name, i, cmp.got[i], cmp.want[i])
				}
			}
		}
	}
}
