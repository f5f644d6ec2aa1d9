package train

import (
	"context"
	"fmt"
	"sync"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/data"
)

// Views is a batch of augmented image views: Views[v] is view v of every
// sample as contiguous float32 NCHW (normalized), Shape[v] its shape.
// Multi-crop recipes give views of different sizes.
type Views struct {
	Views [][]float32
	Shape [][4]int
}

// ViewBatches is the image data path of the view-based methods (BYOL,
// SimCLR, SimSiam, MoCo v3, DINO): each example's image goes through the
// recipe (one random stream per sample keyed by seed, epoch and index, so
// views do not depend on workers or resume) on the pipeline's workers,
// then batch samples are collated into a Views.
func ViewBatches(examples *pipeline.Stream[data.Example], recipe augment.Recipe, batch, workers int) *pipeline.Stream[any] {
	var scratch sync.Pool
	views := pipeline.Map(examples, func(_ context.Context, s pipeline.Sample[data.Example]) ([]*augment.Image, error) {
		if s.Value.Image == nil {
			return nil, fmt.Errorf("train: sample %s has no image", s.Value.Key)
		}
		sc, _ := scratch.Get().(*augment.Scratch)
		if sc == nil {
			sc = new(augment.Scratch)
		}
		defer scratch.Put(sc)
		return recipe.Apply(nil, s.Value.Image, augment.Key{Seed: s.Seed, Epoch: uint64(s.Epoch), Index: uint64(s.Index)}, sc), nil
	}, pipeline.MapOptions{Name: "augment", Workers: workers})
	bs := pipeline.Batches(views, pipeline.BatchOptions{Size: batch, DropLast: true})
	nv := recipe.NumViews()
	return pipeline.Map(bs, func(_ context.Context, s pipeline.Sample[pipeline.Batch[[]*augment.Image]]) (any, error) {
		vs := make([][]*augment.Image, len(s.Value.Samples))
		for i, x := range s.Value.Samples {
			vs[i] = x.Value
		}
		b := &Views{Views: make([][]float32, nv), Shape: make([][4]int, nv)}
		for v := 0; v < nv; v++ {
			var err error
			if b.Views[v], b.Shape[v], err = recipe.Batch(nil, vs, v); err != nil {
				return nil, err
			}
		}
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

// ImageInput converts 8-bit images to channels x size x size (gray/RGB
// conversion, bilinear resize when the size differs) and normalizes them
// to float32 NCHW: what image encoders take at evaluation.
func ImageInput(imgs []*augment.Image, channels, size int, norm augment.Normalize) ([]float32, [4]int, error) {
	var s augment.Scratch
	conv := make([]*augment.Image, len(imgs))
	for i, m := range imgs {
		if m == nil {
			return nil, [4]int{}, fmt.Errorf("train: example %d has no image", i)
		}
		c := m
		if c.C != channels {
			d := &augment.Image{}
			if channels == 3 {
				augment.GrayToRGB(d, c)
			} else {
				augment.ToGray(d, c)
			}
			c = d
		}
		if c.W != size || c.H != size {
			d := &augment.Image{}
			augment.Resize(d, c, size, size, augment.Bilinear, &s)
			c = d
		}
		conv[i] = c
	}
	return norm.ToNCHW(nil, conv)
}
