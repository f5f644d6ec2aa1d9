package methods

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// corruptMember copies a preprocessed dataset and overwrites the PNG data
// of the sample key in its shards with garbage of the same length (the
// tar structure stays valid: only that member fails to decode).
func corruptMember(t *testing.T, src, dst, key string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	shards, _ := filepath.Glob(filepath.Join(dst, "shard-*.tar"))
	for _, p := range shards {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := []byte(key + ".png")
		i := bytes.Index(b, name)
		if i < 0 {
			continue
		}
		hdr := i - i%512
		for j := hdr + 512 + 8; j < hdr+512+64; j++ { // keep the PNG signature, break the chunks
			b[j] = 0x5a
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no member %s.png in %s", key, dst)
}

// TestCorruptMemberSkippedAndReported: a shard with a corrupt member mid
// training: the run goes on, RUN/errors.jsonl names the shard and key,
// resume stays exact; with max_errors 0 the run stops with
// ErrTooManyBadSamples (exit 4 on the command line).
func TestCorruptMemberSkippedAndReported(t *testing.T) {
	dir := t.TempDir()
	good := datatest.ImageShards(t, dir, 96, 4)
	bad := filepath.Join(dir, "bad")
	corruptMember(t, good, bad, "000050")
	m, _ := train.Lookup("byol")
	c := smokeConfig(t, m, data.Image, bad, filepath.Join(dir, "run"), 20)
	res, err := train.Run(context.Background(), c, train.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BadSamples < 1 || res.Steps != 20 {
		t.Fatalf("result: %d bad samples, %d steps", res.BadSamples, res.Steps)
	}
	f, err := os.Open(filepath.Join(c.Out, "errors.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatal("errors.jsonl is empty")
	}
	var line struct{ Shard, Key, Error string }
	if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if line.Key != "000050" || line.Shard != "shard-000001.tar" || line.Error == "" {
		t.Errorf("errors.jsonl line %+v", line)
	}
	// Exact resume across the skipped sample.
	half := c
	half.Out = filepath.Join(dir, "half")
	if _, err := train.Run(context.Background(), half, train.RunOptions{StopAfter: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := train.Run(context.Background(), half, train.RunOptions{Resume: true}); err != nil {
		t.Fatal(err)
	}
	if a, b := losses(t, c.Out), losses(t, half.Out); !slices.Equal(a, b) {
		t.Errorf("losses differ after resume across a bad sample:\n%v\n%v", a, b)
	}
	// max_errors 0: the first bad sample stops the run.
	strict := c
	strict.Out = filepath.Join(dir, "strict")
	strict.Data.MaxErrors = 0
	_, err = train.Run(context.Background(), strict, train.RunOptions{})
	if !errors.Is(err, train.ErrTooManyBadSamples) {
		t.Fatalf("max_errors 0: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(strict.Out, "errors.jsonl")); serr != nil {
		t.Errorf("max_errors 0: %v", serr)
	}
	t.Log(err)
}

// TestPreprocessedEqualsRawFolder: a raw image folder and its preprocess
// output (PNG, lossless) give the same examples in the same order and the
// same training batches for the same seed.
func TestPreprocessedEqualsRawFolder(t *testing.T) {
	dir := t.TempDir()
	raw := datatest.ImageFolder(t, dir, 40, 4)
	pre := datatest.Preprocess(t, raw, filepath.Join(dir, "pre"), preprocess.Options{Modality: preprocess.Image, Format: "png", LabelsFromDirs: true, ShardSize: 7})
	m, _ := train.Lookup("byol")
	batches := func(spec string) [][]float32 {
		ds, err := data.Open(spec, data.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer ds.Close()
		c := smokeConfig(t, m, data.Image, spec, t.TempDir(), 4)
		env := &train.Env{Config: &c, Data: ds, Device: gotch.CPU, World: 1}
		tr, err := m.New(env)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		var out [][]float32
		s := tr.Batches(ds.Stream(pipeline.Order{Seed: 7, Epochs: 2, Shuffle: true}), 8, 3)
		for b, err := range pipeline.All(context.Background(), s, pipeline.RunOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			v := b.Value.(*train.Views)
			out = append(out, slices.Concat(v.Views...))
		}
		return out
	}
	a, b := batches(raw), batches(pre)
	if len(a) != 10 || len(a) != len(b) {
		t.Fatalf("%d and %d batches", len(a), len(b))
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("batch %d differs between the raw folder and its shards", i)
		}
	}
}
