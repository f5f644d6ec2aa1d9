package simsiam

import (
	"math"
	"testing"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit/sslkittest"
)

// SimSiam learns on the product's data path (train.Run on preprocessed
// shards, 60 steps of the smoke preset at batch 16, its learning rate not
// scaled down to the small batch): the negative cosine
// falls, the projections keep their spread (z_std, the paper's collapse
// monitor, stays above half of 1/sqrt(d)), and the trained backbone still
// separates the four shapes by kNN (random init already does, so beating
// it cannot be shown on these shards).
func TestLearnsOnShards(t *testing.T) {
	r := sslkittest.Learn(t, "simsiam", "smoke", 60, func(c *train.Config) { c.Optim.ScaleLR = false })
	first, last := r.Mean("loss", 0, 5), r.Mean("loss", -5, 0)
	z := r.Mean("z_std", -5, 0)
	healthy := 1 / math.Sqrt(float64(64)) // smoke projector width
	t.Logf("loss %.3f -> %.3f, z_std %.4f (1/sqrt(d) %.4f), kNN %.3f (random init %.3f)", first, last, z, healthy, r.KNN, r.RandomKNN)
	if last > first-0.1 {
		t.Errorf("not learning: loss %.3f -> %.3f", first, last)
	}
	if z < healthy/2 {
		t.Errorf("z_std %.4f: the projections collapsed (healthy %.4f)", z, healthy)
	}
	if r.KNN < 0.9 {
		t.Errorf("kNN %.3f after training (random init %.3f): the representation collapsed", r.KNN, r.RandomKNN)
	}
}
