package simclr

import (
	"testing"

	"github.com/sslpipe/sslpipe/train/internal/sslkit/sslkittest"
)

// SimCLR learns on the product's data path (train.Run on preprocessed
// shards, 60 steps of the smoke preset at batch 16): the NT-Xent loss
// falls and more positives are found, and the trained backbone still
// separates the four shapes by kNN (a collapsed one would not; random
// init already does, so beating it cannot be shown on these shards).
func TestLearnsOnShards(t *testing.T) {
	r := sslkittest.Learn(t, "simclr", "smoke", 60, nil)
	first, last := r.Mean("loss", 0, 5), r.Mean("loss", -5, 0)
	a0, a1 := r.Mean("acc", 0, 5), r.Mean("acc", -5, 0)
	t.Logf("loss %.3f -> %.3f, positives found %.2f -> %.2f, kNN %.3f (random init %.3f)", first, last, a0, a1, r.KNN, r.RandomKNN)
	if last > 0.95*first || a1 <= a0 {
		t.Errorf("not learning: loss %.3f -> %.3f, positives found %.2f -> %.2f", first, last, a0, a1)
	}
	if r.KNN < 0.9 {
		t.Errorf("kNN %.3f after training (random init %.3f): the representation collapsed", r.KNN, r.RandomKNN)
	}
}
