package jigsaw_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/jigsaw"
)

// The permutation set of a run follows from its configuration (grid,
// count, criterion and seed); the run saves it as RUN/permutations.json.
func ExamplePermutations() {
	c, err := train.PresetConfig("jigsaw", "fmnist")
	if err != nil {
		panic(err)
	}
	p, err := jigsaw.Permutations(&c)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d permutations of %d tiles, minimal Hamming distance %d\n", p.Len(), p.Size, p.MinHamming)
	// Output: 100 permutations of 9 tiles, minimal Hamming distance 6
}
