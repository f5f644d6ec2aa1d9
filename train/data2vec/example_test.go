package data2vec_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data2vec"
)

// The teacher's decay rises linearly, then stays constant.
func ExampleEMAConfig_TauAt() {
	ema := data2vec.EMAConfig{Start: 0.999, End: 0.9999, AnnealSteps: 30000}
	for _, step := range []int64{0, 15000, 30000, 100000} {
		fmt.Printf("%d %.5f\n", step, ema.TauAt(step))
	}
	// Output:
	// 0 0.99900
	// 15000 0.99945
	// 30000 0.99990
	// 100000 0.99990
}

// Importing the package registers the method; its presets follow the
// per-modality reference settings.
func Example_presets() {
	for _, mod := range data2vec.Modalities {
		c, _ := train.PresetConfig("data2vec", mod+"-base")
		m := c.Model.(*data2vec.ModelConfig)
		fmt.Printf("%s: top-%d %s-normalized targets, loss beta %g, mask %s %.2f\n", mod, m.TopK, m.TargetNorm, m.LossBeta, m.Mask.Kind, m.Mask.Prob)
	}
	// Output:
	// audio: top-8 instance-normalized targets, loss beta 0, mask span 0.65
	// image: top-6 layer-normalized targets, loss beta 2, mask block 0.60
	// text: top-10 layer-normalized targets, loss beta 4, mask span 0.35
}
