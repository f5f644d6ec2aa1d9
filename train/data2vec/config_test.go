package data2vec

import (
	"math"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
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
}

// presetConfig is a preset resolved as if for data of its modality (text:
// a vocabulary of 100).
func presetConfig(t *testing.T, name string) train.Config {
	t.Helper()
	c, err := train.PresetConfig("data2vec", name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Data.Modality == data.Text {
		model(&c).Vocab = 100
	}
	return c
}

// TestPresets validates every preset, checks the reference table (EMA,
// top-K, loss, target normalization, masking) of the base presets, that
// each modality has its CPU default and smoke preset, and that the CPU
// presets keep their schedule: linear warm-up to the peak, cosine decay
// to 0 at the last step.
func TestPresets(t *testing.T) {
	want := map[string]struct {
		ema  [2]float64
		k    int
		beta float64
		norm string
		mask MaskConfig
	}{
		"audio-base": {[2]float64{0.999, 0.9999}, 8, 0, "instance", MaskConfig{Kind: "span", Prob: 0.65, Length: 10, MinMasks: 2}},
		"text-base":  {[2]float64{0.999, 0.9999}, 10, 4, "layer", MaskConfig{Kind: "span", Prob: 0.35, Length: 4}},
		"image-base": {[2]float64{0.999, 0.9998}, 6, 2, "layer", MaskConfig{Kind: "block", Prob: 0.6, MinPatches: 16}},
	}
	m, err := train.Lookup("data2vec")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Presets {
		c := presetConfig(t, p.Name)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		if p.Modality == "" || c.Data.Modality != p.Modality || !strings.HasPrefix(p.Name, p.Modality) && p.Name != "smoke-"+p.Modality || p.Source == "" {
			t.Errorf("%s: modality %q (config %q), source %q", p.Name, p.Modality, c.Data.Modality, p.Source)
		}
		if w, ok := want[p.Name]; ok {
			mc, s := model(&c), settings(&c)
			if mc.TopK != w.k || mc.LossBeta != w.beta || mc.TargetNorm != w.norm || mc.Mask != w.mask || s.EMA.Start != w.ema[0] || s.EMA.End != w.ema[1] {
				t.Errorf("%s: top-k %d beta %v norm %s mask %+v ema %+v; want %+v", p.Name, mc.TopK, mc.LossBeta, mc.TargetNorm, mc.Mask, s.EMA, w)
			}
		}
	}
	for _, mod := range Modalities {
		if got := m.DefaultPresetFor(mod); got != mod+"-cpu" {
			t.Errorf("default preset for %s: %s", mod, got)
		}
		if _, err := train.PresetConfig("data2vec", "smoke-"+mod); err != nil {
			t.Error(err)
		}
		c := presetConfig(t, mod+"-cpu")
		w, n, peak := c.Schedule.WarmupSteps, c.Schedule.Steps, c.Optim.LR
		if c.LRAt(0) != peak/float64(w) || c.LRAt(w) != peak || math.Abs(c.LRAt(w+(n-w)/2)-peak/2) > 1e-12*peak || c.LRAt(n) != 0 {
			t.Errorf("%s-cpu: lr %v, %v, %v, %v", mod, c.LRAt(0), c.LRAt(w), c.LRAt(w+(n-w)/2), c.LRAt(n))
		}
	}
}

// TestScale: a run shorter than its preset shortens the warm-up, the EMA
// anneal and the collapse monitor's start in proportion.
func TestScale(t *testing.T) {
	c := presetConfig(t, "audio-cpu")
	c.Schedule.Steps = 30
	notes := train.ScaleSchedule(&c, 300)
	s := settings(&c)
	if c.Schedule.WarmupSteps != 4 || s.EMA.AnnealSteps != 30 || s.Collapse.After != 10 || len(notes) != 3 {
		t.Errorf("warm-up %d, anneal %d, collapse after %d; notes %q", c.Schedule.WarmupSteps, s.EMA.AnnealSteps, s.Collapse.After, notes)
	}
}

// TestConfigRoundTrip writes and reloads each preset through the shared
// config loader; unknown fields and bad values are rejected.
func TestConfigRoundTrip(t *testing.T) {
	m, _ := train.Lookup("data2vec")
	for _, p := range m.Presets {
		c := presetConfig(t, p.Name)
		model(&c).TopK, c.Schedule.Steps = 1, 17
		settings(&c).EMA.End = 0.98
		y, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		got, err := train.ParseConfig(p.Name, y, "")
		if err != nil {
			t.Fatal(err)
		}
		y2, _ := got.YAML()
		if string(y2) != string(y) {
			t.Errorf("%s: reloaded config differs:\n%s\n%s", p.Name, y2, y)
		}
	}
	for _, bad := range []string{
		"method: data2vec\npreset: text-cpu\nmodel:\n  top_kk: 3\n",
		"method: data2vec\npreset: text-cpu\ndata2vec:\n  emaa: {}\n",
	} {
		if _, err := train.ParseConfig("bad", []byte(bad), ""); err == nil {
			t.Errorf("unknown field accepted:\n%s", bad)
		}
	}
	for name, edit := range map[string]func(c *train.Config){
		"top_k above the layers": func(c *train.Config) { model(c).TopK = 99 },
		"ema end > 1":            func(c *train.Config) { settings(c).EMA.End = 1.5 },
		"NaN loss beta":          func(c *train.Config) { model(c).LossBeta = math.NaN() },
		"no vocabulary":          func(c *train.Config) { model(c).Vocab = 0 },
		"no modality":            func(c *train.Config) { c.Data.Modality = "" },
		"flip_p 2": func(c *train.Config) {
			c.Data.Modality = data.Image
			*model(c) = *model(ptr(presetConfig(t, "image-cpu")))
			settings(c).FlipP = 2
		},
	} {
		c := presetConfig(t, "text-cpu")
		edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestGPUConfigFile: the committed GPU run config
// (benchmarks/data2vec/text-gpu.yaml) loads over its preset and validates.
func TestGPUConfigFile(t *testing.T) {
	c, err := train.LoadConfig("../../benchmarks/data2vec/text-gpu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	model(&c).Vocab = 8000 // from the dataset's tokenizer
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	m, s := model(&c), settings(&c)
	if m.Encoder.Dim != 512 || m.SeqLen != 128 || m.Mask.Kind != "span" || s.EMA.AnnealSteps != 3000 || s.Collapse.After != 500 || s.Collapse.MinTargetVar != 0.1 || c.Schedule.Steps != 3000 || c.Data.Batch != 32 {
		t.Errorf("config %+v %+v %+v", m, s, c.Schedule)
	}
}
