package methods

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// shards makes one tiny preprocessed dataset per modality, once.
func shards(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	return map[string]string{
		data.Image: datatest.ImageShards(t, dir, 96, 4),
		data.Audio: datatest.AudioShards(t, dir, 12, 1, 8),
		data.Text:  datatest.TextShards(t, dir, 400, 150, 32),
	}
}

// smokeConfig is method m's smoke preset on spec, shrunk to steps steps
// with a line and a checkpoint every step.
func smokeConfig(t *testing.T, m *train.Method, modality, spec, out string, steps int64) train.Config {
	t.Helper()
	ds, err := data.Open(spec, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	preset := "smoke"
	if !slices.Contains(m.PresetNames(), preset) {
		preset = "smoke-" + modality
	}
	c, err := train.PresetConfig(m.Name, preset)
	if err != nil {
		t.Fatalf("%s: every method needs a smoke preset: %v", m.Name, err)
	}
	c.Data.Spec, c.Data.Modality, c.Out = spec, modality, out
	c.Schedule.Steps, c.Schedule.WarmupSteps = steps, 2
	c.Data.Batch = min(c.Data.Batch, 8)
	c.Data.Workers, c.Threads = 2, 1
	c.Log.Every, c.Checkpoint.Every, c.Checkpoint.Keep = 1, 0, 2
	c.Monitor.Every = 0
	c.Device = "cpu"
	if err := train.ResolveConfig(&c, ds); err != nil {
		t.Fatalf("%s on %s: %v", m.Name, modality, err)
	}
	return c
}

// losses reads the loss of every line of RUN/metrics.jsonl; a NaN or a
// missing loss fails the test (NaN == NaN must never pass a resume check).
func losses(t *testing.T, dir string) []float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		l, ok := m["loss"].(float64)
		if !ok || math.IsNaN(l) || math.IsInf(l, 0) {
			t.Fatalf("%s: step %v has loss %v", dir, m["step"], m["loss"])
		}
		out = append(out, l)
	}
	return out
}

// finalTensors reads the newest checkpoint's tensors.
func finalTensors(t *testing.T, dir string) map[string]train.STensor {
	t.Helper()
	p, err := train.LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := train.ReadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestEveryMethodTrainsAndResumesExactly trains every registered method
// on every modality it supports from tiny preprocess shards: 10 steps in
// one run, and 5 + 5 steps with a resume in between must give bitwise
// equal losses and checkpoint tensors (weights, teachers, optimizer
// state). A method is covered by registering it.
func TestEveryMethodTrainsAndResumesExactly(t *testing.T) {
	sets := shards(t)
	for _, m := range train.Methods() {
		for _, mod := range m.Modalities {
			t.Run(m.Name+"/"+mod, func(t *testing.T) {
				const n = 5
				dir := t.TempDir()
				full := smokeConfig(t, m, mod, sets[mod], filepath.Join(dir, "full"), 2*n)
				if _, err := train.Run(context.Background(), full, train.RunOptions{}); err != nil {
					t.Fatal(err)
				}
				half := full
				half.Out = filepath.Join(dir, "half")
				res, err := train.Run(context.Background(), half, train.RunOptions{StopAfter: n})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Interrupted || res.Steps != n {
					t.Fatalf("first half: %d steps, interrupted %v", res.Steps, res.Interrupted)
				}
				resumed, err := train.LoadConfig(filepath.Join(half.Out, "config.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				resumed.Out = half.Out
				if _, err := train.Run(context.Background(), resumed, train.RunOptions{Resume: true}); err != nil {
					t.Fatal(err)
				}
				a, b := losses(t, full.Out), losses(t, half.Out)
				if len(a) != 2*n || !slices.Equal(a, b) {
					t.Fatalf("losses differ after resume:\n full %v\n half %v", a, b)
				}
				ta, tb := finalTensors(t, full.Out), finalTensors(t, half.Out)
				if len(ta) == 0 || len(ta) != len(tb) {
					t.Fatalf("checkpoints hold %d and %d tensors", len(ta), len(tb))
				}
				for name, x := range ta {
					y, ok := tb[name]
					if !ok || !slices.Equal(x.F32, y.F32) {
						t.Fatalf("tensor %s differs after resume", name)
					}
				}
				t.Logf("%s/%s: losses %.4f -> %.4f", m.Name, mod, a[0], a[len(a)-1])
			})
		}
	}
}

// TestResumeRefusesAnotherConfig: a resume whose config differs from the
// checkpoint's (another learning rate) is refused, naming the line.
func TestResumeRefusesAnotherConfig(t *testing.T) {
	sets := shards(t)
	m, err := train.Lookup("byol")
	if err != nil {
		t.Fatal(err)
	}
	c := smokeConfig(t, m, data.Image, sets[data.Image], filepath.Join(t.TempDir(), "run"), 4)
	if _, err := train.Run(context.Background(), c, train.RunOptions{StopAfter: 2}); err != nil {
		t.Fatal(err)
	}
	c.Optim.LR *= 2
	_, err = train.Run(context.Background(), c, train.RunOptions{Resume: true})
	if err == nil || !errors.Is(err, train.ErrBadCheckpoint) {
		t.Fatalf("resume with another lr: %v", err)
	}
	t.Log(err)
}
