package pipeline

import "math/rand/v2"

// splitmix64 is the SplitMix64 finalizer: a bijective mixer whose outputs
// for consecutive inputs are statistically independent.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SampleSeed derives the 128-bit seed of one sample's random stream from the
// run seed, the epoch, the sample's global index in the epoch (its position
// in the unshuffled source) and the view number (0 for single-view stages).
// It is a pure function: the same inputs give the same seed on every machine,
// whatever the worker count or rank layout.
func SampleSeed(seed, epoch, index, view uint64) (uint64, uint64) {
	h := splitmix64(seed)
	h = splitmix64(h ^ epoch)
	h = splitmix64(h ^ index)
	h = splitmix64(h ^ view)
	return h, splitmix64(h ^ 0x5851f42d4c957f2d)
}

// SampleRand returns a new *rand.Rand (PCG) for one sample and view, seeded
// by SampleSeed. Every random draw of an augmentation, mask or crop must come
// from such a stream so that results do not depend on scheduling.
func SampleRand(seed, epoch, index, view uint64) *rand.Rand {
	a, b := SampleSeed(seed, epoch, index, view)
	return rand.New(rand.NewPCG(a, b))
}
