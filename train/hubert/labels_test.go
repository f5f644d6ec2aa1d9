package hubert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/preprocess"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// TestLayerLabelsRoundTrip: iteration 1 on preprocessed shards, then
// LayerLabels writes k-means labels of block 1 as a label set (one shard
// per data shard, same keys and order, one label per CNN frame, the
// labels its codebook assigns), iteration 2 trains on the data joined
// with them (num_classes = the new k), and label sets made for other data
// are refused: another sample count up front, another key per sample.
func TestLayerLabelsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ds := datatest.AudioShards(t, dir, 8, 1, 8)
	ctx := context.Background()
	it1 := tinyConfig(t, filepath.Join(dir, "it1"), ds)
	it1.Schedule.Steps = 3
	model(&it1).Encoder.Layers = 2
	if _, err := train.Run(ctx, it1, train.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "labels-it2")
	var log strings.Builder
	ls, err := LayerLabels(ctx, LabelOptions{Data: ds, Run: it1.Out, Out: out, Layer: 1, K: 5, Seed: 3, Workers: 1, Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(log.String()))
	read, err := data.ReadLabelSet(out)
	if err != nil {
		t.Fatal(err)
	}
	man, err := preprocess.ReadManifest(ds)
	if err != nil {
		t.Fatal(err)
	}
	var shards []string
	for _, s := range man.Shards {
		shards = append(shards, s.Name)
	}
	if read.K != 5 || read.LabelRate != 50 || read.Samples != 8 || !slices.Equal(read.Shards, shards) || !slices.Equal(ls.Shards, shards) ||
		!strings.HasSuffix(read.FeatureType, ":layer1") || read.Data != ds {
		t.Errorf("labels.json %+v; data shards %v", read, shards)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, ".labels-it2*")); len(ents) != 0 {
		t.Errorf("temporary folders left: %v", ents)
	}
	if _, err := LayerLabels(ctx, LabelOptions{Data: ds, Run: it1.Out, Out: out, Layer: 1, K: 5}); err == nil {
		t.Error("an existing label set was overwritten")
	}

	// Joined: one label per CNN frame, the codebook's assignment of the
	// run's block-1 features.
	km, err := audio.LoadKMeans(filepath.Join(out, LabelsFile))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := OpenRun(it1.Out, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	d, err := data.Open(ds, data.Options{Labels: out})
	if err != nil {
		t.Fatal(err)
	}
	if d.LabelK != 5 || d.LabelRate != 50 {
		t.Errorf("joined: k %d at %d Hz", d.LabelK, d.LabelRate)
	}
	exs, err := d.Collect(ctx, 0)
	d.Close()
	if err != nil || len(exs) != 8 {
		t.Fatalf("%d examples, %v", len(exs), err)
	}
	for i, ex := range exs {
		if len(ex.Labels) != m.T(len(ex.Wave)) || ex.Key != fmt.Sprintf("%06d", i) {
			t.Fatalf("sample %d (%s): %d labels for %d frames", i, ex.Key, len(ex.Labels), m.T(len(ex.Wave)))
		}
		if i == 0 || i == 7 {
			f, err := LayerFrames(m, ex.Wave, 1)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := km.Assign(f, nil)
			if !slices.Equal(ex.Labels, want) {
				t.Errorf("sample %d: labels %v, the codebook assigns %v", i, ex.Labels, want)
			}
		}
	}

	// Iteration 2 trains on the joined labels.
	it2 := tinyConfig(t, filepath.Join(dir, "it2"), ds)
	it2.Schedule.Steps, it2.Data.Labels, it2.Data.MaxErrors = 2, out, 0
	if _, err := train.Run(ctx, it2, train.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	saved, err := train.LoadConfig(filepath.Join(it2.Out, "config.yaml"))
	if err != nil || model(&saved).NumClasses != 5 || saved.Data.Labels != out {
		t.Errorf("iteration 2 config: num_classes %d, data.labels %q, %v", model(&saved).NumClasses, saved.Data.Labels, err)
	}

	// Label sets for other data: another sample count is refused when the
	// data is opened; another key for a sample is a bad sample naming both.
	other := func(name string, n int, key func(i int) string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(p, 0o755)
		sw, err := preprocess.NewShardWriter(filepath.Join(p, "shard-000000.tar"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			sw.Add(key(i), preprocess.Field{Name: "km.npy", Data: npyBytes(t, &npy.Array{DType: npy.Int32, Shape: []int{49}, I32: make([]int32, 49)})})
		}
		if _, _, err := sw.Commit(); err != nil {
			t.Fatal(err)
		}
		js := fmt.Sprintf(`{"k": 5, "label_rate": 50, "samples": %d, "shards": ["shard-000000.tar"]}`, n)
		os.WriteFile(filepath.Join(p, "labels.json"), []byte(js), 0o644)
		return p
	}
	short := other("short", 7, func(i int) string { return fmt.Sprintf("%06d", i) })
	if _, err := data.Open(ds, data.Options{Labels: short}); !errors.Is(err, data.ErrSpec) {
		t.Errorf("a label set of 7 samples for 8: %v", err)
	}
	renamed := other("renamed", 8, func(i int) string { return fmt.Sprintf("x%05d", i) })
	c := tinyConfig(t, filepath.Join(dir, "renamed-run"), ds)
	c.Data.Labels, c.Data.MaxErrors = renamed, 0
	if _, err := train.Run(ctx, c, train.RunOptions{}); !errors.Is(err, train.ErrTooManyBadSamples) {
		t.Errorf("a label set with other keys: %v, want ErrTooManyBadSamples", err)
	}
	b, _ := os.ReadFile(filepath.Join(c.Out, "errors.jsonl"))
	if !strings.Contains(string(b), "in the labels but") {
		t.Errorf("errors.jsonl: %s", b)
	}
}

// TestLayerLabelsUnreadableSample: a sample the data cannot decode gets
// an empty label array in its place, so the label set keeps the data's
// order and count (training skips the sample as bad anyway).
func TestLayerLabelsUnreadableSample(t *testing.T) {
	dir := t.TempDir()
	spec := toneShards(t, filepath.Join(dir, "data"), 6, 3, 4, 8000, 5, func(i int, w []float32, l []int32) ([]float32, []int32) {
		if i == 4 {
			return nil, l
		}
		return w, l
	})
	c := tinyConfig(t, filepath.Join(dir, "run"), spec)
	c.Schedule.Steps = 1
	model(&c).NumClasses = 4
	if _, err := train.Run(context.Background(), c, train.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "it2")
	var log strings.Builder
	ls, err := LayerLabels(context.Background(), LabelOptions{Data: spec, Run: c.Out, Out: out, Layer: 1, K: 3, Workers: 1, Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	if ls.Samples != 6 || !slices.Equal(ls.Shards, []string{"shard-000000.tar", "shard-000001.tar"}) || !strings.Contains(log.String(), "000004 (shard-000001.tar) unreadable") {
		t.Fatalf("label set %+v; log:\n%s", ls, log.String())
	}
	src, err := pipeline.Tar(filepath.Join(out, "shard-000001.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sizes := map[string]int{}
	for i := range src.Len() {
		s, err := src.At(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		b := s.Value.Files["km.npy"]
		a, err := npy.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		sizes[s.Key] = len(a.I32)
	}
	if sizes["000004"] != 0 || sizes["000003"] != 24 || sizes["000005"] != 24 {
		t.Errorf("label counts in shard 1: %v, want 0 for the unreadable 000004 and 24 frames for the others", sizes)
	}
}

// TestLayerLabelsCodebook: a label set made with another set's codebook
// (the held-out set's iteration-2 labels) assigns the same labels as the
// set that fitted it, and a codebook of another layer is refused.
func TestLayerLabelsCodebook(t *testing.T) {
	dir := t.TempDir()
	ds := datatest.AudioShards(t, dir, 6, 1, 8)
	c := tinyConfig(t, filepath.Join(dir, "run"), ds)
	c.Schedule.Steps = 2
	model(&c).Encoder.Layers = 2
	ctx := context.Background()
	if _, err := train.Run(ctx, c, train.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	fit, again := filepath.Join(dir, "fit"), filepath.Join(dir, "again")
	if _, err := LayerLabels(ctx, LabelOptions{Data: ds, Run: c.Out, Out: fit, Layer: 2, K: 4, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	ls, err := LayerLabels(ctx, LabelOptions{Data: ds, Run: c.Out, Out: again, Layer: 2, Codebook: filepath.Join(fit, LabelsFile), Seed: 9})
	if err != nil || ls.K != 4 {
		t.Fatalf("with the codebook: %+v, %v", ls, err)
	}
	for _, s := range ls.Shards {
		a, _ := os.ReadFile(filepath.Join(fit, s))
		b, _ := os.ReadFile(filepath.Join(again, s))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the fitted set and the one assigned with its codebook", s)
		}
	}
	_, err = LayerLabels(ctx, LabelOptions{Data: ds, Run: c.Out, Out: filepath.Join(dir, "l1"), Layer: 1, Codebook: filepath.Join(fit, LabelsFile)})
	if err == nil || !strings.Contains(err.Error(), "layer2") {
		t.Errorf("a layer-2 codebook for layer 1: %v", err)
	}
}
