package data2vec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestCollapseMonitor forces the monitor to fire (a threshold above any
// real variance): it warns on every checked step, or stops the run with
// ErrCollapse after saving the weights.
func TestCollapseMonitor(t *testing.T) {
	if _, err := os.Stat("/usr/share/games/fortunes"); err != nil {
		t.Skip("fortunes not installed")
	}
	for _, stop := range []bool{false, true} {
		c := tiny(t, "text")
		c.Limit, c.Model.Vocab, c.Model.SeqLen = 200, 200, 16
		c.Steps, c.LogEvery = 6, 2
		c.Collapse = CollapseConfig{MinTargetVar: 10, MinPredVar: 0.01, After: 2, Stop: stop}
		res, err := Train(context.Background(), c, RunOptions{})
		if stop {
			if !errors.Is(err, ErrCollapse) || res == nil || res.Steps != 3 {
				t.Fatalf("stop: err %v, result %+v; want ErrCollapse at step 3", err, res)
			}
			if _, err := os.Stat(filepath.Join(c.Dir, "model.safetensors")); err != nil {
				t.Errorf("stopped run saved no weights: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if res.Final.CollapseWarnings != 4 {
			t.Errorf("%d warnings, want 4 (steps 3-6)", res.Final.CollapseWarnings)
		}
	}
}

// TestConfigRoundTrip writes and reloads each preset; unknown fields are
// rejected.
func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, mod := range Modalities {
		c, _ := Preset(mod, "")
		c.Model.TopK, c.Steps = 1, 17
		y, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, mod+".yaml")
		os.WriteFile(p, y, 0o644)
		got, err := LoadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		y2, _ := got.YAML()
		if string(y2) != string(y) || !reflect.DeepEqual(got.Model.Encoder, c.Model.Encoder) {
			t.Errorf("%s: reloaded config differs:\n%s\n%s", mod, y2, y)
		}
	}
	p := filepath.Join(dir, "bad.yaml")
	os.WriteFile(p, []byte("modality: text\nmodel:\n  top_kk: 3\n"), 0o644)
	if _, err := LoadConfig(p); err == nil {
		t.Error("unknown field accepted")
	}
	bad, _ := Preset("audio", "")
	bad.Model.TopK = 99
	if bad.Validate() == nil {
		t.Error("top_k above the layer count accepted")
	}
}
