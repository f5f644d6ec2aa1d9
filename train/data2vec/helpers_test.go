package data2vec

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// shardRoot holds the tiny preprocessed datasets every test shares (made
// once per modality, on first use).
var shardRoot string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "data2vec-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shardRoot = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

var (
	shardMu   sync.Mutex
	shardSets = map[string]string{}
)

// shards returns the tiny `sslpipe preprocess` dataset of modality: 96
// gray 28x28 images of 4 classes, 12 one-second tone sequences (k-means
// labels), or 400 lines of two topics tokenized (WordPiece, 150 tokens)
// into 32-token sequences.
func shards(t *testing.T, modality string) string {
	t.Helper()
	shardMu.Lock()
	defer shardMu.Unlock()
	if p, ok := shardSets[modality]; ok {
		return p
	}
	dir := filepath.Join(shardRoot, modality)
	var p string
	switch modality {
	case data.Image:
		p = datatest.ImageShards(t, dir, 96, 4)
	case data.Audio:
		p = datatest.AudioShards(t, dir, 12, 1, 8)
	case data.Text:
		p = datatest.TextShards(t, dir, 400, 150, 32)
	}
	shardSets[modality] = p
	return p
}

// smokeRun is the smoke preset of modality on its tiny shards, resolved,
// on the CPU with one thread and two data workers, a metrics line every
// step, writing to out.
func smokeRun(t *testing.T, modality, out string, steps int64) train.Config {
	t.Helper()
	c, err := train.PresetConfig("data2vec", "smoke-"+modality)
	if err != nil {
		t.Fatal(err)
	}
	c.Data.Spec, c.Out = shards(t, modality), out
	c.Schedule.Steps = steps
	c.Device, c.Threads, c.Data.Workers = "cpu", 1, 2
	c.Log.Every, c.Checkpoint.Every = 1, 0
	ds, err := train.OpenData(&c)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if err := train.ResolveConfig(&c, ds); err != nil {
		t.Fatal(err)
	}
	return c
}

// metricsLines reads RUN/metrics.jsonl.
func metricsLines(t *testing.T, dir string) []map[string]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// losses is the loss of every metrics line; a missing or non-finite loss
// fails the test (NaN == NaN must never pass a comparison).
func losses(t *testing.T, dir string) []float64 {
	t.Helper()
	var out []float64
	for _, m := range metricsLines(t, dir) {
		l, ok := m["loss"]
		if !ok || math.IsNaN(l) || math.IsInf(l, 0) {
			t.Fatalf("%s: step %v has loss %v", dir, m["step"], l)
		}
		out = append(out, l)
	}
	return out
}

// lastCheckpoint reads the newest checkpoint of a run.
func lastCheckpoint(t *testing.T, dir string) (map[string]train.STensor, *train.State) {
	t.Helper()
	p, err := train.LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts, st, err := train.ReadCheckpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	return ts, st
}
