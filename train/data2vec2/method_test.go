package data2vec2

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// smokeData makes a tiny dataset of modality for the smoke preset.
func smokeData(t *testing.T, modality string) string {
	dir := t.TempDir()
	switch modality {
	case data.Image:
		return datatest.ImageShards(t, dir, 48, 4)
	case data.Audio:
		return datatest.AudioFolder(t, dir, 12, 0.4)
	}
	return datatest.TextShards(t, dir, 200, 120, 24)
}

func smokeConfig(t *testing.T, modality, spec, out string, steps int64) train.Config {
	c := presetFor(t, modality, "smoke")
	c.Data.Spec, c.Out = spec, out
	c.Data.Workers = 2
	c.Schedule.Steps = steps
	c.Checkpoint.Every = 3
	c.Log.Every = 1
	return c
}

// Every modality trains on the shared trainer from real data (shards or a
// raw folder), and a run stopped after 3 steps and resumed ends with the
// same weights, teacher and optimizer state as one run of 6 steps. The
// encoder opens the run and embeds examples.
func TestRunAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three tiny models twice")
	}
	for _, mod := range Modalities {
		t.Run(mod, func(t *testing.T) {
			spec := smokeData(t, mod)
			dir := t.TempDir()
			whole := smokeConfig(t, mod, spec, filepath.Join(dir, "whole"), 6)
			res, err := train.Run(context.Background(), whole, train.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Steps != 6 || math.IsNaN(res.FinalLoss) {
				t.Fatalf("run: %+v", res)
			}
			t.Logf("%s: final loss %.4f, last metrics %v", mod, res.FinalLoss, res.Last)
			for _, k := range []string{"target_var", "pred_var", "masked_frac", "tau"} {
				if _, ok := res.Last[k]; !ok {
					t.Errorf("metrics lack %s: %v", k, res.Last)
				}
			}

			split := smokeConfig(t, mod, spec, filepath.Join(dir, "split"), 6)
			if _, err := train.Run(context.Background(), split, train.RunOptions{StopAfter: 3}); err != nil {
				t.Fatal(err)
			}
			if _, err := train.Run(context.Background(), split, train.RunOptions{Resume: true}); err != nil {
				t.Fatal(err)
			}
			a := lastCheckpoint(t, whole.Out)
			b := lastCheckpoint(t, split.Out)
			if len(a) != len(b) {
				t.Fatalf("checkpoints hold %d and %d tensors", len(a), len(b))
			}
			for name, x := range a {
				y, ok := b[name]
				if !ok || !slices.Equal(x.F32, y.F32) {
					t.Fatalf("%s: %s differs between the whole and the resumed run", mod, name)
				}
			}

			// eval/embed's encoder, trained and random, student and teacher.
			ds, err := train.OpenData(&whole)
			if err != nil {
				t.Fatal(err)
			}
			defer ds.Close()
			ex, err := ds.Collect(context.Background(), 5)
			if err != nil {
				t.Fatal(err)
			}
			run := &train.RunInfo{Dir: whole.Out, Config: whole}
			var prev [][]float32
			for _, o := range []train.EncoderOptions{{}, {Network: "teacher"}, {Random: true}, {Layer: 1}} {
				e, err := openEncoder(run, o)
				if err != nil {
					t.Fatal(err)
				}
				v, err := e.Embed(ex)
				dim := e.Dim()
				e.Close()
				if err != nil {
					t.Fatal(err)
				}
				if len(v) != len(ex) || len(v[0]) != dim {
					t.Fatalf("%+v: %d vectors of %d", o, len(v), len(v[0]))
				}
				if prev != nil && slices.Equal(prev[0], v[0]) {
					t.Errorf("%s %+v: same embedding as the previous network", mod, o)
				}
				prev = v
			}
		})
	}
}

func lastCheckpoint(t *testing.T, dir string) map[string]train.STensor {
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

// The data path gives the same batches (inputs and masks) whatever the
// worker count: everything random is keyed by the samples.
func TestBatchesIndependentOfWorkers(t *testing.T) {
	for _, mod := range Modalities {
		spec := smokeData(t, mod)
		c := presetFor(t, mod, "smoke")
		c.Data.Spec = spec
		ds, err := train.OpenData(&c)
		if err != nil {
			t.Fatal(err)
		}
		if err := train.ResolveConfig(&c, ds); err != nil {
			t.Fatal(err)
		}
		collect := func(workers int) []*Batch {
			s := batches(ds.Stream(pipeline.Order{Seed: 9, Shuffle: true, Epochs: 2}), model(&c), mod, 4, workers)
			var out []*Batch
			for smp, err := range pipeline.All(context.Background(), s, pipeline.RunOptions{}) {
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, smp.Value.(*Batch))
			}
			return out
		}
		a, b := collect(1), collect(3)
		if len(a) == 0 || len(a) != len(b) {
			t.Fatalf("%s: %d and %d batches", mod, len(a), len(b))
		}
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				t.Fatalf("%s: batch %d differs between 1 and 3 workers", mod, i)
			}
			if a[i].Clones != 2 || len(a[i].Mask) != a[i].B*a[i].Clones*a[i].T {
				t.Fatalf("%s: batch %d: %d clones, %d mask entries for %d x %d", mod, i, a[i].Clones, len(a[i].Mask), a[i].B, a[i].T)
			}
		}
		if reflect.DeepEqual(a[0].Mask, a[len(a)/2].Mask) {
			t.Errorf("%s: batches share masks", mod)
		}
		ds.Close()
	}
}

// Text is embedded whole: an example longer than seq_len is the
// token-weighted mean of its consecutive windows' embeddings, each window
// encoded on its own (as train/data2vec's encoder pools texts).
func TestTextEmbedWindows(t *testing.T) {
	c := presetFor(t, data.Text, "smoke")
	model(&c).Text.Vocab = 50
	S := model(&c).Text.SeqLen
	e, err := openEncoder(&train.RunInfo{Dir: t.TempDir(), Config: c}, train.EncoderOptions{Random: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	long := make([]int32, 2*S+S/2)
	for i := range long {
		long[i] = int32(5 + (i*7)%45)
	}
	ex := []data.Example{{Key: "long", Tokens: long}}
	for s := 0; s < len(long); s += S {
		ex = append(ex, data.Example{Key: "window", Tokens: long[s:min(s+S, len(long))]})
	}
	v, err := e.Embed(ex)
	if err != nil {
		t.Fatal(err)
	}
	for j := range v[0] {
		want := (float64(S)*float64(v[1][j]) + float64(S)*float64(v[2][j]) + float64(S/2)*float64(v[3][j])) / float64(len(long))
		if math.Abs(float64(v[0][j])-want) > 1e-5 {
			t.Fatalf("dimension %d: %v, want the windows' weighted mean %v", j, v[0][j], want)
		}
	}
	if _, err := e.Embed([]data.Example{{Key: "bad", Tokens: []int32{3, 50}}}); err == nil {
		t.Error("a token outside the vocabulary was accepted")
	}
}
