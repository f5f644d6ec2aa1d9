package data2vec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
)

// TestResumeIsExact: for each modality, through train.Run on preprocess
// shards, 8 steps in one run and 4 steps + resume 4 give bitwise equal
// losses (metrics.jsonl), student, teacher and AdamW tensors, and final
// weights; a resume with another EMA schedule is refused
// (ErrBadCheckpoint).
func TestResumeIsExact(t *testing.T) {
	for _, modality := range []string{data.Image, data.Text, data.Audio} {
		t.Run(modality, func(t *testing.T) {
			const n = 4
			root := t.TempDir()
			full := smokeRun(t, modality, filepath.Join(root, "full"), 2*n)
			model(&full).Encoder.Dropout = 0.1 // dropout draws must resume too
			if _, err := train.Run(context.Background(), full, train.RunOptions{}); err != nil {
				t.Fatal(err)
			}
			half := full
			half.Out = filepath.Join(root, "half")
			res, err := train.Run(context.Background(), half, train.RunOptions{StopAfter: n})
			if err != nil || res.Steps != n || !res.Interrupted {
				t.Fatalf("first half: err %v, result %+v", err, res)
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
				t.Fatalf("losses differ after resume:\n full    %v\n resumed %v", a, b)
			}
			ta, sa := lastCheckpoint(t, full.Out)
			tb, sb := lastCheckpoint(t, half.Out)
			if sa.Step != 2*n || sb.Step != 2*n || sa.OptSteps != sb.OptSteps {
				t.Fatalf("checkpoints at steps %d and %d, %d and %d updates", sa.Step, sb.Step, sa.OptSteps, sb.OptSteps)
			}
			var teacher, optim int
			for name, x := range ta {
				y, ok := tb[name]
				if !ok || !slices.Equal(x.F32, y.F32) {
					t.Fatalf("tensor %s differs after resume", name)
				}
				switch {
				case len(name) > 8 && name[:8] == "teacher.":
					teacher++
				case len(name) > 6 && name[:6] == "optim.":
					optim++
				}
			}
			if len(ta) != len(tb) || teacher == 0 || optim == 0 {
				t.Fatalf("checkpoints hold %d and %d tensors (%d teacher, %d optimizer)", len(ta), len(tb), teacher, optim)
			}
			wa, wb := readST(t, filepath.Join(full.Out, "model.safetensors")), readST(t, filepath.Join(half.Out, "model.safetensors"))
			for name, x := range wa {
				if !slices.Equal(x.F32, wb[name].F32) {
					t.Fatalf("model.safetensors: %s differs after resume", name)
				}
			}
			t.Logf("%s: losses %.4f -> %.4f, %d tensors equal", modality, a[0], a[len(a)-1], len(ta))

			resumed.Schedule.Steps = 3 * n
			settings(&resumed).EMA.End = 0.9
			if _, err := train.Run(context.Background(), resumed, train.RunOptions{Resume: true}); !errors.Is(err, train.ErrBadCheckpoint) {
				t.Errorf("resume with another EMA schedule: %v, want ErrBadCheckpoint", err)
			}
		})
	}
}

// TestTrainLearns trains each modality's smoke model for 40 steps on its
// tiny shards: the loss falls below 80% of the first steps', the target
// variance never falls below the collapse threshold, the run writes its
// weights (and, for text, the dataset's tokenizer), and the encoder opened
// from the run embeds its data differently from its random init.
func TestTrainLearns(t *testing.T) {
	for _, modality := range []string{data.Image, data.Text, data.Audio} {
		t.Run(modality, func(t *testing.T) {
			if modality == data.Audio && testing.Short() {
				t.Skip("slow")
			}
			c := smokeRun(t, modality, t.TempDir(), 40)
			c.Log.Every = 10
			c.Schedule.WarmupSteps = 10
			settings(&c).EMA = EMAConfig{0.99, 0.999, 40}
			res, err := train.Run(context.Background(), c, train.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			lines := metricsLines(t, c.Out)
			first, last := lines[0], lines[len(lines)-1]
			t.Logf("%s: loss %.4f -> %.4f, target_var %.3f -> %.3f (min in the last window %.3f), pred_var %.3f, %.0f ms/step",
				modality, first["loss"], last["loss"], first["target_var"], last["target_var"], last["min_target_var"], last["pred_var"], last["step_ms"])
			if !(last["loss"] < 0.8*first["loss"]) {
				t.Errorf("loss did not fall: %v -> %v", first["loss"], last["loss"])
			}
			for _, m := range lines {
				if m["min_target_var"] < settings(&c).Collapse.MinTargetVar || m["nan_skipped"] > 0 || m["collapse"] > 0 {
					t.Errorf("step %v: min target variance %v, %v NaN steps, collapse %v", m["step"], m["min_target_var"], m["nan_skipped"], m["collapse"])
				}
			}
			if res.Steps != 40 {
				t.Errorf("%d steps", res.Steps)
			}
			if _, err := os.Stat(filepath.Join(c.Out, "model.safetensors")); err != nil {
				t.Error(err)
			}
			if _, err := os.Stat(filepath.Join(c.Out, "tokenizer.json")); (err == nil) != (modality == data.Text) {
				t.Errorf("tokenizer.json: %v", err)
			}
			checkRunEncoder(t, c)
		})
	}
}

// checkRunEncoder opens the run's encoder through the registry, trained
// and random, and embeds a few of its examples.
func checkRunEncoder(t *testing.T, c train.Config) {
	t.Helper()
	ds, err := train.OpenData(&c)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	ex, err := ds.Collect(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	m, err := train.Lookup("data2vec")
	if err != nil {
		t.Fatal(err)
	}
	run, err := train.LoadConfig(filepath.Join(c.Out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vecs [2][][]float32
	for i, random := range []bool{false, true} {
		e, err := m.Encoder(&train.RunInfo{Dir: c.Out, Config: run}, train.EncoderOptions{Random: random})
		if err != nil {
			t.Fatal(err)
		}
		vecs[i], err = e.Embed(ex)
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(vecs[i]) != len(ex) || len(vecs[i][0]) != e.Dim() {
			t.Fatalf("%d vectors of %d for %d examples, dim %d", len(vecs[i]), len(vecs[i][0]), len(ex), e.Dim())
		}
	}
	if slices.Equal(vecs[0][0], vecs[1][0]) {
		t.Error("trained and random-init encoders give the same vector")
	}
}

// TestCollapseMonitor forces the monitor to fire (a threshold above any
// real variance): it warns on every checked step, or stops the run with a
// checkpoint and an error wrapping ErrCollapse and train.ErrStopRun.
func TestCollapseMonitor(t *testing.T) {
	for _, stop := range []bool{false, true} {
		c := smokeRun(t, data.Text, t.TempDir(), 6)
		settings(&c).Collapse = CollapseConfig{MinTargetVar: 10, MinPredVar: 0.01, After: 2, Stop: stop}
		res, err := train.Run(context.Background(), c, train.RunOptions{})
		if stop {
			if !errors.Is(err, ErrCollapse) || !errors.Is(err, train.ErrStopRun) || res == nil || res.Steps != 3 {
				t.Fatalf("stop: err %v, result %+v; want ErrCollapse at step 3", err, res)
			}
			if _, st := lastCheckpoint(t, c.Out); st.Step != 3 {
				t.Errorf("stopped run's checkpoint is at step %d, want 3", st.Step)
			}
			if _, err := os.Stat(filepath.Join(c.Out, "model.safetensors")); err != nil {
				t.Errorf("stopped run saved no weights: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var flags []float64
		for _, m := range metricsLines(t, c.Out) {
			flags = append(flags, m["collapse"])
		}
		if want := []float64{0, 0, 1, 1, 1, 1}; !slices.Equal(flags, want) {
			t.Errorf("collapse per step %v, want %v", flags, want)
		}
	}
}
