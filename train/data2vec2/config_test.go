package data2vec2

import (
	"errors"
	"testing"
)

// Every preset is valid and its masker works on its input size.
func TestPresetsValid(t *testing.T) {
	for _, mod := range Modalities {
		for _, name := range Presets(mod) {
			c, err := Preset(mod, name)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("%s/%s: %v", mod, name, err)
				continue
			}
			m := c.Model
			var T, g int
			switch mod {
			case "text":
				T = m.SeqLen
			case "image":
				g = m.ImageSize / m.Patch
				T = g * g
			case "audio":
				T = m.CNN.Frames(m.MaxSamples)
			}
			mk, err := NewMasker(m.Mask, T, g, g)
			if err != nil {
				t.Errorf("%s/%s: %v", mod, name, err)
				continue
			}
			t.Logf("%s/%s: %d of %d positions masked, student rows %d x %d kept", mod, name, mk.Masked(), T, c.Batch*m.CloneBatch, T-mk.Masked())
		}
	}
	if _, err := Preset("video", ""); err == nil {
		t.Error("unknown modality accepted")
	}
	if _, err := Preset("text", "text-huge"); err == nil {
		t.Error("unknown preset accepted")
	}
	c, _ := Preset("text", "")
	for _, f := range []func(*Config){
		func(c *Config) { c.Model.TopK = 99 },
		func(c *Config) { c.Model.Encoder.PosConvKernel = 16 },
		func(c *Config) { c.Model.Decoder.Groups = 3 },
		func(c *Config) { c.Model.ClsLoss = 0.1 },
		func(c *Config) { c.Model.CloneBatch = 0 },
		func(c *Config) { c.Optim.LR = 0 },
	} {
		bad := c
		f(&bad)
		if bad.Validate() == nil {
			t.Errorf("invalid config accepted: %+v", bad.Model)
		}
	}
}

// The collapse monitor fires only after After updates and below the
// thresholds; it asks to warn or to stop.
func TestCollapseCheck(t *testing.T) {
	c := CollapseConfig{MinTargetVar: 0.1, MinPredVar: 0.01, After: 10}
	if w, err := c.Check(10, StepResult{TargetVar: 0, PredVar: 0}); w || err != nil {
		t.Errorf("checked before After: %v %v", w, err)
	}
	if w, err := c.Check(11, StepResult{TargetVar: 0.5, PredVar: 0.02}); w || err != nil {
		t.Errorf("healthy step flagged: %v %v", w, err)
	}
	if w, err := c.Check(11, StepResult{TargetVar: 0.05, PredVar: 0.02}); !w || !errors.Is(err, ErrCollapse) {
		t.Errorf("low target variance: warn %v, err %v", w, err)
	}
	c.Stop = true
	if w, err := c.Check(12, StepResult{TargetVar: 0.5, PredVar: 0.001}); w || !errors.Is(err, ErrCollapse) {
		t.Errorf("low prediction variance with Stop: warn %v, err %v", w, err)
	}
}
