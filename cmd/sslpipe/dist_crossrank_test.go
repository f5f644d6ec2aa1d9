//go:build cgo

package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// metricLosses reads the loss of every line of RUN/metrics.jsonl.
func metricLosses(t *testing.T, run string) []float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m struct{ Loss float64 }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Loss)
	}
	return out
}

// TestDataParallelCrossRank: the methods whose loss needs every rank's
// samples, SimCLR (negatives gathered with gradient), MoCo v3 (keys
// gathered) and DINO (the center updated with the batch mean over all
// ranks), train the same on 2 Gloo processes x batch 4 as in 1 plain
// process (no process group, so no gather at all) x batch 8: each step's logged loss and, after 3 steps, every weight
// (teachers, momentum encoders and DINO's center included) within 1e-5
// relative. The set-up avoids what makes ranks differ by design: a ViT
// backbone (LayerNorm, no BatchNorm), heads without BatchNorm (no_bn;
// DINO's head has none), no drop path, SGD with momentum and no weight
// decay (an update proportional to the gradient keeps rounding noise
// rounding noise, as in TestDataParallelEquivalence). Views are keyed by
// sample, so the two ranks' batches together are the one process's batch.
// The tolerance: float32 sums taken in another order (a batch of 8 against
// two of 4 and an all-reduce) differ by ~1e-7 relative per operation; the
// worst tensors, LayerNorm biases that start at 0, showed 1e-6 to 4e-6 at
// revision 943231c. With the gather and the all-reduce taken out of the
// runner (each rank's own negatives, keys and center) the losses differed
// by 0.29 (SimCLR), 0.33 (MoCo v3) and 2.5e-3 (DINO; its center by 4.3e-2);
// with SimCLR's gathered negatives detached (no gradient to other ranks'
// views) the loss differed by 5.4e-3 and the weights by 0.74.
func TestDataParallelCrossRank(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes")
	}
	dir := t.TempDir()
	images := datatest.ImageShards(t, dir, 64, 4)
	const optim = "optim:\n  name: sgd\n  momentum: 0.9\n  weight_decay: 0\n"
	for _, c := range []struct{ method, yaml string }{
		// 28-pixel views in 7-pixel patches: 16 tokens.
		{"simclr", "model:\n  arch: {name: vit-nano, in_channels: 1, image_size: 28, patch: 7, widths: [], pool: 0}\n" +
			"  heads: {hidden: 64, out: 32, no_bn: true}\n"},
		{"mocov3", "model:\n  arch: {name: vit-nano, in_channels: 1, image_size: 28, patch: 7, widths: [], pool: 0}\n" +
			"  heads: {hidden: 64, out: 32, pred_hidden: 64, layers: 2, no_bn: true}\n"},
		// 4-pixel patches: the 12-pixel local crops make a 3 x 3 grid.
		// The last layer trains from the start and the teacher
		// temperature is constant, so that every part of the loss moves.
		{"dino", "model:\n  arch: {name: vit-nano, in_channels: 1, image_size: 28, patch: 4, widths: [], pool: 0}\n" +
			"dino:\n  freeze_last_layer_epochs: 0\n  warmup_teacher_temp_epochs: 0\n  weight_decay_end: 0\n"},
	} {
		t.Run(c.method, func(t *testing.T) {
			cfg := filepath.Join(dir, c.method+".yaml")
			if err := os.WriteFile(cfg, []byte("method: "+c.method+"\n"+c.yaml+optim), 0o644); err != nil {
				t.Fatal(err)
			}
			common := []string{"--config", cfg, "--preset", "smoke", "--data", images, "--steps", "3", "--batch", "8",
				"--threads", "1", "--workers", "1", "--log-every", "1", "--quiet"}
			one := filepath.Join(dir, c.method+"-1proc")
			trainAlone(t, append(common, "--out", one)...)
			two := filepath.Join(dir, c.method+"-2proc")
			launch(t, 2, append(common, "--out", two)...)
			l1, l2 := metricLosses(t, one), metricLosses(t, two)
			if len(l1) != 3 || len(l2) != 3 {
				t.Fatalf("%s: %d and %d loss lines, want 3", c.method, len(l1), len(l2))
			}
			var lossRel float64
			for i := range l1 {
				lossRel = math.Max(lossRel, math.Abs(l2[i]-l1[i])/math.Abs(l1[i]))
			}
			worst, which := tensorsRel(t, two, one, func(n string) bool { return !strings.HasPrefix(n, "optim.") })
			t.Logf("%s: 2 x 4 vs 1 x 8: losses %.6g vs %.6g (worst %.2g relative), worst weight difference %.2g (%s)",
				c.method, l2, l1, lossRel, worst, which)
			if lossRel > 1e-5 {
				t.Errorf("%s: losses differ by %.3g relative: %v vs %v", c.method, lossRel, l2, l1)
			}
			if worst > 1e-5 {
				t.Errorf("%s: weights differ by %.3g relative (%s)", c.method, worst, which)
			}
		})
	}
}
