package eval

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/sslpipe/sslpipe/datasets"
)

// TestKNNFashionMNISTReference compares the kNN predictions on raw
// Fashion-MNIST pixels (first 10,000 train, first 2,000 test images) with
// numpy float64 predictions made by testdata/knn_reference.py (see its
// docstring for the command). Tolerance: float32 similarities may swap
// near-tied neighbours, so at most 3 of 2,000 predictions may differ.
func TestKNNFashionMNISTReference(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tr, err := datasets.Open("fashion-mnist:train")
	if err != nil {
		t.Skipf("Fashion-MNIST not available: %v", err)
	}
	te, err := datasets.Open("fashion-mnist:test")
	if err != nil {
		t.Skipf("Fashion-MNIST not available: %v", err)
	}
	b, err := os.ReadFile("testdata/fmnist_knn_10k_2k.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Train, Test int
		Settings    map[string]struct {
			Accuracy    float64
			Predictions []int
		}
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	tr, te = tr.Head(ref.Train), te.Head(ref.Test)
	settings := []KNNSetting{KNNDefault, KNNDINO}
	preds, err := KNN(RawPixels(tr.Images), tr.Labels, RawPixels(te.Images), KNNOptions{Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range settings {
		r, ok := ref.Settings[s.String()]
		if !ok || len(r.Predictions) != ref.Test {
			t.Fatalf("no reference for %v", s)
		}
		diff := 0
		for j, p := range preds[i] {
			if p != r.Predictions[j] {
				diff++
			}
		}
		acc := Accuracy(preds[i], te.Labels)
		t.Logf("%v: top-1 %.4f (reference %.4f), %d predictions differ", s, acc, r.Accuracy, diff)
		if diff > 3 || math.Abs(acc-r.Accuracy) > 0.0015 {
			t.Errorf("%v: top-1 %.4f vs reference %.4f, %d predictions differ", s, acc, r.Accuracy, diff)
		}
	}
}
