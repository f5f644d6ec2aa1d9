package sslkit

import (
	"math"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Heads are named by nn.Sequential index: activations take an index,
// biases and BatchNorm affine parameters appear only where the spec asks.
func TestMLPNames(t *testing.T) {
	defer op.LockThread()()
	for _, c := range []struct {
		spec MLPSpec
		want []string
	}{
		{MLPSpec{Dims: []int64{8, 16, 4}, Bias: true, LastBias: true, BN: true}, []string{
			"h.0.bias", "h.0.weight", "h.1.bias", "h.1.running_mean", "h.1.running_var", "h.1.weight", "h.3.bias", "h.3.weight"}},
		{MLPSpec{Dims: []int64{8, 16, 16, 4}, BN: true, LastBN: true}, []string{ // SimSiam / MoCo v3 projector
			"h.0.weight", "h.1.bias", "h.1.running_mean", "h.1.running_var", "h.1.weight",
			"h.3.weight", "h.4.bias", "h.4.running_mean", "h.4.running_var", "h.4.weight",
			"h.6.weight", "h.7.running_mean", "h.7.running_var"}},
		{MLPSpec{Dims: []int64{8, 16, 16, 4}, Bias: true, LastBias: true, GELU: true, TruncNormal: true}, []string{ // DINO
			"h.0.bias", "h.0.weight", "h.2.bias", "h.2.weight", "h.4.bias", "h.4.weight"}},
	} {
		p := nn.NewParams(1, gotch.CPU)
		m := NewMLP(p, "h", c.spec)
		if got := p.Names(); !slices.Equal(got, c.want) {
			t.Errorf("%+v: names %v, want %v", c.spec, got, c.want)
		}
		var err error
		func() {
			defer op.Catch(&err)
			var tp op.Tape
			defer tp.Drop()
			x := tp.Float32(make([]float32, 5*8), gotch.CPU, 5, 8)
			if s := op.Shape(m.Forward(&tp, x, true)); !slices.Equal(s, []int64{5, 4}) || m.Out() != 4 {
				t.Errorf("%+v: output %v, Out %d", c.spec, s, m.Out())
			}
		}()
		if err != nil {
			t.Fatal(err)
		}
		p.Free()
	}
}

func TestWarmupCosine(t *testing.T) {
	for _, c := range []struct {
		k    int64
		want float64
	}{{0, 0.25}, {3, 1}, {4, 1}, {9, 0.55}, {14, 0.1}, {20, 0.1}} {
		if got := WarmupCosine(1, 0.1, c.k, 4, 14); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("step %d: %v, want %v", c.k, got, c.want)
		}
	}
}

// Compare measures zero-gradient tensors (attention key biases, named
// ones) apart from the rest.
func TestCompare(t *testing.T) {
	got := map[string]train.STensor{
		"b.attn.qkv.bias": {F32: []float32{1, 1, 5, 5, 1, 1}},
		"norm.bias":       {F32: []float32{3}},
		"w":               {F32: []float32{2, 4}},
	}
	gold := map[string]train.STensor{
		"g.b.attn.qkv.bias": {F32: []float32{1, 1, 1, 1, 1, 1.01}},
		"g.norm.bias":       {F32: []float32{1}},
		"g.w":               {F32: []float32{2, 4.004}},
	}
	worst, name, noise, err := Compare(got, gold, "g.", "norm.bias")
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(worst-0.01/1.01) > 1e-6 || name != "b.attn.qkv.bias" || noise != 4 {
		t.Errorf("worst %v at %s, noise %v", worst, name, noise)
	}
	if _, _, _, err := Compare(got, map[string]train.STensor{}, "g."); err == nil {
		t.Error("missing golden tensor accepted")
	}
}
