package augment_test

import (
	"fmt"
	"math/rand/v2"

	"gopkg.in/yaml.v3"

	"github.com/sslpipe/sslpipe/augment"
)

// The built-in recipes by name, as `sslpipe augment --recipe` and config
// files name them.
func ExampleNamedRecipe() {
	for _, name := range augment.RecipeNames() {
		rec, err := augment.NamedRecipe(name, 224)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-11s views %d, mask %v\n", name, rec.NumViews(), rec.Mask != nil)
	}
	// Output:
	// byol        views 2, mask false
	// byol-noblur views 2, mask false
	// dino        views 10, mask false
	// mae         views 1, mask true
	// mask        views 1, mask true
	// simclr      views 2, mask false
	// simsiam     views 2, mask false
}

// DINO multi-crop: two global views and N local ones per image, from one
// decode; every draw is keyed by (seed, epoch, index, view).
func ExampleDINO() {
	rec := augment.DINO(224, 96, 8)
	views := rec.Apply(nil, gradient(500, 375), augment.Key{Seed: 1, Index: 3}, nil)
	sizes := map[int]int{}
	for _, v := range views {
		sizes[v.W]++
	}
	fmt.Println(len(views), "views:", sizes[224], "at 224 px,", sizes[96], "at 96 px")
	// Output: 10 views: 2 at 224 px, 8 at 96 px
}

// A recipe is data: the same struct loads from YAML (a config file or
// `sslpipe augment --recipe-file`), is validated, and applies like a
// built-in one.
func ExampleRecipe_yaml() {
	src := `
name: custom
channels: 1
views:
  - {name: small, count: 3, size: 20, scale: [0.5, 1], ratio: [0.75, 1.3333], interp: bicubic,
     flip_p: 0.5, jitter_p: 1, jitter: {brightness: 0.4, contrast: 0.4}, normalize: {mean: [0.5], std: [0.25]}}
`
	var rec augment.Recipe
	if err := yaml.Unmarshal([]byte(src), &rec); err != nil {
		fmt.Println(err)
		return
	}
	if err := rec.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	views := rec.Apply(nil, gradient(64, 48), augment.Key{Seed: 9}, nil)
	fmt.Println(rec.Name, rec.NumViews(), "views of", views[0].W, "x", views[0].H, "x", views[0].C)
	// Output: custom 3 views of 20 x 20 x 1
}

// The blur kernel of the BYOL/SimCLR recipes: 10% of the view size, made
// odd; the weights are torchvision's (normalized Gaussian, float32).
func ExampleGaussianKernel() {
	fmt.Println(augment.BlurKernelSize(224), augment.BlurKernelSize(96), augment.BlurKernelSize(32))
	k := augment.GaussianKernel(3, 1.0)
	fmt.Printf("%.4f %.4f %.4f\n", k[0], k[1], k[2])
	// Output:
	// 23 9 3
	// 0.2741 0.4519 0.2741
}

// ToTensor + Normalize into a float32 CHW slice, as torchvision's
// F.normalize(F.to_tensor(img), mean, std).
func ExampleNormalize_ToCHW() {
	img := augment.NewImage(2, 1, 3)
	copy(img.Pix, []uint8{0, 128, 255, 255, 128, 0})
	n := augment.Normalize{Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{0.5, 0.5, 0.5}}
	x := make([]float32, 2*1*3)
	n.ToCHW(x, img)
	fmt.Printf("R %.3f %.3f  G %.3f %.3f  B %.3f %.3f\n", x[0], x[1], x[2], x[3], x[4], x[5])
	// Output: R -1.000 1.000  G 0.004 0.004  B 1.000 -1.000
}

// Solarize inverts the samples at or above the threshold, as PIL's
// ImageOps.solarize.
func ExampleSolarize() {
	img := augment.NewImage(4, 1, 1)
	copy(img.Pix, []uint8{0, 127, 128, 255})
	augment.Solarize(img, 128)
	fmt.Println(img.Pix)
	// Output: [0 127 127 0]
}

// Center crops follow torchvision's F.center_crop box (rounded offsets);
// ShorterSide is Resize(size)'s output size.
func ExampleCenterCropBox() {
	fmt.Println(augment.CenterCropBox(500, 375, 224, 224))
	fmt.Println(augment.ShorterSide(500, 375, 256))
	// Output:
	// (138,76)-(362,300)
	// 341 256
}

// Color jitter draws its factors and its op order from the sample's own
// stream, so the same key gives the same jitter on any worker.
func ExampleJitterParams_Apply() {
	j := augment.Jitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.2, Hue: 0.1}
	a := gradient(16, 16)
	b := a.Clone()
	pa := j.Params(rand.New(rand.NewPCG(11, 0)))
	pb := j.Params(rand.New(rand.NewPCG(11, 0)))
	pa.Apply(a)
	pb.Apply(b)
	same := true
	for i := range a.Pix {
		same = same && a.Pix[i] == b.Pix[i]
	}
	fmt.Println("same draws, same pixels:", same)
	// Output: same draws, same pixels: true
}
