package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sslpipe/sslpipe/datasets"
)

// tinyConfig is a small BYOL run on the first images of Fashion-MNIST.
func tinyConfig(t *testing.T, steps int64) Config {
	t.Helper()
	if _, err := os.Stat(datasets.FashionMNISTDir()); err != nil {
		t.Skip("Fashion-MNIST not installed:", err)
	}
	c, err := Preset("byol", "fmnist-quick")
	if err != nil {
		t.Fatal(err)
	}
	c.Arch.Widths = []int64{8, 16, 32}
	c.Heads = Heads{Hidden: 64, Out: 32}
	c.Batch = 32
	c.Steps = steps
	c.WarmupSteps = 2
	c.Data.Limit = 512
	c.Data.Workers = 2
	c.LogEvery = 2
	c.Checkpoint = CheckpointConfig{Every: 0, Keep: 2}
	c.Monitor.Every = 0
	c.Dir = filepath.Join(t.TempDir(), "run")
	return c
}

func TestResumeIsExact(t *testing.T) {
	const n = 4
	full := tinyConfig(t, 2*n)
	ra, err := Run(context.Background(), full, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	half := full
	half.Dir = filepath.Join(t.TempDir(), "run")
	rb, err := Run(context.Background(), half, RunOptions{StopAfter: n})
	if err != nil {
		t.Fatal(err)
	}
	if !rb.Interrupted || rb.Steps != n {
		t.Fatalf("first half: steps %d interrupted %v", rb.Steps, rb.Interrupted)
	}
	rc, err := Run(context.Background(), Config{Dir: half.Dir}, RunOptions{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	got := append(append([]float64(nil), rb.Losses...), rc.Losses...)
	if len(got) != len(ra.Losses) {
		t.Fatalf("%d losses after resume, want %d", len(got), len(ra.Losses))
	}
	for i := range got {
		if got[i] != ra.Losses[i] {
			t.Errorf("step %d: loss %.9g after resume, %.9g uninterrupted", i+1, got[i], ra.Losses[i])
		}
	}
	// Final checkpoints hold identical tensors.
	ta, _, err := ReadCheckpoint(ra.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	tc, _, err := ReadCheckpoint(rc.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range ta {
		c := tc[name]
		for i := range a.F32 {
			if a.F32[i] != c.F32[i] {
				t.Errorf("%s[%d]: %g after resume, %g uninterrupted", name, i, c.F32[i], a.F32[i])
				break
			}
		}
	}
	t.Logf("losses %v", ra.Losses)
}

func TestCancelWritesCheckpoint(t *testing.T) {
	c := tinyConfig(t, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hook := Hook{Name: "cancel", Every: 3, Fn: func(context.Context, *Status) error { cancel(); return nil }}
	res, err := Run(ctx, c, RunOptions{Hooks: []Hook{hook}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if res == nil || res.Steps != 3 || !res.Interrupted {
		t.Fatalf("result %+v", res)
	}
	if _, err := os.Stat(CheckpointPath(c.Dir, 3)); err != nil {
		t.Fatal(err)
	}
	_, st, err := ReadCheckpoint(CheckpointPath(c.Dir, 3))
	if err != nil {
		t.Fatal(err)
	}
	if st.Step != 3 || st.Pipeline == nil || st.Pipeline.Emitted != 3 {
		t.Errorf("state %+v, pipeline %+v", st, st.Pipeline)
	}
}

func TestBadCheckpointRejected(t *testing.T) {
	c := tinyConfig(t, 2)
	res, err := Run(context.Background(), c, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"truncated": good[:len(good)/2],
		"empty":     nil,
		"flipped":   append(append([]byte(nil), good[:len(good)-10]...), append([]byte{good[len(good)-10] ^ 0x40}, good[len(good)-9:]...)...),
		"header":    append([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, good[8:]...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(res.Checkpoint, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Run(context.Background(), Config{Dir: c.Dir}, RunOptions{Resume: true})
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("resume from %s checkpoint: err %v, want ErrBadCheckpoint", name, err)
			}
			t.Log(err)
		})
	}
	// A checkpoint from another architecture.
	if err := os.WriteFile(res.Checkpoint, good, 0o644); err != nil {
		t.Fatal(err)
	}
	other := c
	other.Arch.Widths = []int64{8, 16, 64}
	y, _ := other.YAML()
	if err := os.WriteFile(filepath.Join(c.Dir, "config.yaml"), y, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Config{Dir: c.Dir}, RunOptions{Resume: true})
	if !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("mismatched arch: err %v, want ErrBadCheckpoint", err)
	}
	t.Log(err)
}

// TestTinyBYOLLearns trains a small BYOL on Fashion-MNIST: the loss must
// fall and the teacher's kNN top-1 on held-out images must beat the same
// network at its random initialization.
func TestTinyBYOLLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a minute or two")
	}
	c := tinyConfig(t, 50)
	c.Batch = 48
	c.WarmupSteps = 5
	c.Data.Limit = 2400
	c.Optim.LR = 3e-3
	res, err := Run(context.Background(), c, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	first, last := mean(res.Losses[:5]), mean(res.Losses[len(res.Losses)-10:])
	if !(last < 0.7*first) {
		t.Errorf("loss fell from %.3f to %.3f only", first, last)
	}
	tr, err := loadKNNSet("fashion-mnist:train", 1500)
	if err != nil {
		t.Fatal(err)
	}
	te, err := loadKNNSet("fashion-mnist:test", 500)
	if err != nil {
		t.Fatal(err)
	}
	acc := func(e *Encoder) float64 {
		defer e.Close()
		a, err := KNNAccuracy(e, tr.imgs, te.imgs, tr.labels, te.labels, 200, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	enc, err := OpenEncoder(c.Dir, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rnd, err := RandomEncoder(c.Dir, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	trained, random := acc(enc), acc(rnd)
	t.Logf("loss %.3f -> %.3f; kNN top-1 (1500 train / 500 test): trained %.3f, random init %.3f", first, last, trained, random)
	if !(trained > random) {
		t.Errorf("trained kNN %.3f does not beat random init %.3f", trained, random)
	}
}
