package datatest

import (
	"context"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/data"
)

// TestDatasetsOpen makes each tiny dataset and reads it back through
// package data: modality, labels and decoded examples.
func TestDatasetsOpen(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		spec, modality string
		labelled       bool
	}{
		{ImageShards(t, dir, 30, 3), data.Image, true},
		{AudioShards(t, dir, 6, 1, 8), data.Audio, true},
		{TextShards(t, dir, 200, 120, 32), data.Text, false},
	}
	for _, c := range cases {
		ds, err := data.Open(c.spec, data.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Modality != c.modality || ds.Labelled != c.labelled || ds.Kind != "preprocessed" {
			t.Errorf("%s: modality %s labelled %v kind %s", c.spec, ds.Modality, ds.Labelled, ds.Kind)
		}
		n := 0
		for s, err := range pipeline.All(context.Background(), ds.Stream(pipeline.Order{Seed: 1, Shuffle: true}), pipeline.RunOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			ex := s.Value
			switch c.modality {
			case data.Image:
				if ex.Image == nil || ex.Image.W != 28 || ex.Class < 0 {
					t.Fatalf("image example %+v", ex)
				}
			case data.Audio:
				if len(ex.Wave) != 16000 || len(ex.Labels) == 0 || ds.LabelRate != 50 || ds.LabelK != 8 {
					t.Fatalf("audio example: %d samples, %d labels, rate %d k %d", len(ex.Wave), len(ex.Labels), ds.LabelRate, ds.LabelK)
				}
			case data.Text:
				if len(ex.Tokens) != 32 || ds.Tokenizer == nil {
					t.Fatalf("text example: %d tokens", len(ex.Tokens))
				}
			}
			n++
		}
		if n != ds.Len() {
			t.Errorf("%s: streamed %d of %d", c.spec, n, ds.Len())
		}
		ds.Close()
	}
}
