package data_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// TestSelectorSplits: #part=train and #part=test of one selector are
// disjoint, cover the kept examples, keep per-class caps and the class
// subset (renumbered in the order given), and the same on preprocessed
// shards as on the raw folder.
func TestSelectorSplits(t *testing.T) {
	dir := t.TempDir()
	raw := datatest.ImageFolder(t, dir, 60, 4) // 15 per class
	shards := datatest.Preprocess(t, raw, filepath.Join(dir, "pre"), preprocessImagePNG())
	for _, spec := range []string{raw, shards} {
		keys := map[string][]string{}
		for _, part := range []string{"train", "test"} {
			ds, err := data.Open(spec+"#part="+part+",frac=0.6,per-class=10,classes=class3|class1", data.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ds.Classes, []string{"class3", "class1"}) {
				t.Errorf("%s: classes %v", part, ds.Classes)
			}
			count := map[int]int{}
			for s, err := range pipeline.All(context.Background(), ds.Stream(pipeline.Order{}), pipeline.RunOptions{}) {
				if err != nil {
					t.Fatal(err)
				}
				count[s.Value.Class]++
				keys[part] = append(keys[part], s.Key)
				if lbl, _ := ds.Label(context.Background(), s.Index); lbl != s.Value.Class {
					t.Errorf("Label %d, example class %d", lbl, s.Value.Class)
				}
			}
			want := map[string]int{"train": 6, "test": 4}[part]
			if count[0] != want || count[1] != want || len(count) != 2 {
				t.Errorf("%s %s: per-class counts %v, want %d each", spec, part, count, want)
			}
			ds.Close()
		}
		for _, k := range keys["train"] {
			if slices.Contains(keys["test"], k) {
				t.Errorf("%s: key %s in both parts", spec, k)
			}
		}
	}
	for _, bad := range []string{"#part=dev", "#frac=2", "#per-class=0", "#classes=nope", "#what=1"} {
		if _, err := data.Open(raw+bad, data.Options{}); err == nil {
			t.Errorf("selector %q accepted", bad)
		}
	}
}
