package data

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/npy"
	"github.com/sslpipe/sslpipe/pipeline"
)

// LabelSet is the metadata of a frame-label set (labels.json beside its
// shards): labels made for one dataset, one shard of <key>.km.npy members
// per shard of the dataset, in the same sample order (HuBERT's
// iteration-2 labels are written this way).
type LabelSet struct {
	K           int      `json:"k"`
	LabelRate   int      `json:"label_rate"`   // labels per second
	FeatureType string   `json:"feature_type"` // e.g. "hubert:RUN:layer6"
	Data        string   `json:"data"`         // the dataset the labels describe
	Samples     int      `json:"samples"`
	Shards      []string `json:"shards"` // file names, in the dataset's order
}

// ReadLabelSet reads DIR/labels.json.
func ReadLabelSet(dir string) (*LabelSet, error) {
	b, err := os.ReadFile(filepath.Join(dir, "labels.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: label set: %v", ErrSpec, err)
	}
	var ls LabelSet
	if err := json.Unmarshal(b, &ls); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrSpec, filepath.Join(dir, "labels.json"), err)
	}
	if ls.K < 1 || ls.LabelRate < 1 || len(ls.Shards) == 0 {
		return nil, fmt.Errorf("%w: %s: k %d, label_rate %d and shards %d must be positive", ErrSpec, filepath.Join(dir, "labels.json"), ls.K, ls.LabelRate, len(ls.Shards))
	}
	return &ls, nil
}

// joinLabels makes d read its frame labels from the label set in dir,
// sample by sample by index, checking that the keys agree.
func joinLabels(d *Dataset, dir string) error {
	ls, err := ReadLabelSet(dir)
	if err != nil {
		return err
	}
	paths := make([]string, len(ls.Shards))
	for i, s := range ls.Shards {
		paths[i] = filepath.Join(dir, s)
	}
	src, err := pipeline.Tar(paths...)
	if err != nil {
		return fmt.Errorf("%w: label set %s: %v", ErrSpec, dir, err)
	}
	if src.Len() != d.n {
		src.Close()
		return fmt.Errorf("%w: label set %s has %d samples but %s has %d: labels made for other data?", ErrSpec, dir, src.Len(), d.Spec, d.n)
	}
	refs := src.Refs()
	if d.ref != nil { // the keys must agree sample by sample, checked up front
		for i := 0; i < d.n; i++ {
			lk, _, _ := d.ref(i)
			r, _ := refs.At(context.Background(), i)
			if r.Key != lk {
				src.Close()
				return fmt.Errorf("%w: label set %s: sample %d is %q in the labels but %q in %s: labels made for other data?", ErrSpec, dir, i, r.Key, lk, d.Spec)
			}
		}
	}
	read := d.read
	d.read = func(ctx context.Context, i int) (Example, error) {
		ex, err := read(ctx, i)
		if err != nil {
			return ex, err
		}
		r, err := refs.At(ctx, i)
		if err != nil {
			return ex, fmt.Errorf("data: label set %s: %w", dir, err)
		}
		ts, err := pipeline.ReadTar(ctx, r)
		if err != nil {
			return ex, fmt.Errorf("data: label set %s: %w", dir, err)
		}
		if ts.Key != ex.Key {
			return ex, fmt.Errorf("data: label set %s: sample %d is %q in the labels but %q in the data", dir, i, ts.Key, ex.Key)
		}
		b, ok := ts.Files["km.npy"]
		if !ok {
			return ex, fmt.Errorf("data: label set %s: %s has no km.npy member", filepath.Base(ts.Shard), ts.Key)
		}
		a, err := npy.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil || a.DType != npy.Int32 || len(a.Shape) != 1 {
			return ex, fmt.Errorf("data: label set %s: %s.km.npy: want a 1-d int32 array (%v)", filepath.Base(ts.Shard), ts.Key, err)
		}
		ex.Labels = a.I32
		return ex, nil
	}
	closeData := d.close
	d.close = func() error {
		err := src.Close()
		if closeData != nil {
			if e := closeData(); err == nil {
				err = e
			}
		}
		return err
	}
	d.LabelRate, d.LabelK = ls.LabelRate, ls.K
	return nil
}
