package augment

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Jigsaw puzzles (Noroozi & Favaro, "Unsupervised Learning of Visual
// Representations by Solving Jigsaw Puzzles", 2016): a square window of
// the image is cut into a Grid x Grid grid of cells, a smaller tile is
// taken at a random position inside each cell (the gaps and the jitter keep
// the network from matching edges), the tiles are shuffled by one
// permutation of a fixed set, and the network predicts which one.

// Permutation-set selection criteria.
const (
	// MaxMinHamming adds, at each step, the permutation whose minimal
	// Hamming distance to the permutations already chosen is largest.
	MaxMinHamming = "maxmin"
	// MeanHamming adds the permutation whose mean Hamming distance to the
	// chosen ones is largest: Algorithm 1 of Noroozi & Favaro as written
	// (D-bar = 1^T D, argmax) and as their released code does.
	MeanHamming = "mean"
)

// PermutationSetFormat names the JSON layout written by
// PermutationSet.Save.
const PermutationSetFormat = "sslpipe-jigsaw-permutations/1"

// PermutationSet is the fixed set of tile orders a jigsaw network
// classifies. Perms[k][t] is the cell whose tile goes to slot t of
// puzzle k (the order of the original code, which builds the input as
// tiles[perm[t]] for t = 0..8). It marshals to JSON as saved with a run.
type PermutationSet struct {
	Format     string  `json:"format"`
	Size       int     `json:"size"`      // elements permuted: Grid*Grid
	Seed       uint64  `json:"seed"`      // seed that chose Start
	Start      int     `json:"start"`     // lexicographic index of the first permutation
	Criterion  string  `json:"criterion"` // MaxMinHamming or MeanHamming
	MinHamming int     `json:"min_hamming"`
	MeanDist   float64 `json:"mean_hamming"` // mean pairwise Hamming distance
	Perms      [][]int `json:"permutations"`
}

// maxPermSize bounds the elements of a permutation set: all Size!
// permutations are enumerated (9! = 362,880).
const maxPermSize = 9

// NewPermutationSet chooses n permutations of size elements greedily by
// maximal Hamming distance (Noroozi & Favaro's Algorithm 1): start from
// one permutation drawn from seed, then repeatedly add the not yet chosen
// permutation that maximises the criterion (MaxMinHamming: the minimal
// Hamming distance to the chosen set; MeanHamming: the mean distance),
// ties going to the first in lexicographic order, as numpy's argmax does.
// The result depends only on (size, n, seed, criterion). With
// MaxMinHamming the k-th permutation is at distance at least d from all
// earlier ones as long as (k-1)*V(d-1) < size!, where V(r) counts the
// permutations within distance r of one permutation (a
// Gilbert-Varshamov argument: until then some permutation lies outside
// every chosen one's ball). For size 9 the bound guarantees 5 for
// n = 100 and 4 for n = 1000; the seeds tested reach 6 and 5. (With
// MeanHamming, as in the paper, the minimal distance of 100 is 2.)
func NewPermutationSet(size, n int, seed uint64, criterion string) (*PermutationSet, error) {
	if size < 2 || size > maxPermSize {
		return nil, fmt.Errorf("augment: permutation size %d outside [2, %d]", size, maxPermSize)
	}
	total := factorial(size)
	if n < 1 || n > total {
		return nil, fmt.Errorf("augment: %d permutations of %d elements (want 1 to %d)", n, size, total)
	}
	if criterion == "" {
		criterion = MaxMinHamming
	}
	if criterion != MaxMinHamming && criterion != MeanHamming {
		return nil, fmt.Errorf("augment: permutation criterion %q (%s, %s)", criterion, MaxMinHamming, MeanHamming)
	}
	r := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc909))
	start := r.IntN(total)
	p := greedyPermutations(size, n, start, criterion)
	p.Seed = seed
	return p, nil
}

func factorial(n int) int {
	f := 1
	for i := 2; i <= n; i++ {
		f *= i
	}
	return f
}

// allPermutations lists the permutations of 0..n-1 in lexicographic
// order, each packed into 4-bit nibbles (element t in bits 4t..4t+3).
func allPermutations(n int) []uint64 {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	out := make([]uint64, 0, factorial(n))
	for {
		var code uint64
		for t, v := range p {
			code |= uint64(v) << (4 * t)
		}
		out = append(out, code)
		// next permutation in lexicographic order
		i := n - 2
		for i >= 0 && p[i] >= p[i+1] {
			i--
		}
		if i < 0 {
			return out
		}
		j := n - 1
		for p[j] <= p[i] {
			j--
		}
		p[i], p[j] = p[j], p[i]
		for a, b := i+1, n-1; a < b; a, b = a+1, b-1 {
			p[a], p[b] = p[b], p[a]
		}
	}
}

// nibbleLow has the low bit of each of the 16 nibbles set.
const nibbleLow = 0x1111111111111111

// hamming counts the positions where two packed permutations differ.
func hamming(x, y uint64) int {
	d := x ^ y
	d = (d | d>>1 | d>>2 | d>>3) & nibbleLow
	return bits.OnesCount64(d)
}

func unpack(code uint64, n int) []int {
	p := make([]int, n)
	for t := range p {
		p[t] = int(code>>(4*t)) & 15
	}
	return p
}

// greedyPermutations runs the greedy selection from the permutation with
// lexicographic index start.
func greedyPermutations(size, n, start int, criterion string) *PermutationSet {
	all := allPermutations(size)
	// score[k] is permutation k's minimal distance (maxmin) or sum of
	// distances (mean) to the chosen set; chosen ones hold taken, which no
	// sum of distances (at most 9 * 9!) can lift above -1.
	const taken = math.MinInt32 / 2
	score := make([]int32, len(all))
	chosen := make([]int, 0, n)
	next := start
	mean := criterion == MeanHamming
	for i := range score {
		score[i] = math.MaxInt32 // maxmin: no distance yet
		if mean {
			score[i] = 0
		}
	}
	for {
		chosen = append(chosen, next)
		score[next] = taken
		if len(chosen) == n {
			break
		}
		// Update every score with the new permutation and find the best
		// in the same pass (first maximum in lexicographic order).
		add := all[next]
		best, bs := -1, int32(-1)
		for k, c := range all {
			d := int32(hamming(c, add))
			s := score[k]
			if mean {
				s += d
				score[k] = s
			} else if d < s {
				s = d
				score[k] = s
			}
			if s > bs {
				best, bs = k, s
			}
		}
		next = best
	}
	p := &PermutationSet{Format: PermutationSetFormat, Size: size, Start: start, Criterion: criterion}
	for _, k := range chosen {
		p.Perms = append(p.Perms, unpack(all[k], size))
	}
	p.MinHamming, p.MeanDist = p.distances()
	return p
}

// distances returns the minimal and mean pairwise Hamming distance (0 and
// 0 for a single permutation).
func (p *PermutationSet) distances() (minD int, mean float64) {
	codes := make([]uint64, len(p.Perms))
	for i, q := range p.Perms {
		for t, v := range q {
			codes[i] |= uint64(v) << (4 * t)
		}
	}
	minD = p.Size
	sum, pairs := 0, 0
	for i := range codes {
		for j := i + 1; j < len(codes); j++ {
			d := hamming(codes[i], codes[j])
			minD = min(minD, d)
			sum += d
			pairs++
		}
	}
	if pairs == 0 {
		return 0, 0
	}
	return minD, float64(sum) / float64(pairs)
}

// Len is the number of permutations (the number of classes).
func (p *PermutationSet) Len() int { return len(p.Perms) }

// Validate checks that every entry is a permutation of 0..Size-1, that no
// two are equal, and that the recorded distances match.
func (p *PermutationSet) Validate() error {
	if p.Size < 2 || p.Size > maxPermSize || len(p.Perms) == 0 {
		return fmt.Errorf("augment: permutation set of %d permutations of %d elements", len(p.Perms), p.Size)
	}
	seen := make(map[uint64]int, len(p.Perms))
	for k, q := range p.Perms {
		if len(q) != p.Size {
			return fmt.Errorf("augment: permutation %d has %d elements, want %d", k, len(q), p.Size)
		}
		var used uint32
		var code uint64
		for t, v := range q {
			if v < 0 || v >= p.Size || used&(1<<v) != 0 {
				return fmt.Errorf("augment: permutation %d %v is not a permutation of 0..%d", k, q, p.Size-1)
			}
			used |= 1 << v
			code |= uint64(v) << (4 * t)
		}
		if j, dup := seen[code]; dup {
			return fmt.Errorf("augment: permutations %d and %d are equal", j, k)
		}
		seen[code] = k
	}
	if m, _ := p.distances(); m != p.MinHamming {
		return fmt.Errorf("augment: permutation set records minimal Hamming distance %d, has %d", p.MinHamming, m)
	}
	return nil
}

// Save writes the set as JSON to path (via a temporary file and a rename).
func (p *PermutationSet) Save(path string) error {
	b, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".perms-*.json")
	if err != nil {
		return fmt.Errorf("augment: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("augment: %s: %w", path, err)
	}
	return nil
}

// LoadPermutationSet reads a set written by Save and validates it.
func LoadPermutationSet(path string) (*PermutationSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("augment: %w", err)
	}
	var p PermutationSet
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("augment: %s: %w", path, err)
	}
	if p.Format != PermutationSetFormat {
		return nil, fmt.Errorf("augment: %s: format %q, want %q", path, p.Format, PermutationSetFormat)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return &p, nil
}

// Jigsaw describes the puzzles: Noroozi & Favaro use a 225 x 225 window,
// 3 x 3 cells of 75 x 75 and 64 x 64 tiles, on images resized to 256.
type Jigsaw struct {
	Grid int `yaml:"grid" json:"grid"` // cells per side (3)
	Crop int `yaml:"crop" json:"crop"` // side of the square window; cells are Crop/Grid
	Tile int `yaml:"tile" json:"tile"` // side of each tile, at most Crop/Grid
}

// DefaultJigsaw is the paper's geometry.
var DefaultJigsaw = Jigsaw{Grid: 3, Crop: 225, Tile: 64}

// Validate checks the geometry.
func (j Jigsaw) Validate() error {
	if j.Grid < 2 || j.Grid*j.Grid > maxPermSize {
		return fmt.Errorf("augment: jigsaw grid %d (want 2 or 3: all Grid^2! permutations are enumerated)", j.Grid)
	}
	if j.Tile < 1 || j.Crop/j.Grid < j.Tile || j.Crop > 8192 {
		return fmt.Errorf("augment: jigsaw tile %d must fit a cell of the %d window split %dx%d", j.Tile, j.Crop, j.Grid, j.Grid)
	}
	return nil
}

// JigsawPuzzle is one puzzle.
type JigsawPuzzle struct {
	// Tiles are the network's input in slot order: slot t holds the tile
	// cut from cell Perm[t] (cells numbered row-major).
	Tiles  []*Image
	Label  int   // index of the permutation in the set: the class
	Perm   []int // the permutation (shared with the set: do not modify)
	Window image.Rectangle
	// Boxes are the tiles' boxes in the source, in cell order.
	Boxes []image.Rectangle
}

// ErrImageTooSmall is returned (wrapped) when an image is smaller than a
// generator's window.
var ErrImageTooSmall = errors.New("augment: image smaller than the window")

// Generate cuts one puzzle from src. It draws from r, in this order: the
// window's left and top (r.IntN each, uniform over the positions inside
// src), each cell's tile offset in row-major cell order (x then y,
// uniform in [0, cell-Tile]), then the label (r.IntN(perms.Len())). src
// must be at least Crop x Crop: resize it first (the paper resizes to
// 256). dst's tiles are reused.
func (j Jigsaw) Generate(dst *JigsawPuzzle, src *Image, perms *PermutationSet, r *rand.Rand) error {
	if err := j.Validate(); err != nil {
		return err
	}
	n := j.Grid * j.Grid
	if perms == nil || perms.Size != n || perms.Len() == 0 {
		return fmt.Errorf("augment: jigsaw %dx%d needs a permutation set of size %d", j.Grid, j.Grid, n)
	}
	if src.W < j.Crop || src.H < j.Crop {
		return fmt.Errorf("%w: jigsaw window %d, image %dx%d", ErrImageTooSmall, j.Crop, src.W, src.H)
	}
	x0, y0 := r.IntN(src.W-j.Crop+1), r.IntN(src.H-j.Crop+1)
	dst.Window = image.Rect(x0, y0, x0+j.Crop, y0+j.Crop)
	cell := j.Crop / j.Grid
	dst.Boxes = dst.Boxes[:0]
	for c := range n {
		cx, cy := x0+(c%j.Grid)*cell, y0+(c/j.Grid)*cell
		dx, dy := r.IntN(cell-j.Tile+1), r.IntN(cell-j.Tile+1)
		dst.Boxes = append(dst.Boxes, image.Rect(cx+dx, cy+dy, cx+dx+j.Tile, cy+dy+j.Tile))
	}
	dst.Label = r.IntN(perms.Len())
	dst.Perm = perms.Perms[dst.Label]
	for len(dst.Tiles) < n {
		dst.Tiles = append(dst.Tiles, &Image{})
	}
	dst.Tiles = dst.Tiles[:n]
	for t, c := range dst.Perm {
		if dst.Tiles[t] == nil {
			dst.Tiles[t] = &Image{}
		}
		Crop(dst.Tiles[t], src, dst.Boxes[c])
	}
	return nil
}

// Draw lays the tiles out in a Grid x Grid mosaic with gap pixels of
// white between them: in slot order (the shuffled puzzle the network
// sees) or, with solved, each tile back in its cell.
func (p *JigsawPuzzle) Draw(dst *Image, gap int, solved bool) {
	n := len(p.Tiles)
	grid := 1
	for grid*grid < n {
		grid++
	}
	t0 := p.Tiles[0]
	side := grid*t0.W + (grid+1)*gap
	dst.Reset(side, side, t0.C)
	for i := range dst.Pix {
		dst.Pix[i] = 255
	}
	for t, tile := range p.Tiles {
		pos := t
		if solved {
			pos = p.Perm[t]
		}
		ox, oy := gap+(pos%grid)*(t0.W+gap), gap+(pos/grid)*(t0.W+gap)
		for y := 0; y < tile.H; y++ {
			copy(dst.Pix[((oy+y)*side+ox)*dst.C:], tile.Pix[y*tile.W*tile.C:(y+1)*tile.W*tile.C])
		}
	}
}
