package jigsaw

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/data/datatest"
)

// noise is a dataset of n random gray size x size images.
func noise(n, size int) *data.Dataset {
	return data.New("noise", data.Image, n, 2, func(_ context.Context, i int) (data.Example, error) {
		r := rand.New(rand.NewPCG(uint64(i), 9))
		m := augment.NewImage(size, size, 1)
		for j := range m.Pix {
			m.Pix[j] = uint8(r.IntN(256))
		}
		return data.Example{Key: fmt.Sprint(i), Image: m, Class: -1}, nil
	})
}

// TestPuzzlesMatchTheGenerator: each puzzle of a batch holds, in slot t,
// the tile the generator cut from cell perm[label][t] (recomputed with
// augment.Jigsaw.Generate on the sample's stream), normalized per tile to
// zero mean and unit variance; batches do not depend on the worker count.
func TestPuzzlesMatchTheGenerator(t *testing.T) {
	c, err := train.PresetConfig("jigsaw", "fmnist")
	if err != nil {
		t.Fatal(err)
	}
	s := settings(&c)
	perms, err := Permutations(&c)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	ds := noise(n, 28)
	order := pipeline.Order{Seed: 5, Epochs: 1} // unshuffled: position i is sample i
	collect := func(workers int) []*Batch {
		var out []*Batch
		for b, err := range pipeline.All(context.Background(), batches(ds.Stream(order), s, perms, 4, workers), pipeline.RunOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b.Value.(*Batch))
		}
		return out
	}
	a, b := collect(1), collect(3)
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("%d and %d batches", len(a), len(b))
	}
	for i := range a {
		if !slices.Equal(a[i].X, b[i].X) || !slices.Equal(a[i].Labels, b[i].Labels) {
			t.Fatalf("batch %d differs between 1 and 3 workers", i)
		}
	}
	ex, err := ds.Collect(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	tile := s.Puzzle.Tile
	per := tile * tile
	for bi, bt := range a {
		if bt.Shape != [4]int{4 * 9, 1, tile, tile} {
			t.Fatalf("batch shape %v", bt.Shape)
		}
		for j := 0; j < 4; j++ {
			idx := bi*4 + j
			var p augment.JigsawPuzzle
			if err := s.Puzzle.Generate(&p, ex[idx].Image, perms, pipeline.SampleRand(order.Seed, 0, uint64(idx), viewPuzzle)); err != nil {
				t.Fatal(err)
			}
			if bt.Labels[j] != int64(p.Label) {
				t.Fatalf("puzzle %d: label %d, generator %d", idx, bt.Labels[j], p.Label)
			}
			for slot := 0; slot < 9; slot++ {
				cell := perms.Perms[p.Label][slot]
				var want augment.Image
				augment.Crop(&want, ex[idx].Image, p.Boxes[cell])
				got := bt.X[(j*9+slot)*per : (j*9+slot+1)*per]
				// Per-tile normalization keeps the order of the pixels
				// and gives mean 0, variance ~1.
				var mean, vr float64
				for _, v := range got {
					mean += float64(v)
				}
				mean /= float64(per)
				for _, v := range got {
					vr += (float64(v) - mean) * (float64(v) - mean)
				}
				vr /= float64(per)
				if mean > 1e-5 || mean < -1e-5 || vr < 0.99 || vr > 1.0001 {
					t.Fatalf("puzzle %d slot %d: mean %v variance %v", idx, slot, mean, vr)
				}
				for k := 1; k < per; k++ {
					if (want.Pix[k] > want.Pix[0]) != (got[k] > got[0]) || (want.Pix[k] == want.Pix[0]) != (got[k] == got[0]) {
						t.Fatalf("puzzle %d slot %d: pixel %d is not the tile of cell %d", idx, slot, k, cell)
					}
				}
			}
		}
	}
}

// TestPermutationFile: a run writes RUN/permutations.json once (the set
// its seed gives, read back equal), a resume reads and checks it, and a
// resume whose file was changed is refused with train.ErrBadCheckpoint.
func TestPermutationFile(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network")
	}
	dir := t.TempDir()
	spec := datatest.ImageShards(t, dir, 48, 4)
	c, err := train.PresetConfig("jigsaw", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	c.Data.Spec, c.Out = spec, filepath.Join(dir, "run")
	c.Schedule.Steps = 4
	c.Data.Batch, c.Data.Workers = 8, 2
	if _, err := train.Run(context.Background(), c, train.RunOptions{StopAfter: 2}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.Out, PermutationsFile)
	got, err := augment.LoadPermutationSet(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Permutations(&c)
	if !slices.EqualFunc(got.Perms, want.Perms, slices.Equal[[]int]) || got.Seed != c.Seed || got.Len() != settings(&c).Permutations {
		t.Fatalf("permutations.json holds %v, the seed gives %v", got.Perms, want.Perms)
	}
	info, _ := os.Stat(path)
	// A faithful resume: the file is checked, not rewritten.
	resumed := c
	if _, err := train.Run(context.Background(), resumed, train.RunOptions{Resume: true, StopAfter: 3}); err != nil {
		t.Fatal(err)
	}
	if info2, _ := os.Stat(path); !info2.ModTime().Equal(info.ModTime()) {
		t.Errorf("resume rewrote %s", path)
	}
	// Another order of the same permutations: other classes, refused.
	got.Perms[0], got.Perms[1] = got.Perms[1], got.Perms[0]
	if err := got.Save(path); err != nil {
		t.Fatal(err)
	}
	_, err = train.Run(context.Background(), resumed, train.RunOptions{Resume: true})
	if !errors.Is(err, train.ErrBadCheckpoint) {
		t.Fatalf("resume with changed permutations: %v", err)
	}
	t.Log(err)
	// A missing file is refused too.
	os.Remove(path)
	if _, err := train.Run(context.Background(), resumed, train.RunOptions{Resume: true}); !errors.Is(err, train.ErrBadCheckpoint) {
		t.Fatalf("resume without permutations.json: %v", err)
	}
}
