package sslkit

import (
	"fmt"
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Embed on a convnet with a 7 x 7 grid is head(backbone(x)): for 12-pixel
// crops (a 3 x 3 map, folded into the head's first Linear) and 28-pixel
// images (a 7 x 7 map, pooled as before), in train mode, the embeddings,
// the loss's gradients of every trainable tensor, and the BatchNorm
// running statistics agree with the direct computation to float32
// rounding.
func TestEmbedFoldsSmallMaps(t *testing.T) {
	defer op.LockThread()()
	arch := nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{8, 16, 32}, Pool: 7}
	spec := MLPSpec{Dims: []int64{32 * 49, 64, 16}, Bias: true, LastBias: true, BN: true}
	for _, size := range []int64{12, 28} {
		run := func(fold bool) (emb []float32, grads, state [][]float32) {
			p := nn.NewParams(3, gotch.CPU)
			defer p.Free()
			var err error
			func() {
				defer op.Catch(&err)
				bb, e := nn.NewBackbone(p, "backbone.", arch)
				if e != nil {
					op.Fail(e)
				}
				head := NewMLP(p, "projector", spec)
				var tp op.Tape
				defer tp.Drop()
				in := make([]float32, 6*size*size)
				for i := range in {
					in[i] = float32((i*41)%37)/18 - 1
				}
				x := tp.Float32(in, gotch.CPU, 6, 1, size, size)
				var z op.Tensor
				if fold {
					z = Embed(&tp, bb, head, x, true)
				} else {
					z = head.Forward(&tp, bb.Forward(&tp, x, true), true)
				}
				w := make([]float32, 6*16)
				for i := range w {
					w[i] = float32((i*13)%11)/5 - 1
				}
				loss := tp.Sum(tp.Mul(tp.Mul(z, z), tp.Float32(w, gotch.CPU, 6, 16)))
				gs, _, _, _ := nn.Backward(&tp, p.Trainable(), loss)
				emb = op.ToFloat32(z)
				for _, g := range gs {
					grads = append(grads, op.ToFloat32(g))
				}
				for _, q := range p.List() {
					if q.Buffer {
						state = append(state, op.ToFloat32(q.T))
					}
				}
			}()
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		e0, g0, s0 := run(false)
		e1, g1, s1 := run(true)
		near := func(what string, a, b []float32) {
			t.Helper()
			if len(a) != len(b) {
				t.Fatalf("%d px: %s: %d values, direct %d", size, what, len(b), len(a))
			}
			for i := range a {
				if d := math.Abs(float64(b[i] - a[i])); d > 2e-5*(1+math.Abs(float64(a[i]))) {
					t.Fatalf("%d px: %s[%d] = %v, direct %v", size, what, i, b[i], a[i])
				}
			}
		}
		near("embedding", e0, e1)
		if len(g0) != len(g1) || len(s0) != len(s1) {
			t.Fatalf("%d px: %d grads / %d buffers, direct %d / %d", size, len(g1), len(s1), len(g0), len(s0))
		}
		for i := range g0 {
			near(fmt.Sprintf("grad %d", i), g0[i], g1[i])
		}
		for i := range s0 {
			near("buffer", s0[i], s1[i])
		}
	}
}
