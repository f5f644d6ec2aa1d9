// Package rotation is rotation prediction (Gidaris, Singh & Komodakis
// 2018, "Unsupervised Representation Learning by Predicting Image
// Rotations", RotNet) on sslpipe's shared trainer: a backbone and a
// linear layer classify which of the four rotations (0, 90, 180, 270
// degrees counter-clockwise, augment.RotationViews) an image was given.
// It registers the method "rotation" (images).
//
// Like RotNet, every image of a batch is shown in all four rotations
// (settings.all_rotations; false draws one rotation per image from the
// sample's key), so a batch of B images is 4B inputs with labels
// 0,1,2,3, 0,1,2,3, ... The loss is the mean cross-entropy over the 4B
// inputs. eval, embed and the online monitor use the backbone's features.
package rotation

import (
	"context"
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Views of a sample's random stream (pipeline.Sample.Rand).
const (
	viewFlip     = 1
	viewRotation = 2
)

// Batch is one training batch: N inputs (float32 NCHW, normalized) and
// their rotation labels (k quarter turns counter-clockwise).
type Batch struct {
	X      []float32
	Shape  [4]int
	Labels []int64
}

// sample is one image's inputs (its rotations, CHW each) and labels.
type sample struct {
	x      []float32
	labels []int64
}

// rotations makes one sample's inputs: the image converted to the input,
// flipped when flip, then all four rotations (labels 0..3) or, when label
// >= 0, that one rotation.
func rotations(img *augment.Image, in Input, flip bool, label int) sample {
	m := in.Convert(img)
	if flip {
		m = m.Clone()
		augment.HFlip(m)
	}
	var views []*augment.Image
	var s sample
	if label < 0 {
		views = augment.RotationViews(nil, m)
		s.labels = []int64{0, 1, 2, 3}
	} else {
		v := &augment.Image{}
		augment.Rotate90(v, m, label)
		views, s.labels = []*augment.Image{v}, []int64{int64(label)}
	}
	per := in.Channels * in.Size * in.Size
	s.x = make([]float32, len(views)*per)
	for i, v := range views {
		in.Normalize.ToCHW(s.x[i*per:(i+1)*per], v)
	}
	return s
}

// batches is the data path: per-sample rotations on the workers (flip
// and, with one rotation per image, the rotation drawn from the sample's
// key), then batches of batch images collated into a Batch.
func batches(ex *pipeline.Stream[data.Example], s *Settings, batch, workers int) *pipeline.Stream[any] {
	in := s.Input
	per := pipeline.Map(ex, func(_ context.Context, smp pipeline.Sample[data.Example]) (sample, error) {
		if smp.Value.Image == nil {
			return sample{}, fmt.Errorf("rotation: sample %s has no image", smp.Value.Key)
		}
		flip := s.FlipP > 0 && smp.Rand(viewFlip).Float64() < s.FlipP
		label := -1
		if !s.AllRotations {
			label = smp.Rand(viewRotation).IntN(augment.RotationClasses)
		}
		return rotations(smp.Value.Image, in, flip, label), nil
	}, pipeline.MapOptions{Name: "rotate", Workers: workers})
	bs := pipeline.Batches(per, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, smp pipeline.Sample[pipeline.Batch[sample]]) (any, error) {
		b := &Batch{}
		for _, x := range smp.Value.Samples {
			b.X = append(b.X, x.Value.x...)
			b.Labels = append(b.Labels, x.Value.labels...)
		}
		b.Shape = [4]int{len(b.Labels), in.Channels, in.Size, in.Size}
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

// net is the backbone ("backbone.*") and the rotation classifier
// ("head.*").
type net struct {
	p    *nn.Params
	bb   nn.Backbone
	head *nn.Linear
}

// newNet builds the network; the seed fixes the initial weights (the
// random-init baseline rebuilds them).
func newNet(m *Model, seed uint64, dev gotch.Device) (*net, error) {
	return sslkit.NewNet(seed, dev, m.Arch, func(p *nn.Params, bb nn.Backbone) (*net, error) {
		return &net{p: p, bb: bb, head: nn.NewLinear(p, "head", bb.Dim(), augment.RotationClasses)}, nil
	})
}

// forward returns the logits (float32, N x 4) and the backbone features.
func (n *net) forward(tp *op.Tape, x op.Tensor, train bool) (logits, feat op.Tensor) {
	feat = n.bb.Forward(tp, x, train)
	return nn.Float32(tp, n.head.Forward(tp, feat)), feat
}

// stepResult is what one optimization step reports.
type stepResult struct {
	loss, acc, gradNorm float64
	skipped             bool
}

// step trains on one batch (inputs x, labels y on the device): mean
// cross-entropy, backward, the info's gradient reduction, clipping at
// clip (0: none) and one update at learning rate lr.
func step(n *net, opt *nn.Optimizer, bf16, skipNonFinite bool, x, y op.Tensor, lr, clip float64, reduce func([]op.Tensor) error) (r stepResult, err error) {
	o := sslkit.StepOptions{BF16: bf16, SkipNonFinite: skipNonFinite, LR: lr, Clip: clip, Reduce: reduce}
	r.loss, r.acc, r.gradNorm, r.skipped, err = sslkit.ClassifierStep(n.p, opt, o, y, func(tp *op.Tape) op.Tensor {
		logits, _ := n.forward(tp, x, true)
		return logits
	})
	return r, err
}

// toDevice copies a batch to dev: inputs (float32) and labels (int64);
// the caller frees both.
func toDevice(b *Batch, dev gotch.Device) (x, y op.Tensor, err error) {
	return sslkit.LabeledToDevice(b.X, b.Shape, b.Labels, dev)
}
