package nn

import (
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// A convnet with two layers in its second stage names its tensors as the
// PyTorch nn.Sequential of the same layers does (the weight names below
// are that module's state_dict keys, printed by /usr/bin/python3 with
// torch 1.13 for Conv2d(1,8)-BN-ReLU-MaxPool, Conv2d(8,16)-BN-ReLU,
// Conv2d(16,16)-BN-ReLU), keeps one max-pool between stages, and with
// depths [1, 1] is the plain ConvNet tensor for tensor.
func TestConvNetDepths(t *testing.T) {
	defer op.LockThread()()
	weights := func(p *Params) []string {
		var ws []string
		for _, n := range p.Names() {
			if strings.HasSuffix(n, ".weight") || strings.HasSuffix(n, ".bias") {
				ws = append(ws, n)
			}
		}
		return ws
	}
	p := NewParams(7, gotch.CPU)
	defer p.Free()
	bb, err := NewBackbone(p, "", Arch{Name: "convnet", InChannels: 1, Widths: []int64{8, 16}, Depths: []int{1, 2}, Pool: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := weights(p)
	want := []string{"0.weight", "1.bias", "1.weight", "4.weight", "5.bias", "5.weight", "7.weight", "8.bias", "8.weight"}
	for i := range want {
		want[i] = "features." + want[i]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tensor names %v, want %v", got, want)
	}
	if bb.Dim() != 16*2*2 {
		t.Fatalf("Dim %d, want 64", bb.Dim())
	}
	var e error
	func() {
		defer op.Catch(&e)
		var tp op.Tape
		defer tp.Drop()
		x := tp.Float32(make([]float32, 3*28*28), gotch.CPU, 3, 1, 28, 28)
		y := bb.Forward(&tp, x, false)
		if s := op.Shape(y); !slices.Equal(s, []int64{3, 64}) {
			t.Errorf("features %v, want [3 64]", s)
		}
		// On a 4 x 4 input the second stage sees 2 x 2 cells: one extra
		// max-pool would leave a 1 x 1 map, which the 2 x 2 average
		// pooling copies into four equal cells per channel.
		in := make([]float32, 4*4)
		for i := range in {
			in[i] = float32((i*7)%5) - 2
		}
		f := op.ToFloat32(bb.Forward(&tp, tp.Float32(in, gotch.CPU, 1, 1, 4, 4), false))
		distinct := 0
		for c := range 16 {
			if f[4*c] != f[4*c+1] || f[4*c] != f[4*c+2] || f[4*c] != f[4*c+3] {
				distinct++
			}
		}
		if distinct == 0 {
			t.Errorf("every channel's four cells are equal: the second stage saw a 1 x 1 map")
		}
	}()
	if e != nil {
		t.Fatal(e)
	}

	a, b := NewParams(3, gotch.CPU), NewParams(3, gotch.CPU)
	defer a.Free()
	defer b.Free()
	if _, err := NewBackbone(a, "", Arch{Name: "convnet", InChannels: 1, Widths: []int64{8, 16}, Pool: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBackbone(b, "", Arch{Name: "convnet", InChannels: 1, Widths: []int64{8, 16}, Depths: []int{1, 1}, Pool: 2}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Names(), b.Names()) {
		t.Fatalf("depths [1 1] names %v, plain %v", b.Names(), a.Names())
	}
	for _, n := range a.Names() {
		if !slices.Equal(op.ToFloat32(a.Get(n).T), op.ToFloat32(b.Get(n).T)) {
			t.Errorf("%s differs between depths [1 1] and the plain convnet", n)
		}
	}

	for _, d := range [][]int{{1}, {0, 1}, {1, 9}} {
		q := NewParams(1, gotch.CPU)
		if _, err := NewBackbone(q, "", Arch{Name: "convnet", InChannels: 1, Widths: []int64{8, 16}, Depths: d}); err == nil || !strings.Contains(err.Error(), "depth") {
			t.Errorf("depths %v: error %v, want one naming the depths", d, err)
		}
		q.Free()
	}
}

// With no_last_relu the convnet returns its last BatchNorm's output: from
// the same weights, the plain network's features are exactly that output
// clamped at zero, the pre-activation features take negative values, and
// the tensors and their names are the plain network's. Other architectures
// refuse the option.
func TestConvNetNoLastReLU(t *testing.T) {
	defer op.LockThread()()
	arch := Arch{Name: "convnet", InChannels: 1, Widths: []int64{8, 16}, Depths: []int{1, 2}, Pool: 2}
	a, b := NewParams(5, gotch.CPU), NewParams(5, gotch.CPU)
	defer a.Free()
	defer b.Free()
	plain, err := NewBackbone(a, "", arch)
	if err != nil {
		t.Fatal(err)
	}
	arch.NoLastReLU = true
	pre, err := NewBackbone(b, "", arch)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Names(), b.Names()) {
		t.Fatalf("no_last_relu names %v, plain %v", b.Names(), a.Names())
	}
	// 4 x 4 images leave a 2 x 2 map, so the 2 x 2 pooling copies it and
	// the clamp is compared cell by cell.
	in := make([]float32, 3*4*4)
	for i := range in {
		in[i] = float32((i*37)%23)/11 - 1
	}
	for _, train := range []bool{false, true} {
		var e error
		func() {
			defer op.Catch(&e)
			var tp op.Tape
			defer tp.Drop()
			y := op.ToFloat32(plain.Forward(&tp, tp.Float32(in, gotch.CPU, 3, 1, 4, 4), train))
			z := op.ToFloat32(pre.Forward(&tp, tp.Float32(in, gotch.CPU, 3, 1, 4, 4), train))
			if len(y) != len(z) || len(z) != 3*64 {
				t.Fatalf("train %v: %d and %d features, want %d", train, len(y), len(z), 3*64)
			}
			neg := 0
			for i := range z {
				if z[i] < 0 {
					neg++
				}
				if y[i] != max(z[i], 0) {
					t.Fatalf("train %v: feature %d: plain %v, want max(pre-activation %v, 0)", train, i, y[i], z[i])
				}
			}
			if neg == 0 {
				t.Errorf("train %v: no negative pre-activation feature", train)
			}
		}()
		if e != nil {
			t.Fatal(e)
		}
	}
	for _, name := range []string{"resnet18", "resnet18-cifar"} {
		q := NewParams(1, gotch.CPU)
		if _, err := NewBackbone(q, "", Arch{Name: name, InChannels: 3, NoLastReLU: true}); err == nil || !strings.Contains(err.Error(), "no_last_relu") {
			t.Errorf("%s with no_last_relu: error %v, want one naming the option", name, err)
		}
		q.Free()
	}
}
