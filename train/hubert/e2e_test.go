package hubert

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
)

func tinyConfig(dir, data, labels string) Config {
	c, _ := Preset("cpu-small")
	c.Model = smallModel(32, 64, 2)
	c.Model.Encoder.Heads = 4
	c.Model.Encoder.PosConvKernel, c.Model.Encoder.PosConvGroups = 16, 8
	c.Model.FinalDim, c.Model.NumClasses = 32, 8
	c.Data, c.Labels, c.Dir = data, labels, dir
	c.Batch, c.MaxSamples, c.Steps = 4, 16000, 60
	c.Optim.LR, c.Optim.WarmupSteps = 4e-3, 8
	c.LogEvery, c.ValEvery = 20, 20
	c.Threads = 1
	return c
}

// TestTrainTinyMaskedAccuracyRises pretrains a tiny HuBERT on synthetic
// tone sequences (labels: the tone at each frame, k = 8) and checks that
// the masked-frame accuracy on held-out utterances rises well above its
// first value and chance.
func TestTrainTinyMaskedAccuracyRises(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for 60 steps")
	}
	dir := t.TempDir()
	data, labels := writeToneSet(t, dir, 48, 8, 8, 16000)
	cfg := tinyConfig(filepath.Join(dir, "run"), data, labels)
	res, err := Train(context.Background(), cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var first, last float64
	for i, m := range res.Curve {
		if m.ValAccM == nil {
			t.Fatalf("step %d: no validation accuracy", m.Step)
		}
		t.Logf("step %3d loss %.3f train acc_m %.3f valid acc_m %.3f acc_u %.3f pen %.4f", m.Step, m.Loss, m.AccM, *m.ValAccM, *m.ValAccU, m.FeatPen)
		if i == 0 {
			first = *m.ValAccM
		}
		last = *m.ValAccM
	}
	if !(last > first+0.15 && last > 3*res.Chance) {
		t.Errorf("held-out masked accuracy went from %.3f to %.3f (chance %.3f): not learning", first, last, res.Chance)
	}
	// The run folder: config, metrics lines with the HuBERT fields, weights.
	data2, err := os.ReadFile(filepath.Join(cfg.Dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data2)), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"loss", "acc_m", "acc_u", "feature_pen", "val_acc_m", "lr"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metrics.jsonl lacks %q", k)
		}
	}
	for _, p := range []string{"plots/accuracy.png", "plots/loss.png", "config.yaml", "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(cfg.Dir, p)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	mod, _, err := OpenRun(cfg.Dir, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Free()
	emb, err := Embed(mod, [][]float32{make([]float32, 8000)}, 2, 0)
	if err != nil || len(emb) != 1 || len(emb[0]) != 64 {
		t.Fatalf("embed: %v %v", len(emb), err)
	}
}
