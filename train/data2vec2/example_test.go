package data2vec2_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data2vec2"
)

// Image masks keep blocks of patches: 39 of a 14 x 14 grid's 196 patches
// stay visible in every clone, wherever the blocks land.
func ExampleMasker() {
	cfg := data2vec2.MaskConfig{Kind: "block", Prob: 0.8, Length: 3, ProbAdjust: 0.07, Inverse: true}
	m, err := data2vec2.NewMasker(cfg, 196, 14, 14)
	if err != nil {
		fmt.Println(err)
		return
	}
	keys := []data2vec2.MaskKey{{Seed: 1, Epoch: 0, Index: 42}, {Seed: 1, Epoch: 0, Index: 7}}
	masks := m.Batch(keys, 16) // 2 samples x 16 clones, each 196 positions
	kept := 0
	for _, masked := range masks[:196] {
		if !masked {
			kept++
		}
	}
	fmt.Println(len(masks)/196, "masks,", m.Masked(), "masked,", kept, "kept in the first")
	// Output:
	// 32 masks, 157 masked, 39 kept in the first
}

// The base presets follow fairseq's data2vec 2.0 base configurations.
func Example_presets() {
	for _, mod := range data2vec2.Modalities {
		c, err := train.PresetConfig("data2vec2", mod+"-base")
		if err != nil {
			fmt.Println(err)
			return
		}
		m := c.Model.(*data2vec2.ModelConfig)
		ema := c.Settings.(*data2vec2.Settings).EMA
		fmt.Printf("%s: %d blocks, top %d, clone %d, batch %d, lr %g, EMA %g -> %g over %d\n",
			mod, m.Encoder.Layers, m.TopK, m.CloneBatch, c.Data.Batch, c.Optim.LR, ema.Base, ema.End, ema.Steps)
	}
	// Output:
	// audio: 12 blocks, top 8, clone 8, batch 8, lr 0.00075, EMA 0.999 -> 0.99999 over 75000
	// image: 12 blocks, top 10, clone 16, batch 256, lr 0.001, EMA 0.9998 -> 0.99999 over 100000
	// text: 12 blocks, top 12, clone 8, batch 64, lr 0.0002, EMA 0.9999 -> 0.99999 over 100000
}
