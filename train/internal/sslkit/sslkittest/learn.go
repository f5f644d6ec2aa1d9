// Package sslkittest holds the learning check the image methods' tests
// share: a method trained end to end (train.Run on the product's data
// path) for a few dozen steps on tiny generated image shards, its losses
// and metrics, and weighted-kNN accuracies of its trained and random-init
// encoders on held-out shards.
package sslkittest

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// Result is what Learn measured.
type Result struct {
	// Lines are the metrics lines of the run (one per logged step).
	Lines []map[string]float64
	// KNN and RandomKNN are the weighted kNN top-1 (k 10, T 0.1) of the
	// trained and the random-init encoder: every fourth shard image a
	// query (40), the others the memory (120).
	KNN, RandomKNN float64
}

// Mean is the mean of metric name over lines [from, to) of r.Lines
// (negative indices count from the end).
func (r *Result) Mean(name string, from, to int) float64 {
	n := len(r.Lines)
	if from < 0 {
		from += n
	}
	if to <= 0 {
		to += n
	}
	var s float64
	var k int
	for _, l := range r.Lines[from:to] {
		if v, ok := l[name]; ok {
			s += v
			k++
		}
	}
	return s / float64(max(k, 1))
}

// Learn trains method with preset on 160 generated 28x28 gray images of
// 4 classes (a bar at one of four angles, plus noise; datatest.ImageShards)
// for steps steps at batch 16 with a line per step, after adjust (nil:
// none) changed the config, and probes its encoders. It fails t on any
// error.
func Learn(t *testing.T, method, preset string, steps int64, adjust func(*train.Config)) *Result {
	t.Helper()
	dir := t.TempDir()
	spec := datatest.ImageShards(t, dir, 160, 4)
	c, err := train.PresetConfig(method, preset)
	if err != nil {
		t.Fatal(err)
	}
	c.Data.Spec, c.Out = spec, filepath.Join(dir, "run")
	c.Data.Batch, c.Data.Workers, c.Threads, c.Device = 16, 2, 1, "cpu"
	c.Schedule.Steps, c.Schedule.WarmupSteps = steps, 2
	c.Log.Every, c.Checkpoint.Every, c.Monitor.Every = 1, 0, 0
	if adjust != nil {
		adjust(&c)
	}
	if _, err := train.Run(context.Background(), c, train.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	r := &Result{Lines: lines(t, c.Out)}
	ds, err := data.Open(spec, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	ex, err := ds.Collect(context.Background(), 160)
	if err != nil {
		t.Fatal(err)
	}
	var mem, query []data.Example
	var ym, yq []int
	for i, e := range ex {
		if i%4 == 0 {
			query, yq = append(query, e), append(yq, e.Class)
		} else {
			mem, ym = append(mem, e), append(ym, e.Class)
		}
	}
	m, err := train.Lookup(method)
	if err != nil {
		t.Fatal(err)
	}
	run := &train.RunInfo{Dir: c.Out, Config: c}
	for _, random := range []bool{false, true} {
		enc, err := m.Encoder(run, train.EncoderOptions{Random: random})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := train.KNNTop1(enc, mem, query, ym, yq, 10, 0.1)
		enc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if random {
			r.RandomKNN = acc
		} else {
			r.KNN = acc
		}
	}
	return r
}

func lines(t *testing.T, dir string) []map[string]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		l := map[string]float64{}
		for k, v := range raw {
			if x, ok := v.(float64); ok {
				l[k] = x
			}
		}
		out = append(out, l)
	}
	return out
}
