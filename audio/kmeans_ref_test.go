package audio

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

// TestKMeansMatchesSklearn fits sslpipe's mini-batch k-means on the HuBERT
// MFCC features of the test utterances with the configuration of
// testdata/make_kmeans_ref.py and requires a mean inertia (mean squared
// distance per frame, over seeds) at most 1.05 x scikit-learn's
// MiniBatchKMeans mean on the same features.
func TestKMeansMatchesSklearn(t *testing.T) {
	b, err := os.ReadFile("testdata/kmeans_ref.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Frames int     `json:"frames"`
		Dim    int     `json:"dim"`
		Mean   float64 `json:"mean"`
		Min    float64 `json:"min"`
		Max    float64 `json:"max"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	ex, _ := NewExtractor(DefaultOptions(MFCC))
	var all []float32
	for _, u := range []string{"utt1", "utt2", "utt3", "utt4"} {
		wave, _, err := ReadWAV(filepath.Join("testdata", u+".wav"), nil)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := ex.Compute(Matrix{}, wave, nil)
		all = append(all, Deltas(Matrix{}, m, 2, 2).Data...)
	}
	data := Matrix{Data: all, Rows: len(all) / 39, Cols: 39}
	if data.Rows != ref.Frames || ref.Dim != 39 {
		t.Fatalf("%d frames, reference %d", data.Rows, ref.Frames)
	}
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	var sum float64
	var got []string
	for s := 0; s < seeds; s++ {
		km, err := FitKMeans(pipeline.SampleRand(uint64(s), 0, 0, 0), data,
			KMeansConfig{K: 20, BatchSize: 256, MaxEpochs: 100, NInit: 3, MaxNoImprovement: 100}, KMeansMeta{})
		if err != nil {
			t.Fatal(err)
		}
		sum += km.Meta.Inertia
		got = append(got, fmt.Sprintf("%.0f", km.Meta.Inertia))
	}
	mean := sum / float64(seeds)
	t.Logf("inertia per frame: sslpipe mean %.1f %v; scikit-learn mean %.1f (min %.1f, max %.1f)", mean, got, ref.Mean, ref.Min, ref.Max)
	if mean > 1.05*ref.Mean {
		t.Fatalf("sslpipe inertia %.1f > 1.05 x scikit-learn's %.1f", mean, ref.Mean)
	}
}
