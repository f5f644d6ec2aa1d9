package data2vec

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sslpipe/sslpipe/text"
)

func TestTauAt(t *testing.T) {
	for _, c := range []struct {
		cfg  EMAConfig
		step int64
		want float64
	}{
		// speech: 0.999 -> 0.9999 over 30k updates (fairseq get_annealed_rate)
		{EMAConfig{0.999, 0.9999, 30000}, 0, 0.999},
		{EMAConfig{0.999, 0.9999, 30000}, 7500, 0.999225},
		{EMAConfig{0.999, 0.9999, 30000}, 15000, 0.99945},
		{EMAConfig{0.999, 0.9999, 30000}, 29999, 0.9999 - 0.0009/30000},
		{EMAConfig{0.999, 0.9999, 30000}, 30000, 0.9999},
		{EMAConfig{0.999, 0.9999, 30000}, 400000, 0.9999},
		// vision: 0.999 -> 0.9998
		{EMAConfig{0.999, 0.9998, 100000}, 50000, 0.9994},
		// no annealing: constant
		{EMAConfig{0.99, 0.996, 0}, 5, 0.996},
	} {
		if got := c.cfg.TauAt(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%+v at %d: %v, want %v", c.cfg, c.step, got, c.want)
		}
	}
	// Each preset follows its modality's reference schedule.
	for mod, want := range map[string][2]float64{"audio": {0.999, 0.9999}, "text": {0.999, 0.9999}, "image": {0.999, 0.9998}} {
		c, err := Preset(mod, mod+"-base")
		if err != nil {
			t.Fatal(err)
		}
		if c.EMA.Start != want[0] || c.EMA.End != want[1] || c.Validate() != nil && mod != "text" {
			t.Errorf("%s-base EMA %+v, want %v", mod, c.EMA, want)
		}
	}
}

func TestLRAt(t *testing.T) {
	c := OptimConfig{LR: 1e-3, WarmupSteps: 10}
	if got := c.LRAt(0, 110); math.Abs(got-1e-4) > 1e-15 {
		t.Errorf("first warm-up step %v", got)
	}
	if got := c.LRAt(10, 110); got != 1e-3 {
		t.Errorf("peak %v", got)
	}
	if got := c.LRAt(60, 110); math.Abs(got-5e-4) > 1e-12 {
		t.Errorf("half-way %v", got)
	}
	if got := c.LRAt(110, 110); got > 1e-15 {
		t.Errorf("end %v", got)
	}
}

// TestPresets validates every preset and checks the reference table
// (top-K, loss, target normalization, masking) of the base presets.
func TestPresets(t *testing.T) {
	want := map[string]struct {
		k    int
		beta float64
		norm string
		mask MaskConfig
	}{
		"audio-base": {8, 0, "instance", MaskConfig{Kind: "span", Prob: 0.65, Length: 10, MinMasks: 2}},
		"text-base":  {10, 4, "layer", MaskConfig{Kind: "span", Prob: 0.35, Length: 4}},
		"image-base": {6, 2, "layer", MaskConfig{Kind: "block", Prob: 0.6, MinPatches: 16}},
	}
	for _, mod := range Modalities {
		for _, name := range Presets(mod) {
			c, err := Preset(mod, name)
			if err != nil {
				t.Fatal(err)
			}
			if mod == "text" {
				c.Model.Vocab = 100
			}
			if err := c.Validate(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if w, ok := want[name]; ok {
				m := c.Model
				if m.TopK != w.k || m.LossBeta != w.beta || m.TargetNorm != w.norm || m.Mask != w.mask {
					t.Errorf("%s: top-k %d beta %v norm %s mask %+v; want %+v", name, m.TopK, m.LossBeta, m.TargetNorm, m.Mask, w)
				}
			}
		}
	}
}

// TestMaskStatistics checks the masked fraction of each modality's
// masking over many draws.
func TestMaskStatistics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// text: a synthetic tokenizer-free masker (ids 0-4 special, 4 = [MASK]).
	for _, c := range []struct {
		mask   MaskConfig
		lo, hi float64
	}{
		// span 0.35 x 4 with overlapping spans: a little under 0.35
		{MaskConfig{Kind: "span", Prob: 0.35, Length: 4}, 0.28, 0.35},
		{MaskConfig{Kind: "bert", Prob: 0.15}, 0.14, 0.16},
	} {
		o := text.MaskOptions{Prob: c.mask.Prob, SpanProb: c.mask.Prob, SpanLength: c.mask.Length}
		if c.mask.Kind == "span" {
			o.Prob = 0.15
		}
		mk, err := text.NewMaskerIDs(100, 4, []int32{0, 1, 2, 3, 4}, o)
		if err != nil {
			t.Fatal(err)
		}
		td := &TextData{masker: mk, mask: c.mask}
		var masked, total, asMask int
		ids := make([]int64, 128)
		for i := range ids {
			ids[i] = int64(5 + i%90)
		}
		for range 2000 {
			in, m := td.MaskText(ids, r)
			for i, v := range m {
				total++
				if v {
					masked++
					if in[i] == 4 {
						asMask++
					}
				} else if in[i] != ids[i] {
					t.Fatalf("unmasked position %d changed", i)
				}
			}
		}
		f, fm := float64(masked)/float64(total), float64(asMask)/float64(masked)
		t.Logf("text %s: masked fraction %.4f, of which [MASK] %.3f", c.mask.Kind, f, fm)
		if f < c.lo || f > c.hi || fm < 0.78 || fm > 0.82 {
			t.Errorf("text %s: masked %.4f (want [%v, %v]), [MASK] share %.3f (want 0.8)", c.mask.Kind, f, c.lo, c.hi, fm)
		}
	}
	// image: block-wise masks on the 7x7 (CPU preset) and 14x14 (base) grids.
	for _, g := range []struct{ size, patch, minP int }{{28, 4, 4}, {224, 16, 16}} {
		cfg := ModelConfig{ImageSize: g.size, Patch: g.patch, Channels: 1, Mask: MaskConfig{Kind: "block", Prob: 0.6, MinPatches: g.minP}}
		d := &ImageData{cfg: cfg}
		n := g.size / g.patch
		imgs := struct{}{}
		_ = imgs
		spec, err := NewImageData(fakeImages(g.size), cfg)
		if err != nil {
			t.Fatal(err)
		}
		d = spec
		var masked, total int
		for range 2000 {
			m := d.spec.Generate(r)
			masked += m.Count()
			total += n * n
		}
		f := float64(masked) / float64(total)
		t.Logf("image %dx%d grid: masked fraction %.4f", n, n, f)
		if f < 0.5 || f > 0.62 {
			t.Errorf("image %dx%d: masked fraction %.4f, want ~0.6", n, n, f)
		}
	}
	// audio: span masks 0.65 x 10 on 5 s (249 frames) and 1 s (49 frames).
	cfg := ModelConfig{MaxSamples: 80000, Mask: MaskConfig{Kind: "span", Prob: 0.65, Length: 10, MinMasks: 2}}
	c, _ := Preset("audio", "audio-base")
	cfg.CNN = c.Model.CNN
	for _, L := range []int{80000, 16000} {
		waves := [][]float32{make([]float32, L), make([]float32, L), make([]float32, L), make([]float32, L)}
		var masked, total int
		for range 500 {
			b, err := AudioBatch(waves, []int{0, 1, 2, 3}, cfg, r)
			if err != nil {
				t.Fatal(err)
			}
			row := -1
			for i := 0; i < b.B; i++ {
				n := 0
				for _, v := range b.Mask[i*b.T : (i+1)*b.T] {
					if v {
						n++
					}
				}
				if row >= 0 && n != row {
					t.Fatalf("rows masked %d and %d frames (require_same_masks)", row, n)
				}
				row = n
				masked += n
			}
			total += b.B * b.T
		}
		f := float64(masked) / float64(total)
		t.Logf("audio %d frames: masked fraction %.4f", cfg.CNN.Frames(L), f)
		if f < 0.4 || f > 0.65 {
			t.Errorf("audio %d samples: masked fraction %.4f", L, f)
		}
	}
}
