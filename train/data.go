package train

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/datasets"
	"github.com/sslpipe/sslpipe/pipeline"
)

// DataConfig says where training images come from and how they are turned
// into views.
type DataConfig struct {
	// Path is "fashion-mnist:train" (Debian's dataset-fashion-mnist;
	// "fashion-mnist:train@DIR" for another folder) or a folder of images
	// (JPEG/PNG, searched recursively, labels ignored).
	Path string `yaml:"path" json:"path"`
	// Limit, if > 0, uses only the first Limit images.
	Limit int `yaml:"limit" json:"limit"`
	// Workers augmenting in parallel (0: GOMAXPROCS); Prefetch batches
	// made ahead of the training step.
	Workers  int `yaml:"workers" json:"workers"`
	Prefetch int `yaml:"prefetch" json:"prefetch"`
	// MaxBadFraction of samples that may fail to decode before the run
	// stops (0: stop at the first).
	MaxBadFraction float64 `yaml:"max_bad_fraction" json:"max_bad_fraction"`
	// Augment is the view recipe (two views for BYOL).
	Augment augment.Recipe `yaml:"augment" json:"augment"`
}

// Batch is one training batch as it comes out of the pipeline: the views
// as contiguous float32 NCHW, normalized.
type Batch struct {
	Views [][]float32
	Shape [][4]int
}

// Source is the set of images a run trains on; Images returns a stream of
// decoded images visited in order o. Library users can supply their own
// (RunOptions.Source), for example an in-memory dataset.
type Source interface {
	Len() int
	Stream(o pipeline.Order) *pipeline.Stream[*augment.Image]
}

// MemorySource trains on in-memory images.
type MemorySource []*augment.Image

// Len is the number of images.
func (m MemorySource) Len() int { return len(m) }

// Stream visits the images in order o.
func (m MemorySource) Stream(o pipeline.Order) *pipeline.Stream[*augment.Image] {
	return pipeline.From[*augment.Image](pipeline.Slice([]*augment.Image(m)), o)
}

type folderSource struct {
	src      *pipeline.FileSource
	channels int
	workers  int
}

func (f *folderSource) Len() int { return f.src.Len() }

func (f *folderSource) Stream(o pipeline.Order) *pipeline.Stream[*augment.Image] {
	files := pipeline.Map(pipeline.From[pipeline.File](f.src, o), pipeline.ReadFile, pipeline.MapOptions{Name: "read", Workers: 2})
	return pipeline.Map(files, func(_ context.Context, s pipeline.Sample[pipeline.Blob]) (*augment.Image, error) {
		return augment.Decode(s.Value.Path, s.Value.Data, augment.DecodeOptions{Channels: f.channels})
	}, pipeline.MapOptions{Name: "decode", Workers: f.workers})
}

// OpenSource opens DataConfig.Path.
func OpenSource(c DataConfig) (Source, error) {
	if split, dir, ok := datasets.IsFashionMNISTSpec(c.Path); ok {
		set, err := datasets.FashionMNIST(dir, split)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		g := set.Images
		n := g.N
		if c.Limit > 0 && c.Limit < n {
			n = c.Limit
		}
		imgs := make([]*augment.Image, n)
		for i := range imgs {
			m := augment.NewImage(g.W, g.H, g.C)
			copy(m.Pix, g.Image(i))
			imgs[i] = m
		}
		return MemorySource(imgs), nil
	}
	fi, err := os.Stat(c.Path)
	if err != nil {
		return nil, fmt.Errorf("train: data: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("train: data: %s is not a folder or fashion-mnist:SPLIT", c.Path)
	}
	src, err := pipeline.Folder(c.Path, ".jpg", ".jpeg", ".png")
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	// c.Limit caps the samples per epoch through pipeline.Order.Limit.
	return &folderSource{src: src, channels: 3, workers: c.Workers}, nil
}

// batchStream builds the training stream: images -> views (recipe, per
// sample random stream) -> batches -> float32 NCHW -> prefetch.
func batchStream(src Source, c DataConfig, batch int, seed uint64) (*pipeline.Stream[Batch], error) {
	if err := c.Augment.Validate(); err != nil {
		return nil, err
	}
	if src.Len() < batch {
		return nil, fmt.Errorf("train: data: %d images, fewer than one batch of %d", src.Len(), batch)
	}
	o := pipeline.Order{Seed: seed, Epochs: -1, Shuffle: true, Limit: c.Limit}
	recipe := c.Augment
	var scratch sync.Pool
	views := pipeline.Map(src.Stream(o), func(_ context.Context, s pipeline.Sample[*augment.Image]) ([]*augment.Image, error) {
		sc, _ := scratch.Get().(*augment.Scratch)
		if sc == nil {
			sc = new(augment.Scratch)
		}
		defer scratch.Put(sc)
		return recipe.Apply(nil, s.Value, augment.Key{Seed: s.Seed, Epoch: uint64(s.Epoch), Index: uint64(s.Index)}, sc), nil
	}, pipeline.MapOptions{Name: "augment", Workers: c.Workers})
	batches := pipeline.Batches(views, pipeline.BatchOptions{Size: batch, DropLast: true})
	nv := recipe.NumViews()
	tensors := pipeline.Map(batches, func(_ context.Context, s pipeline.Sample[pipeline.Batch[[]*augment.Image]]) (Batch, error) {
		vs := make([][]*augment.Image, len(s.Value.Samples))
		for i, x := range s.Value.Samples {
			vs[i] = x.Value
		}
		b := Batch{Views: make([][]float32, nv), Shape: make([][4]int, nv)}
		for v := 0; v < nv; v++ {
			var err error
			b.Views[v], b.Shape[v], err = recipe.Batch(nil, vs, v)
			if err != nil {
				return Batch{}, err
			}
		}
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
	return pipeline.Prefetch(tensors, max(c.Prefetch, 1)), nil
}
