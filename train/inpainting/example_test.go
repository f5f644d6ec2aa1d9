package inpainting_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/inpainting"
)

// The Fashion-MNIST CPU preset: random rectangles covering a quarter of
// the image, a decoder from 7x7 to 28x28.
func Example() {
	c, err := train.PresetConfig("inpainting", "fmnist")
	if err != nil {
		panic(err)
	}
	m, s := c.Model.(*inpainting.Model), c.Settings.(*inpainting.Settings)
	fmt.Println(s.Mask.Kind, s.Mask.Coverage, m.Decoder.Grid, m.Decoder.Channels, s.Input.Size)
	// Output: random 0.25 7 [64 32 16] 28
}
