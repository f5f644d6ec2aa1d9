package data2vec2

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sslpipe/sslpipe/train"
)

// Every preset is valid for its modality (smoke: for each), its masker
// works on its input size, and it names its source.
func TestPresetsValid(t *testing.T) {
	m, err := train.Lookup("data2vec2")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Presets {
		if p.Source == "" {
			t.Errorf("preset %s names no source", p.Name)
		}
		mods := Modalities
		if p.Modality != "" {
			mods = []string{p.Modality}
		}
		for _, mod := range mods {
			c := presetFor(t, mod, p.Name)
			model(&c).Text.Vocab = max(model(&c).Text.Vocab, 100) // set by the tokenizer
			if err := c.Validate(); err != nil {
				t.Errorf("%s/%s: %v", p.Name, mod, err)
				continue
			}
			mc := model(&c)
			T, g := mc.positions(mod)
			mk, err := NewMasker(mc.mask(mod), T, g, g)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s/%s: %d of %d positions masked, student %d x %d kept positions per step",
				p.Name, mod, mk.Masked(), T, c.Data.Batch*mc.CloneBatch, T-mk.Masked())
		}
	}
	for mod, want := range map[string]string{"image": "image-cpu", "audio": "audio-cpu", "text": "text-cpu"} {
		if got := m.DefaultPresetFor(mod); got != want {
			t.Errorf("default %s preset %q, want %q", mod, got, want)
		}
	}
	c := presetFor(t, "text", "text-cpu")
	for _, f := range []func(*train.Config){
		func(c *train.Config) { model(c).TopK = 99 },
		func(c *train.Config) { model(c).Encoder.PosConvKernel = 16 },
		func(c *train.Config) { model(c).Text.Decoder.Groups = 3 },
		func(c *train.Config) { model(c).Text.Mask.Kind = "block" },
		func(c *train.Config) { model(c).CloneBatch = 0 },
		func(c *train.Config) { c.Optim.Name = "sgd" },
		func(c *train.Config) { settings(c).EMA.Kind = "cosine" },
	} {
		bad := presetFor(t, "text", "text-cpu")
		f(&bad)
		if bad.Validate() == nil {
			t.Errorf("invalid config accepted: %+v", *model(&bad))
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// A config written to YAML reads back the same (model block, own block).
func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"image-base", "audio-cpu", "text-cpu", "smoke"} {
		c := presetFor(t, "", name)
		y, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, y, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := train.LoadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(model(&got), model(&c)) || !reflect.DeepEqual(settings(&got), settings(&c)) {
			t.Errorf("%s: reloaded config differs:\n%+v\n%+v", name, *model(&got), *model(&c))
		}
	}
}

// Shortening a run shortens the EMA anneal and the collapse grace period.
func TestScale(t *testing.T) {
	c := presetFor(t, "image", "image-cpu")
	notes := train.ScaleSchedule(&c, 1000)
	if len(notes) != 0 {
		t.Errorf("full-length run scaled: %v", notes)
	}
	c.Schedule.Steps = 100
	notes = train.ScaleSchedule(&c, 1000)
	if s := settings(&c); s.EMA.Steps != 30 || s.Collapse.After != 5 {
		t.Errorf("scaled to a tenth: EMA anneal %d (want 30), collapse after %d (want 5); notes %v", s.EMA.Steps, s.Collapse.After, notes)
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
