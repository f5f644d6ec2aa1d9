package augment_test

import (
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/sslpipe/sslpipe/augment"
)

// A gradient test image.
func gradient(w, h int) *augment.Image {
	m := augment.NewImage(w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := m.Pix[(y*w+x)*3:]
			p[0], p[1], p[2] = uint8(x*255/w), uint8(y*255/h), 128
		}
	}
	return m
}

func ExampleRecipe_Apply() {
	src := gradient(500, 375) // in practice: augment.DecodeFile(path, augment.DecodeOptions{Channels: 3})
	rec := augment.BYOL(224, true)
	var s augment.Scratch // one per worker goroutine
	views := rec.Apply(nil, src, augment.Key{Seed: 1, Epoch: 0, Index: 42}, &s)
	for i, v := range views {
		fmt.Printf("view %d: %dx%dx%d\n", i, v.W, v.H, v.C)
	}
	// Output:
	// view 0: 224x224x3
	// view 1: 224x224x3
}

func ExampleRecipe_Batch() {
	rec := augment.BYOL(32, false)
	var batch [][]*augment.Image
	for i := range 4 {
		batch = append(batch, rec.Apply(nil, gradient(40, 30), augment.Key{Seed: 7, Index: uint64(i)}, nil))
	}
	x, shape, err := rec.Batch(nil, batch, 0) // first views of the 4 samples
	fmt.Println(shape, len(x), err)
	// Output: [4 3 32 32] 12288 <nil>
}

func ExampleResizedCrop() {
	src := gradient(97, 73)
	dst := &augment.Image{}
	augment.ResizedCrop(dst, src, image.Rect(5, 7, 66, 50), 32, 32, augment.Bilinear, nil)
	fmt.Println(dst.W, dst.H, dst.Pix[:3]) // PIL: img.crop((5, 7, 66, 50)).resize((32, 32), BILINEAR) gives [14 25 128]
	// Output: 32 32 [14 25 128]
}

func ExampleRandomResizedCropParams() {
	r := rand.New(rand.NewPCG(1, 2))
	box, fallback := augment.RandomResizedCropParams(r, 500, 375, [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3})
	fmt.Println(box.Dx() > 0, box.Max.X <= 500, fallback)
	// Output: true true false
}

func ExampleMaskSpec_Generate() {
	spec := augment.MaskSpec{Kind: "random", Rows: 14, Cols: 14, Ratio: 0.75}
	m := spec.Generate(rand.New(rand.NewPCG(3, 4)))
	fmt.Println(m.Rows, m.Cols, m.Count())
	// Output: 14 14 147
}

func ExampleJitter_Params() {
	j := augment.Jitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1}
	p := j.Params(rand.New(rand.NewPCG(5, 6)))
	img := gradient(8, 8)
	p.Apply(img) // brightness, contrast, saturation and hue in p.Order
	fmt.Println(len(p.Order), p.Brightness >= 0.6 && p.Brightness <= 1.4)
	// Output: 4 true
}

func ExampleDecode() {
	_, err := augment.Decode("empty.jpg", nil, augment.DecodeOptions{})
	fmt.Println(err)
	// Output: augment: empty.jpg: invalid or unsupported image: empty file
}

// Fashion-MNIST style input: 28x28 gray images, 32 px views, no blur, one
// channel kept (Channels 3 would replicate the gray to RGB instead).
func ExampleRecipe_Batch_gray() {
	rec := augment.BYOL(32, false)
	rec.Channels = 1
	for i := range rec.Views {
		rec.Views[i].Normalize = augment.Normalize{Mean: []float64{0.2860}, Std: []float64{0.3530}}
	}
	img := augment.NewImage(28, 28, 1)
	for i := range img.Pix {
		img.Pix[i] = uint8(i % 251)
	}
	var s augment.Scratch
	var batch [][]*augment.Image
	for i := range 8 {
		batch = append(batch, rec.Apply(nil, img, augment.Key{Seed: 1, Index: uint64(i)}, &s))
	}
	x, shape, _ := rec.Batch(nil, batch, 1)
	fmt.Println(shape, len(x))
	// Output: [8 1 32 32] 8192
}

func ExampleRecipe_MaskFor() {
	rec := augment.MaskedImage(224, "block", 0.6)
	var masks []augment.Mask
	for i := range 4 {
		m, _ := rec.MaskFor(augment.Key{Seed: 1, Index: uint64(i)})
		masks = append(masks, m)
	}
	bits, shape, _ := augment.PackMasks(nil, masks)
	fmt.Println(shape, len(bits))
	// Output: [4 14 14] 784
}
