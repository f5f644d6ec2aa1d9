// Package jigsaw is jigsaw-puzzle solving (Noroozi & Favaro 2016,
// "Unsupervised Learning of Visual Representations by Solving Jigsaw
// Puzzles") on sslpipe's shared trainer. It registers the method "jigsaw"
// (images).
//
// Each image gives one puzzle (augment.Jigsaw.Generate, drawn from the
// sample's key): a window cut into Grid x Grid cells, a tile at a random
// offset in each cell (gaps and jitter), the tiles shuffled by one of a
// fixed set of permutations. Every tile goes through the same backbone
// and a per-tile layer; the concatenation in slot order goes through a
// joint layer and a classifier over the permutations (cross-entropy).
//
// The permutation set is chosen from the run's seed (maximal Hamming
// distance) when the trainer is built, written once to
// RUN/permutations.json, and read back and compared on resume: a resume
// whose file differs from the set the configuration gives is refused
// (train.ErrBadCheckpoint). eval, embed and the online monitor use the
// backbone on whole images.
package jigsaw

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// PermutationsFile is the name of the permutation set in a run folder.
const PermutationsFile = "permutations.json"

// viewPuzzle is the puzzle's stream of a sample (pipeline.Sample.Rand).
const viewPuzzle = 1

// Batch is one training batch: the tiles of B puzzles (B*Grid² x C x T x
// T float32, puzzle by puzzle in slot order) and the permutation labels.
type Batch struct {
	X      []float32
	Shape  [4]int
	Labels []int64
}

type puzzle struct {
	x     []float32
	label int64
}

// Permutations builds the run's permutation set from its configuration.
func Permutations(c *train.Config) (*augment.PermutationSet, error) {
	s := settings(c)
	return augment.NewPermutationSet(s.Puzzle.Grid*s.Puzzle.Grid, s.Permutations, c.Seed, s.Criterion)
}

// runPermutations returns the run's permutation set: built from the
// configuration and written to dir/permutations.json when the run has no
// checkpoint yet (write: the process that writes the run folder), or read
// back from the file and checked against the built set when it has
// (resume).
func runPermutations(c *train.Config, dir string, write bool) (*augment.PermutationSet, error) {
	want, err := Permutations(c)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return want, nil
	}
	path := filepath.Join(dir, PermutationsFile)
	cks, _ := train.Checkpoints(dir)
	if len(cks) == 0 {
		if write {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("jigsaw: %w", err)
			}
			if err := want.Save(path); err != nil {
				return nil, err
			}
		}
		return want, nil
	}
	got, err := augment.LoadPermutationSet(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("jigsaw: %w: %s has checkpoints but no %s", train.ErrBadCheckpoint, dir, PermutationsFile)
		}
		return nil, fmt.Errorf("jigsaw: %w: %w", train.ErrBadCheckpoint, err)
	}
	if got.Size != want.Size || got.Len() != want.Len() || !slices.EqualFunc(got.Perms, want.Perms, slices.Equal[[]int]) {
		return nil, fmt.Errorf("jigsaw: %w: %s holds %d permutations of %d tiles that differ from the %d the run's configuration gives (seed %d, %s): the checkpoints were trained on other classes",
			train.ErrBadCheckpoint, path, got.Len(), got.Size, want.Len(), c.Seed, want.Criterion)
	}
	return got, nil
}

// normalizeTile writes tile t (8-bit, C channels) as float32 CHW: each
// channel to zero mean and unit standard deviation (eps 1e-5 on the
// variance, so a flat tile becomes zeros) when perTile, else with norm.
func normalizeTile(dst []float32, t *augment.Image, perTile bool, norm augment.Normalize) {
	if !perTile {
		norm.ToCHW(dst, t)
		return
	}
	plane := t.W * t.H
	for c := 0; c < t.C; c++ {
		var m, v float64
		for i := 0; i < plane; i++ {
			m += float64(t.Pix[i*t.C+c])
		}
		m /= float64(plane)
		for i := 0; i < plane; i++ {
			d := float64(t.Pix[i*t.C+c]) - m
			v += d * d
		}
		inv := 1 / math.Sqrt(v/float64(plane)+1e-5*255*255)
		for i := 0; i < plane; i++ {
			dst[c*plane+i] = float32((float64(t.Pix[i*t.C+c]) - m) * inv)
		}
	}
}

// makePuzzle cuts one puzzle from img with r and lays its tiles out.
func makePuzzle(img *augment.Image, s *Settings, perms *augment.PermutationSet, r *rand.Rand) (puzzle, error) {
	m := s.Input.Convert(img)
	var p augment.JigsawPuzzle
	if err := s.Puzzle.Generate(&p, m, perms, r); err != nil {
		return puzzle{}, err
	}
	per := s.Input.Channels * s.Puzzle.Tile * s.Puzzle.Tile
	out := puzzle{x: make([]float32, len(p.Tiles)*per), label: int64(p.Label)}
	for i, t := range p.Tiles {
		normalizeTile(out.x[i*per:(i+1)*per], t, s.TileNorm, s.Input.Normalize)
	}
	return out, nil
}

// batches is the data path: one puzzle per image on the workers (drawn
// from the sample's key), then batches of batch puzzles.
func batches(ex *pipeline.Stream[data.Example], s *Settings, perms *augment.PermutationSet, batch, workers int) *pipeline.Stream[any] {
	ps := pipeline.Map(ex, func(_ context.Context, smp pipeline.Sample[data.Example]) (puzzle, error) {
		if smp.Value.Image == nil {
			return puzzle{}, fmt.Errorf("jigsaw: sample %s has no image", smp.Value.Key)
		}
		return makePuzzle(smp.Value.Image, s, perms, smp.Rand(viewPuzzle))
	}, pipeline.MapOptions{Name: "puzzle", Workers: workers})
	bs := pipeline.Batches(ps, pipeline.BatchOptions{Size: batch, DropLast: true})
	n := s.Puzzle.Grid * s.Puzzle.Grid
	return pipeline.Map(bs, func(_ context.Context, smp pipeline.Sample[pipeline.Batch[puzzle]]) (any, error) {
		b := &Batch{}
		for _, x := range smp.Value.Samples {
			b.X = append(b.X, x.Value.x...)
			b.Labels = append(b.Labels, x.Value.label)
		}
		b.Shape = [4]int{len(b.Labels) * n, s.Input.Channels, s.Puzzle.Tile, s.Puzzle.Tile}
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

// net is the shared backbone ("backbone.*"), the per-tile layer
// ("tile.*"), the joint layer ("joint.*") and the classifier
// ("classifier.*").
type net struct {
	p                  *nn.Params
	bb                 nn.Backbone
	tile, joint, class *nn.Linear
	tiles              int64
}

// newNet builds the network for puzzles of tiles tiles and classes
// permutations; the seed fixes the initial weights.
func newNet(m *Model, tiles, classes int, seed uint64, dev gotch.Device) (*net, error) {
	return sslkit.NewNet(seed, dev, m.Arch, func(p *nn.Params, bb nn.Backbone) (*net, error) {
		n := &net{p: p, bb: bb, tiles: int64(tiles)}
		n.tile = nn.NewLinear(p, "tile", bb.Dim(), m.Tile)
		n.joint = nn.NewLinear(p, "joint", int64(tiles)*m.Tile, m.Joint)
		n.class = nn.NewLinear(p, "classifier", m.Joint, int64(classes))
		return n, nil
	})
}

// forward maps tiles (B*tiles x C x T x T) to permutation logits (B x N,
// float32).
func (n *net) forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	f := tp.Relu(n.tile.Forward(tp, n.bb.Forward(tp, x, train)))
	b := op.Shape(f)[0] / n.tiles
	f = tp.Reshape(f, b, -1)
	return nn.Float32(tp, n.class.Forward(tp, tp.Relu(n.joint.Forward(tp, f))))
}

// stepResult is what one optimization step reports.
type stepResult struct {
	loss, acc, gradNorm float64
	skipped             bool
}

// step trains on one batch (tiles x, labels y on the device).
func step(n *net, opt *nn.Optimizer, bf16, skipNonFinite bool, x, y op.Tensor, lr, clip float64, reduce func([]op.Tensor) error) (r stepResult, err error) {
	o := sslkit.StepOptions{BF16: bf16, SkipNonFinite: skipNonFinite, LR: lr, Clip: clip, Reduce: reduce}
	r.loss, r.acc, r.gradNorm, r.skipped, err = sslkit.ClassifierStep(n.p, opt, o, y, func(tp *op.Tape) op.Tensor {
		return n.forward(tp, x, true)
	})
	return r, err
}

// toDevice copies a batch to dev (the caller frees both tensors).
func toDevice(b *Batch, dev gotch.Device) (x, y op.Tensor, err error) {
	return sslkit.LabeledToDevice(b.X, b.Shape, b.Labels, dev)
}
