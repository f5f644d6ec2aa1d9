package transformer

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func readST(t *testing.T, path string) map[string]train.STensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := train.ParseSafetensors(data)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// relDiff is max |a - b| / max |b|.
func relDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / m
}

// parityViT is the model of testdata/make_vit.py.
func parityViT() ViTConfig {
	return ViTConfig{ImageSize: 16, Patch: 4, InChannels: 3, Dim: 24, Layers: 2, Heads: 3}
}

// TestViTParity checks the CLS output at the training size and at three
// other sizes (interpolated position embeddings, a rectangular grid,
// remainder pixels), every token at the training size, and the gradients
// through the interpolation against the PyTorch reference of
// testdata/make_vit.py.
func TestViTParity(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	init := readST(t, "testdata/vit_init.safetensors")
	gold := readST(t, "testdata/vit_golden.safetensors")
	p := NewParams(1, gotch.CPU)
	defer p.Free()
	v, err := NewViT(p, "", parityViT())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.List()) != len(init) {
		t.Fatalf("%d parameters, PyTorch %d", len(p.List()), len(init))
	}
	if err := p.Load("vit_init.safetensors", init, ""); err != nil {
		t.Fatal(err)
	}
	const tol = 1e-5
	check := func(name string, got []float32) {
		t.Helper()
		d := relDiff(got, gold[name].F32)
		t.Logf("%s: rel diff %.1e", name, d)
		if d > tol {
			t.Errorf("%s differs from PyTorch by %.2e relative", name, d)
		}
	}
	err = func() (err error) {
		defer op.Catch(&err)
		var tp op.Tape
		defer tp.Drop()
		for _, c := range []string{"16", "8", "12x8", "10"} {
			x := gold["x_"+c]
			in := tp.Float32(x.F32, gotch.CPU, x.Shape...)
			check("cls_"+c, op.ToFloat32(v.Forward(&tp, in, true)))
		}
		x := gold["x_16"]
		check("tokens_16", op.ToFloat32(v.Tokens(&tp, tp.Float32(x.F32, gotch.CPU, x.Shape...), false)))
		x = gold["x_8"]
		out := v.Forward(&tp, tp.Float32(x.F32, gotch.CPU, x.Shape...), true)
		r := tp.Float32(gold["r"].F32, gotch.CPU, gold["r"].Shape...)
		op.Backward(tp.Sum(tp.Mul(out, r)))
		for _, q := range p.List() {
			check("grad."+q.Name, op.ToFloat32(tp.Grad(q.T)))
		}
		return nil
	}()
	if err != nil {
		t.Fatal(err)
	}
}

// The parameter names are DINO's, the preset sizes DeiT's, and the patch
// size follows the image size.
func TestViTPresets(t *testing.T) {
	defer op.LockThread()()
	for _, c := range []struct {
		name             string
		size             int64
		dim, heads, ptch int64
		tokens           int64
	}{
		{"vit-small", 224, 384, 6, 16, 197},
		{"vit-tiny", 32, 192, 3, 4, 65},
		{"vit-nano", 28, 128, 4, 4, 50},
	} {
		cfg, err := ViTPreset(c.name, c.size, 3)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Dim != c.dim || cfg.Heads != c.heads || cfg.Patch != c.ptch {
			t.Errorf("%s at %d px: %+v", c.name, c.size, cfg)
		}
		if c.size > 64 {
			continue // building ViT-S costs 22M draws; the shapes below suffice on small ones
		}
		p := NewParams(1, gotch.CPU)
		if _, err := NewViT(p, "backbone.", cfg); err != nil {
			t.Fatal(err)
		}
		if q := p.Get("backbone.pos_embed"); q == nil || q.Shape[1] != c.tokens {
			t.Errorf("%s: pos_embed %+v, want %d tokens", c.name, q, c.tokens)
		}
		for _, n := range []string{"cls_token", "patch_embed.proj.weight", "blocks.11.attn.qkv.weight", "blocks.0.mlp.fc2.bias", "norm.bias"} {
			if c.name == "vit-nano" && strings.HasPrefix(n, "blocks.11") {
				n = "blocks.5.attn.qkv.weight"
			}
			if p.Get("backbone."+n) == nil {
				t.Errorf("%s lacks %s", c.name, n)
			}
		}
		p.Free()
	}
	if _, err := ViTPreset("vit-huge", 224, 3); err == nil {
		t.Error("unknown preset accepted")
	}
	// The sizes are nn backbones.
	p := NewParams(1, gotch.CPU)
	defer p.Free()
	bb, err := nn.NewBackbone(p, "backbone.", nn.Arch{Name: "vit-nano", InChannels: 1, ImageSize: 32, Patch: 8})
	if err != nil {
		t.Fatal(err)
	}
	if q := p.Get("backbone.pos_embed"); bb.Dim() != 128 || q == nil || q.Shape[1] != 17 {
		t.Errorf("nn arch vit-nano at 32 px, patch 8: dim %d, pos_embed %+v", bb.Dim(), q)
	}
	if _, err := nn.NewBackbone(p, "b2.", nn.Arch{Name: "vit-tiny", InChannels: 3}); err == nil {
		t.Error("nn arch vit-tiny without image_size accepted")
	}
	// nn.Arch.DropPath is the ViT's stochastic depth; the convolutional
	// backbones refuse one.
	dp, err := nn.NewBackbone(p, "b3.", nn.Arch{Name: "vit-nano", InChannels: 1, ImageSize: 16, DropPath: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if got := dp.(*ViT).Config().DropPath; got != 0.1 {
		t.Errorf("nn arch vit-nano with drop_path 0.1: ViT drop path %v", got)
	}
	if got := bb.(*ViT).Config().DropPath; got != 0 {
		t.Errorf("nn arch vit-nano without drop_path: ViT drop path %v", got)
	}
	if _, err := nn.NewBackbone(p, "b4.", nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{4}, DropPath: 0.1}); err == nil {
		t.Error("convnet with drop_path accepted")
	}
	for _, bad := range []ViTConfig{
		{ImageSize: 16, Patch: 4, InChannels: 3, Dim: 10, Layers: 1, Heads: 3},
		{ImageSize: 2, Patch: 4, InChannels: 3, Dim: 12, Layers: 1, Heads: 3},
		{ImageSize: 16, Patch: 4, InChannels: 3, Dim: 12, Layers: 1, Heads: 3, DropPath: 1},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// Stochastic depth drops residual branches per sample: with one image
// repeated, training outputs fall into at most four groups (block 1's two
// branches kept or dropped; block 0's rate is 0) and, at rate 1/2 over 16
// samples, more than one; evaluation ignores it.
func TestViTDropPath(t *testing.T) {
	defer op.LockThread()()
	train.ManualSeed(3)
	cfg := parityViT()
	cfg.Layers, cfg.DropPath = 2, 0.5
	p := NewParams(2, gotch.CPU)
	defer p.Free()
	v, err := NewViT(p, "", cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = func() (err error) {
		defer op.Catch(&err)
		var tp op.Tape
		defer tp.Drop()
		const B, D = 16, 24
		img := make([]float32, 3*16*16)
		for i := range img {
			img[i] = float32(math.Sin(float64(i) * 0.13))
		}
		var x []float32
		for range B {
			x = append(x, img...)
		}
		in := tp.Float32(x, gotch.CPU, B, 3, 16, 16)
		groups := func(out []float32) int {
			var distinct [][]float32
		next:
			for b := range B {
				row := out[b*D : (b+1)*D]
				for _, r := range distinct {
					if relDiff(row, r) < 1e-6 {
						continue next
					}
				}
				distinct = append(distinct, row)
			}
			return len(distinct)
		}
		if n := groups(op.ToFloat32(v.Forward(&tp, in, false))); n != 1 {
			t.Errorf("evaluation: %d distinct outputs of one image", n)
		}
		if n := groups(op.ToFloat32(v.Forward(&tp, in, true))); n < 2 || n > 4 {
			t.Errorf("training: %d distinct outputs of one image, want 2 to 4", n)
		}
		return nil
	}()
	if err != nil {
		t.Fatal(err)
	}
}
