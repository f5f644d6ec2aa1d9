package data2vec2_test

import (
	"fmt"

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

// The teacher's decay rises linearly, then stays constant (the image base
// model's schedule).
func ExampleEMAConfig_TauAt() {
	c, _ := data2vec2.Preset("image", "image-base")
	for _, step := range []int64{0, 50000, 100000, 300000} {
		fmt.Printf("%d %.6f\n", step, c.EMA.TauAt(step))
	}
	// Output:
	// 0 0.999800
	// 50000 0.999895
	// 100000 0.999990
	// 300000 0.999990
}

// The base presets follow fairseq's data2vec 2.0 base configurations.
func ExamplePreset() {
	for _, mod := range data2vec2.Modalities {
		c, _ := data2vec2.Preset(mod, mod+"-base")
		m := c.Model
		fmt.Printf("%s: %d blocks, top %d, clone %d, %s mask %.2f, decoder %d x %d (k %d), lr %g\n",
			mod, m.Encoder.Layers, m.TopK, m.CloneBatch, m.Mask.Kind, m.Mask.Prob, m.Decoder.Layers, m.Decoder.Dim, m.Decoder.Kernel, c.Optim.LR)
	}
	// Output:
	// audio: 12 blocks, top 8, clone 8, span mask 0.50, decoder 4 x 384 (k 7), lr 0.00075
	// image: 12 blocks, top 10, clone 16, block mask 0.80, decoder 6 x 768 (k 3), lr 0.001
	// text: 12 blocks, top 12, clone 8, random mask 0.48, decoder 5 x 768 (k 9), lr 0.0002
}
