package train

import (
	"math"
	"strings"
	"testing"
)

func TestPresetsValidateAndRoundTrip(t *testing.T) {
	for _, p := range Presets("byol") {
		c, err := Preset("byol", p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("preset %s: %v", p, err)
		}
		y, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig(p, y)
		if err != nil {
			t.Fatalf("preset %s: %v", p, err)
		}
		y2, _ := back.YAML()
		if string(y) != string(y2) {
			t.Errorf("preset %s does not round-trip:\n%s\n---\n%s", p, y, y2)
		}
	}
}

func TestParseConfigOverridesPreset(t *testing.T) {
	c, err := ParseConfig("x.yaml", []byte("preset: fmnist-quick\nsteps: 7\noptim:\n  name: lars\narch:\n  widths: [4, 8]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Steps != 7 || c.Optim.Name != "lars" || c.Optim.Momentum != 0.9 || len(c.Arch.Widths) != 2 || c.Arch.Name != "convnet" {
		t.Errorf("got steps %d optim %+v arch %+v", c.Steps, c.Optim, c.Arch)
	}
	if _, err := ParseConfig("x.yaml", []byte("stepz: 7\n")); err == nil || !strings.Contains(err.Error(), "stepz") {
		t.Errorf("unknown field: err %v", err)
	}
	if _, err := Preset("byol", "nope"); err == nil {
		t.Error("unknown preset accepted")
	}
	if _, err := Preset("simclr", ""); err == nil {
		t.Error("unknown method accepted")
	}
}

func TestConfigValidateRejects(t *testing.T) {
	base, _ := Preset("byol", "fmnist-quick")
	for name, f := range map[string]func(*Config){
		"batch":    func(c *Config) { c.Batch = 1 },
		"optim":    func(c *Config) { c.Optim.Name = "rmsprop" },
		"momentum": func(c *Config) { c.Optim.Momentum = 1 },
		"device":   func(c *Config) { c.Device = "tpu" },
		"tau":      func(c *Config) { c.Tau.Base = 1.5 },
		"channels": func(c *Config) { c.Arch.InChannels = 3 },
		"views":    func(c *Config) { c.Data.Augment.Views = c.Data.Augment.Views[:1] },
	} {
		c := base
		c.Data.Augment.Views = append(c.Data.Augment.Views[:0:0], base.Data.Augment.Views...)
		f(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}

func TestSchedules(t *testing.T) {
	s := LRSchedule{Base: 1, Final: 0.1, Warmup: 4, Total: 14}
	for _, c := range []struct {
		k    int64
		want float64
	}{{0, 0.25}, {3, 1}, {4, 1}, {9, 0.55}, {14, 0.1}, {100, 0.1}} {
		if got := s.At(c.k); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("lr(%d) = %v, want %v", c.k, got, c.want)
		}
	}
	if got := ScaledLR(0.2, 4096); got != 3.2 {
		t.Errorf("scaled lr %v", got)
	}
	cos := TauSchedule{Kind: "cosine", Base: 0.996}
	if cos.At(0, 100) != 0.996 || math.Abs(cos.At(50, 100)-0.998) > 1e-12 || cos.At(100, 100) != 1 {
		t.Errorf("cosine tau %v %v %v", cos.At(0, 100), cos.At(50, 100), cos.At(100, 100))
	}
	lin := TauSchedule{Kind: "linear", Base: 0.999, End: 0.9999, Steps: 30000}
	if lin.At(0, 0) != 0.999 || math.Abs(lin.At(15000, 0)-0.99945) > 1e-12 || lin.At(30000, 0) != 0.9999 || lin.At(90000, 0) != 0.9999 {
		t.Errorf("linear tau %v %v %v", lin.At(0, 0), lin.At(15000, 0), lin.At(90000, 0))
	}
}

func TestEmbStd(t *testing.T) {
	// Collapsed: every row the same direction.
	col := []float32{1, 2, 1, 2, 1, 2, 1, 2}
	if s := embStd(col, 2); s > 1e-7 {
		t.Errorf("collapsed std %v", s)
	}
	// Orthogonal rows spread over both dims.
	spread := []float32{1, 0, 0, 1, 1, 0, 0, 1}
	if s := embStd(spread, 2); s < 0.5 {
		t.Errorf("spread std %v", s)
	}
}
