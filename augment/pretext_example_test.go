package augment_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
)

func ExampleRandomRotation() {
	src := gradient(40, 30)
	var dst augment.Image
	// One stream per (seed, epoch, sample, view): the label does not depend
	// on the worker that draws it.
	label := augment.RandomRotation(&dst, src, pipeline.SampleRand(1, 0, 7, 0))
	fmt.Printf("label %d (%d degrees), %dx%d\n", label, 90*label, dst.W, dst.H)
	// Output: label 3 (270 degrees), 30x40
}

func ExampleNewPermutationSet() {
	// The jigsaw classes: 100 orders of the 9 tiles, far apart.
	perms, err := augment.NewPermutationSet(9, 100, 1, augment.MaxMinHamming)
	if err != nil {
		panic(err)
	}
	fmt.Println(perms.Len(), "permutations, minimal Hamming distance", perms.MinHamming)
	// Output: 100 permutations, minimal Hamming distance 6
}

func ExampleJigsaw_Generate() {
	perms, _ := augment.NewPermutationSet(9, 100, 1, augment.MaxMinHamming)
	src := gradient(256, 256) // in practice resized so the shorter side is 256
	var p augment.JigsawPuzzle
	if err := augment.DefaultJigsaw.Generate(&p, src, perms, pipeline.SampleRand(1, 0, 0, 0)); err != nil {
		panic(err)
	}
	fmt.Printf("%d tiles of %dx%d, label %d in [0, %d)\n", len(p.Tiles), p.Tiles[0].W, p.Tiles[0].H, p.Label, perms.Len())
	// Output: 9 tiles of 64x64, label 61 in [0, 100)
}

func ExampleABBins_Colorize() {
	bins := augment.DefaultABBins() // Zhang et al.'s grid of 10, over the sRGB gamut
	var c augment.Colorization
	bins.Colorize(&c, gradient(4, 2))
	a, b := bins.Center(int(c.Bins[0]))
	fmt.Printf("%d classes; pixel 0: L %.1f, ab (%.1f, %.1f) -> bin %d at (%g, %g)\n",
		bins.Len(), c.L[0], c.AB[0], c.AB[len(c.L)], c.Bins[0], a, b)
	// Output: 309 classes; pixel 0: L 13.0, ab (47.5, -64.7) -> bin 209 at (50, -60)
}

func ExampleInpaint_Generate() {
	var p augment.Inpainting
	if err := (augment.Inpaint{Kind: augment.InpaintCenter, Overlap: 4}).Generate(&p, gradient(128, 128), nil); err != nil {
		panic(err)
	}
	fmt.Println("target", p.Box, "input filled inside", p.Box.Inset(4))
	// Output: target (32,32)-(96,96) input filled inside (36,36)-(92,92)
}

func ExampleSuperRes_Generate() {
	var p augment.SuperResPair
	sr := augment.SuperRes{Factor: 4, Patch: 96}
	if err := sr.Generate(&p, gradient(200, 150), pipeline.SampleRand(1, 0, 0, 0), nil); err != nil {
		panic(err)
	}
	fmt.Printf("in %dx%d, target %dx%d\n", p.Low.W, p.Low.H, p.Target.W, p.Target.H)
	// Output: in 24x24, target 96x96
}
