package rotation_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/rotation"
)

// The Fashion-MNIST CPU preset of the pretext comparison: BYOL's ConvNet,
// all four rotations of 64 images per batch.
func Example() {
	c, err := train.PresetConfig("rotation", "fmnist")
	if err != nil {
		panic(err)
	}
	m, s := c.Model.(*rotation.Model), c.Settings.(*rotation.Settings)
	fmt.Println(m.Arch.Name, m.Arch.Widths, s.Input.Size, s.AllRotations, c.Data.Batch, c.Schedule.Steps)
	// Output: convnet [32 64 128] 28 true 64 1080
}
