package colorization_test

import (
	"context"
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/colorization"
	"github.com/sslpipe/sslpipe/train/data"
)

// The rebalancing pass over a dataset of two-colour images: the bins the
// images use, and their weights (rarer colours weigh more).
func ExampleComputeWeights() {
	ds := data.New("two colours", data.Image, 8, 1, func(_ context.Context, i int) (data.Example, error) {
		m := augment.NewImage(16, 16, 3)
		for p := 0; p < 256; p++ {
			if p < 64 { // a red quarter on blue
				m.Pix[3*p] = 200
			} else {
				m.Pix[3*p+2] = 200
			}
		}
		return data.Example{Image: m}, nil
	})
	c, _ := train.PresetConfig("colorization", "photos28")
	s := c.Settings.(*colorization.Settings)
	s.Size, s.Scale, s.Ratio = 16, [2]float64{1, 1}, [2]float64{1, 1}
	w, err := colorization.ComputeWeights(context.Background(), ds, s, 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(w.Images, "images,", w.UsedBins(), "bins used of", len(w.Centers))
	// Output: 8 images, 3 bins used of 309
}
