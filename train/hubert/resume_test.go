package hubert

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/train"
)

// TestResumeIsExact runs 2N steps in one go and N steps + resume N in
// two calls: every loss and the final weights must be identical, since
// the data order, crops, masks and the libtorch RNG are functions of the
// step. Then a changed config and a corrupt checkpoint are refused, and
// a cancelled context writes a checkpoint.
func TestResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	data, labels := writeToneSet(t, dir, 16, 4, 8, 8000)
	const n = 4
	cfg := func(run string) Config {
		c := tinyConfig(filepath.Join(dir, run), data, labels)
		c.Steps, c.LogEvery, c.ValEvery, c.CheckpointEvery = 2*n, 1, 0, 3
		c.Model.Encoder.Dropout = 0.1 // dropout draws must not depend on the resume point
		c.MaxSamples = 8000
		return c
	}
	full, err := Train(context.Background(), cfg("full"), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := Train(context.Background(), cfg("split"), RunOptions{StopAfter: n})
	if err != nil || !first.Interrupt || first.Steps != n {
		t.Fatalf("first half: err %v, result %+v", err, first)
	}
	if _, err := Train(context.Background(), cfg("split"), RunOptions{}); err == nil {
		t.Error("a second fresh run in a folder with checkpoints was not refused")
	}
	second, err := Train(context.Background(), cfg("split"), RunOptions{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	if second.Start != n || second.Steps != 2*n {
		t.Fatalf("resume: start %d steps %d, want %d and %d", second.Start, second.Steps, n, 2*n)
	}
	got := append(append([]float64(nil), first.Losses...), second.Losses...)
	if len(got) != len(full.Losses) {
		t.Fatalf("%d losses after resume, %d in one run", len(got), len(full.Losses))
	}
	for i := range got {
		if got[i] != full.Losses[i] && !(math.IsNaN(got[i]) && math.IsNaN(full.Losses[i])) {
			t.Errorf("step %d: loss %v after resume, %v in one run", i+1, got[i], full.Losses[i])
		}
	}
	sameWeights(t, filepath.Join(dir, "full", "model.safetensors"), filepath.Join(dir, "split", "model.safetensors"))
	// metrics.jsonl has each step once.
	ml, _ := os.ReadFile(filepath.Join(dir, "split", "metrics.jsonl"))
	if c := bytes.Count(ml, []byte("\n")); c != 2*n {
		t.Errorf("metrics.jsonl of the resumed run has %d lines, want %d", c, 2*n)
	}

	// A resume with another learning rate is refused, naming the change.
	c := cfg("split")
	c.Steps = 3 * n
	c.Optim.LR *= 2
	if _, err := Train(context.Background(), c, RunOptions{Resume: true}); !errors.Is(err, train.ErrBadCheckpoint) {
		t.Errorf("resume with a changed config: %v, want ErrBadCheckpoint", err)
	} else {
		t.Log(err)
	}
	// A corrupt checkpoint is refused.
	last, err := train.LatestCheckpoint(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(last)
	raw[len(raw)-5] ^= 0xff
	os.WriteFile(last, raw, 0o644)
	c = cfg("split")
	c.Steps = 3 * n
	if _, err := Train(context.Background(), c, RunOptions{Resume: true}); !errors.Is(err, train.ErrBadCheckpoint) {
		t.Errorf("resume from a corrupt checkpoint: %v, want ErrBadCheckpoint", err)
	}

	// Cancelling the context (what SIGTERM does in the CLI) checkpoints.
	ctx, cancel := context.WithCancel(context.Background())
	c = cfg("cancel")
	c.CheckpointEvery = 0
	res, err := Train(ctx, c, RunOptions{Hooks: []train.LoopHook{{Name: "cancel", Every: 2, Fn: func(context.Context, int64) error {
		cancel()
		return nil
	}}}})
	if !errors.Is(err, context.Canceled) || res == nil || res.Steps != 2 || res.Checkpoint == "" {
		t.Fatalf("cancelled run: err %v, result %+v", err, res)
	}
	if _, err := os.Stat(train.CheckpointPath(c.Dir, 2)); err != nil {
		t.Errorf("no checkpoint after cancel: %v", err)
	}
}

// sameWeights asserts that two safetensors files hold bitwise equal
// tensors (their metadata name different run folders).
func sameWeights(t *testing.T, a, b string) {
	t.Helper()
	read := func(p string) map[string]train.STensor {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ts, _, err := train.ParseSafetensors(data)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	ta, tb := read(a), read(b)
	if len(ta) == 0 || len(ta) != len(tb) {
		t.Fatalf("%d tensors vs %d", len(ta), len(tb))
	}
	for k, x := range ta {
		y := tb[k]
		if !slices.Equal(x.F32, y.F32) {
			t.Errorf("tensor %s differs between the resumed and the uninterrupted run", k)
		}
	}
}
