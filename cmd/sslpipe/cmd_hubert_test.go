//go:build cgo && portpending

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sslpipe/sslpipe/train/hubert"
)

// addSummary keeps other entries, replaces an older HuBERT entry and writes
// the fields of the demo summary format.
func TestHubertAddSummary(t *testing.T) {
	p := filepath.Join(t.TempDir(), "summary.json")
	os.WriteFile(p, []byte(`{"results": [{"modality": "image", "method": "byol", "probe": "knn", "trained": 0.8, "random_init": 0.7, "baseline": 0.75, "baseline_kind": "raw pixels", "train_seconds": 1, "device": "cpu"},
		{"modality": "audio", "method": "hubert", "probe": "linear", "trained": 0.1, "random_init": 0.1, "baseline": 0.1, "baseline_kind": "mean MFCC", "train_seconds": 1, "device": "cpu"}]}`), 0o644)
	rep := hubertProbeReport{Run: "r", Layer: 2, KNN: "k=20 T=0.07", TrainSecs: 12, Rows: []hubertProbeRow{
		{Name: "trained", KNN: 0.8, Linear: 0.9}, {Name: "random_init", KNN: 0.3, Linear: 0.6}, {Name: "mean MFCC", KNN: 0.7, Linear: 0.75}}}
	cfg, _ := hubert.Preset("cpu-small")
	if err := addSummary(p, rep, "linear", cfg); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []map[string]any `json:"results"`
	}
	data, _ := os.ReadFile(p)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Results) != 3 || doc.Results[0]["method"] != "byol" || doc.Results[2]["probe"] != "knn" || doc.Results[2]["trained"] != 0.8 {
		t.Fatalf("entries: %v", doc.Results)
	}
	h := doc.Results[1]
	want := map[string]any{"modality": "audio", "method": "hubert", "probe": "linear", "trained": 0.9, "random_init": 0.6,
		"baseline": 0.75, "baseline_kind": "mean MFCC", "train_seconds": 12.0, "device": "cpu"}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("%s = %v, want %v", k, h[k], v)
		}
	}
}
