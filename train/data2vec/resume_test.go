package data2vec

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/train"
)

// TestResumeIsExact: for images and text, 2N steps in one call and N
// steps + resume N give identical losses, student and teacher (EMA)
// weights; a changed config is refused with ErrBadCheckpoint.
func TestResumeIsExact(t *testing.T) {
	for _, modality := range []string{"image", "text"} {
		t.Run(modality, func(t *testing.T) {
			switch modality {
			case "image":
				if _, err := datasets.FashionMNIST("", "train"); err != nil {
					t.Skip(err)
				}
			case "text":
				if _, err := os.Stat("/usr/share/games/fortunes"); err != nil {
					t.Skip("fortunes not installed")
				}
			}
			const n = 4
			root := t.TempDir()
			cfg := func(run string) Config {
				c := tiny(t, modality)
				c.Dir = filepath.Join(root, run)
				c.Limit = 128
				if modality == "text" {
					c.Limit, c.Model.Vocab, c.Model.SeqLen = 200, 200, 16
				}
				c.Model.Encoder.Dropout = 0.1
				c.Steps, c.LogEvery, c.CheckpointEvery = 2*n, 1, 3
				return c
			}
			full, err := Train(context.Background(), cfg("full"), RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			first, err := Train(context.Background(), cfg("split"), RunOptions{StopAfter: n})
			if err != nil || first.Steps != n {
				t.Fatalf("first half: err %v, result %+v", err, first)
			}
			c := cfg("split")
			if modality == "text" {
				c.Tokenizer = filepath.Join(c.Dir, "tokenizer.json") // as the run's config.yaml says
			}
			second, err := Train(context.Background(), c, RunOptions{Resume: true})
			if err != nil {
				t.Fatal(err)
			}
			got := append(slices.Clone(first.Losses), second.Losses...)
			if len(got) != 2*n || len(full.Losses) != 2*n {
				t.Fatalf("%d and %d losses, want %d", len(got), len(full.Losses), 2*n)
			}
			for i := range got {
				if got[i] != full.Losses[i] && !(math.IsNaN(got[i]) && math.IsNaN(full.Losses[i])) {
					t.Errorf("step %d: loss %v after resume, %v in one run", i+1, got[i], full.Losses[i])
				}
			}
			a, b := readWeights(t, filepath.Join(root, "full", "model.safetensors")), readWeights(t, filepath.Join(root, "split", "model.safetensors"))
			if len(a) == 0 || len(a) != len(b) {
				t.Fatalf("%d vs %d tensors", len(a), len(b))
			}
			for k, x := range a {
				if !slices.Equal(x.F32, b[k].F32) {
					t.Errorf("%s differs after resume", k)
				}
			}
			ml, _ := os.ReadFile(filepath.Join(root, "split", "metrics.jsonl"))
			if l := bytes.Count(ml, []byte("\n")); l != 2*n {
				t.Errorf("metrics.jsonl has %d lines, want %d", l, 2*n)
			}
			c.Steps, c.EMA.End = 3*n, 0.9
			if _, err := Train(context.Background(), c, RunOptions{Resume: true}); !errors.Is(err, train.ErrBadCheckpoint) {
				t.Errorf("resume with a changed EMA schedule: %v, want ErrBadCheckpoint", err)
			}
		})
	}
}

func readWeights(t *testing.T, path string) map[string]train.STensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := train.ParseSafetensors(data)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
