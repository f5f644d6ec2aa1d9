package data2vec2

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
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

// Preprocessed text rows shorter than model.text.seq_len are refused with
// the flag that fixes them (a batch would repeat its tokens); rows as long
// or longer are accepted, and the vocabulary comes from the tokenizer.
func TestResolveTextRows(t *testing.T) {
	dir := t.TempDir()
	rows16 := datatest.TextShards(t, filepath.Join(dir, "a"), 60, 120, 16)
	rows32 := datatest.TextShards(t, filepath.Join(dir, "b"), 60, 120, 32)
	resolveOn := func(spec string, seqLen int) (c train.Config, vocab int, err error) {
		c = presetFor(t, data.Text, "smoke")
		c.Data.Spec, c.Out = spec, filepath.Join(dir, "run")
		model(&c).Text.SeqLen = seqLen
		d, err := train.OpenData(&c)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		return c, d.Tokenizer.VocabSize(), train.ResolveConfig(&c, d)
	}
	for _, ok := range []struct {
		spec   string
		seqLen int
	}{{rows16, 16}, {rows32, 32}, {rows32, 16}} {
		c, vocab, err := resolveOn(ok.spec, ok.seqLen)
		if err != nil {
			t.Errorf("rows of %s, seq_len %d: %v", ok.spec, ok.seqLen, err)
		}
		if v := model(&c).Text.Vocab; v != vocab {
			t.Errorf("vocab %d, want the tokenizer's %d", v, vocab)
		}
	}
	_, _, err := resolveOn(rows16, 32)
	if !errors.Is(err, train.ErrConfig) || !strings.Contains(err.Error(), "rows of 16 tokens") || !strings.Contains(err.Error(), "--seq-len 32") {
		t.Errorf("rows of 16 for seq_len 32: %v", err)
	}
}
