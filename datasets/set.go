package datasets

import (
	"fmt"
)

// Set is a labelled data set. Keys[i] names example i (a file path, or
// "fashion-mnist:train/00042"), Labels[i] is its class, an index into
// Classes. Images is set only for in-memory image sets (Fashion-MNIST);
// for file-based sets the caller decodes Keys[i] itself.
type Set struct {
	Name    string // where the set came from, for messages
	Keys    []string
	Labels  []int
	Classes []string
	Images  *Images
}

// Images is a stack of N H x W images with C interleaved channels (1: gray,
// 3: RGB); image i occupies Pix[i*H*W*C : (i+1)*H*W*C], row-major, the
// layout of augment.Image.
type Images struct {
	N, H, W, C int
	Pix        []uint8
}

// Size is the number of bytes of one image, H*W*C.
func (g *Images) Size() int { return g.H * g.W * g.C }

// Image returns the pixels of image i (a subslice of Pix, not a copy).
func (g *Images) Image(i int) []uint8 {
	n := g.Size()
	return g.Pix[i*n : (i+1)*n : (i+1)*n]
}

// Len is the number of examples.
func (s *Set) Len() int { return len(s.Labels) }

// Subset returns the examples idx, in that order. Images are copied; keys
// and class names are shared.
func (s *Set) Subset(idx []int) *Set {
	out := &Set{Name: s.Name, Classes: s.Classes, Keys: make([]string, len(idx)), Labels: make([]int, len(idx))}
	for j, i := range idx {
		out.Keys[j] = s.Keys[i]
		out.Labels[j] = s.Labels[i]
	}
	if s.Images != nil {
		g := s.Images
		n := g.Size()
		pix := make([]uint8, len(idx)*n)
		for j, i := range idx {
			copy(pix[j*n:], g.Image(i))
		}
		out.Images = &Images{N: len(idx), H: g.H, W: g.W, C: g.C, Pix: pix}
	}
	return out
}

// Head returns the first n examples (all if n <= 0 or n >= Len).
func (s *Set) Head(n int) *Set {
	if n <= 0 || n >= s.Len() {
		return s
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(idx)
}

// ClassCounts returns how many examples each class has.
func (s *Set) ClassCounts() []int {
	c := make([]int, len(s.Classes))
	for _, l := range s.Labels {
		c[l]++
	}
	return c
}

// validate checks the invariants every reader guarantees.
func (s *Set) validate() error {
	if len(s.Keys) != len(s.Labels) {
		return fmt.Errorf("datasets: %s: %d keys but %d labels", s.Name, len(s.Keys), len(s.Labels))
	}
	for i, l := range s.Labels {
		if l < 0 || l >= len(s.Classes) {
			return fmt.Errorf("%w: %s: %s: label %d out of range [0,%d)", ErrFormat, s.Name, s.Keys[i], l, len(s.Classes))
		}
	}
	if s.Images != nil && s.Images.N != len(s.Labels) {
		return fmt.Errorf("datasets: %s: %d images but %d labels", s.Name, s.Images.N, len(s.Labels))
	}
	return nil
}
