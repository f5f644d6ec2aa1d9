package transformer

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// Forward keeps every block's output and the FFN outputs; stopping early
// returns block L's output; post-LN blocks end normalized.
func TestEncoderOutputs(t *testing.T) {
	defer op.LockThread()()
	for _, pre := range []bool{false, true} {
		p := NewParams(3, gotch.CPU)
		cfg := Config{Dim: 16, Layers: 3, Heads: 4, FFN: 32, PosConvKernel: 4, PosConvGroups: 2, LayerNormFirst: pre}
		e, err := New(p, "enc.", cfg)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 2*7*16)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)))
		}
		var tp op.Tape
		func() {
			defer op.Catch(&err)
			in := tp.Float32(x, gotch.CPU, 2, 7, 16)
			out := e.Forward(&tp, in, Options{Keep: true})
			if len(out.Blocks) != 3 || len(out.FFN) != 3 {
				t.Fatalf("pre=%v: %d blocks, %d FFN outputs", pre, len(out.Blocks), len(out.FFN))
			}
			part := e.Forward(&tp, in, Options{Layers: 2, Keep: true})
			a, b := op.ToFloat32(part.Final), op.ToFloat32(out.Blocks[1])
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("pre=%v: early stop at 2 differs from block 2's output", pre)
				}
			}
			f := op.ToFloat32(out.Final)
			// Each position of the final output has mean 0 and variance 1
			// (layer norm with unit weight, zero bias at init).
			var m, v float64
			for _, z := range f[:16] {
				m += float64(z)
			}
			m /= 16
			for _, z := range f[:16] {
				v += (float64(z) - m) * (float64(z) - m)
			}
			if math.Abs(m) > 1e-4 || math.Abs(v/16-1) > 1e-2 {
				t.Errorf("pre=%v: final output row mean %v var %v", pre, m, v/16)
			}
		}()
		if err != nil {
			t.Fatal(err)
		}
		tp.Drop()
		p.Free()
	}
	if (Config{Dim: 10, Layers: 1, Heads: 3, FFN: 4}).Validate() == nil {
		t.Error("dim 10 with 3 heads accepted")
	}
}

// Debian's libtorch 1.13.1 has the GELU backward bug; the erf path of
// op.Tape.Gelu gives the same gradient whatever the layout.
func TestGeluGradientLayout(t *testing.T) {
	defer op.LockThread()()
	t.Logf("native GELU backward OK: %v", op.NativeGELUBackwardOK())
	vals := make([]float32, 2*8*10)
	for i := range vals {
		vals[i] = float32(math.Cos(float64(i) * 0.7))
	}
	var grads [2][]float32
	for k := range grads {
		var tp op.Tape
		var err error
		func() {
			defer op.Catch(&err)
			x := tp.Float32(vals, gotch.CPU, 2, 8, 10)
			op.RequiresGrad(x, true)
			g := tp.Gelu(x)
			if k == 1 {
				g = tp.Transpose(g, 1, 2)
			}
			op.Backward(tp.Mean(tp.Mul(g, g)))
			grads[k] = op.ToFloat32(tp.Grad(x))
		}()
		if err != nil {
			t.Fatal(err)
		}
		tp.Drop()
	}
	for i := range grads[0] {
		if math.Abs(float64(grads[0][i]-grads[1][i])) > 1e-6 {
			t.Fatalf("gradient %d: %v contiguous vs %v transposed", i, grads[0][i], grads[1][i])
		}
	}
}
