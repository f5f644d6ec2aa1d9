// Package inpainting is context inpainting (Pathak et al. 2016, "Context
// Encoders: Feature Learning by Inpainting") on sslpipe's shared trainer.
// It registers the method "inpainting" (images).
//
// Each image is masked by augment.Inpaint (random rectangles up to a
// coverage, or the central square; drawn from the sample's key), the
// masked pixels set to a fill value; the backbone encodes the masked image
// to a feature vector and a decoder (a linear bottleneck, then
// upsampling convolutions) reconstructs the whole image. The loss is the
// mean squared error over the masked pixels only (the center mask's
// overlap ring, visible in the input, weighted settings.overlap_weight):
//
//	L = sum(W * (x_hat - x)^2) / (C * sum(M))
//
// with x the normalized image, M the 0/1 mask and W the mask with the
// ring's weight. eval, embed and the online monitor use the backbone's
// features of unmasked images.
package inpainting

import (
	"context"
	"fmt"
	"image"
	"math/rand/v2"

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
	viewFlip = 1
	viewMask = 2
)

// Batch is one training batch: the masked inputs and the targets (N x C x
// S x S float32, normalized), the per-pixel loss weights W and the mask M
// (N x 1 x S x S: 0 outside the mask).
type Batch struct {
	X, Target []float32
	W, M      []float32
	Shape     [4]int
}

type sample struct {
	x, target, w, m []float32
}

// masked makes one sample: the image converted to the input, flipped
// when flip, masked with the generator (r draws the random kind's
// rectangles), normalized; the weights are 1 in the mask, overlapWeight
// on the center kind's ring.
func masked(img *augment.Image, s *Settings, flip bool, r *rand.Rand) (sample, error) {
	in := s.Input
	m := in.Convert(img)
	if flip {
		m = m.Clone()
		augment.HFlip(m)
	}
	var p augment.Inpainting
	if err := s.Mask.Generate(&p, m, r); err != nil {
		return sample{}, err
	}
	n := in.Size * in.Size
	out := sample{x: make([]float32, in.Channels*n), target: make([]float32, in.Channels*n), w: make([]float32, n), m: make([]float32, n)}
	in.Normalize.ToCHW(out.x, &p.Input)
	in.Normalize.ToCHW(out.target, m)
	// The ring of the center kind is masked but visible in the input: the
	// generator fills Box inset by the overlap.
	inner := p.Box
	if s.Mask.Kind == augment.InpaintCenter {
		inner = p.Box.Inset(min(s.Mask.Overlap, (p.Box.Dx()-1)/2))
	}
	for i, v := range p.Mask.Pix {
		if v == 0 {
			continue
		}
		out.m[i], out.w[i] = 1, 1
		if x, y := i%in.Size, i/in.Size; !(image.Pt(x, y).In(inner)) {
			out.w[i] = float32(s.OverlapWeight)
		}
	}
	return out, nil
}

// batches is the data path: per-sample masking on the workers (flip and
// mask drawn from the sample's key), then batches collated into a Batch.
func batches(ex *pipeline.Stream[data.Example], s *Settings, batch, workers int) *pipeline.Stream[any] {
	in := s.Input
	per := pipeline.Map(ex, func(_ context.Context, smp pipeline.Sample[data.Example]) (sample, error) {
		if smp.Value.Image == nil {
			return sample{}, fmt.Errorf("inpainting: sample %s has no image", smp.Value.Key)
		}
		flip := s.FlipP > 0 && smp.Rand(viewFlip).Float64() < s.FlipP
		return masked(smp.Value.Image, s, flip, smp.Rand(viewMask))
	}, pipeline.MapOptions{Name: "mask", Workers: workers})
	bs := pipeline.Batches(per, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, smp pipeline.Sample[pipeline.Batch[sample]]) (any, error) {
		b := &Batch{}
		for _, x := range smp.Value.Samples {
			b.X = append(b.X, x.Value.x...)
			b.Target = append(b.Target, x.Value.target...)
			b.W = append(b.W, x.Value.w...)
			b.M = append(b.M, x.Value.m...)
		}
		b.Shape = [4]int{len(smp.Value.Samples), in.Channels, in.Size, in.Size}
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

// net is the encoder backbone ("backbone.*") and the decoder
// ("decoder.*").
type net struct {
	p    *nn.Params
	bb   nn.Backbone
	fc   *nn.Linear
	bn0  *nn.BatchNorm
	up   []*nn.Conv2d
	bns  []*nn.BatchNorm
	out  *nn.Conv2d
	grid int64
	ch0  int64
}

// newNet builds the network for images of channels channels; the seed
// fixes the initial weights.
func newNet(m *Model, channels int, seed uint64, dev gotch.Device) (*net, error) {
	return sslkit.NewNet(seed, dev, m.Arch, func(p *nn.Params, bb nn.Backbone) (*net, error) {
		n := &net{p: p, bb: bb, grid: int64(m.Decoder.Grid), ch0: m.Decoder.Channels[0]}
		n.fc = nn.NewLinear(p, "decoder.fc", bb.Dim(), n.ch0*n.grid*n.grid)
		n.bn0 = nn.NewBatchNorm(p, "decoder.bn0", n.ch0)
		c := n.ch0
		for i, w := range m.Decoder.Channels[1:] {
			n.up = append(n.up, nn.NewConv2d(p, fmt.Sprintf("decoder.up%d.conv", i+1), c, w, 3, 1, 1, false, false))
			n.bns = append(n.bns, nn.NewBatchNorm(p, fmt.Sprintf("decoder.up%d.bn", i+1), w))
			c = w
		}
		n.out = nn.NewConv2d(p, "decoder.out", c, int64(channels), 3, 1, 1, true, false)
		return n, nil
	})
}

// forward reconstructs images (N x C x S x S, float32) from masked inputs
// x.
func (n *net) forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	f := n.bb.Forward(tp, x, train)
	b := op.Shape(f)[0]
	h := tp.Reshape(n.fc.Forward(tp, f), b, n.ch0, n.grid, n.grid)
	h = tp.Relu(n.bn0.Forward(tp, h, train))
	for i, c := range n.up {
		s := op.Shape(h)
		h = tp.UpsampleBicubic2d(h, 2*s[2], 2*s[3], 0, 0)
		h = tp.Relu(n.bns[i].Forward(tp, c.Forward(tp, h), train))
	}
	return nn.Float32(tp, n.out.Forward(tp, h))
}

// maskedLoss is sum(w * (pred - target)^2) / (C * sum(m)) for pred and
// target N x C x S x S and w, m N x 1 x S x S (broadcast over channels):
// pixels outside the mask (w = 0) contribute nothing, values or
// gradients.
func maskedLoss(tp *op.Tape, pred, target, w, m op.Tensor) op.Tensor {
	d := tp.Sub(pred, target)
	c := float64(op.Shape(pred)[1])
	num := tp.Sum(tp.Mul(tp.Mul(d, d), w))
	return tp.Div(num, tp.ClampMin(tp.MulScalar(tp.Sum(m), c), 1))
}

// tensors is a batch on the device (the caller frees them).
type tensors struct{ x, target, w, m op.Tensor }

func (t tensors) free() { op.Free(t.x); op.Free(t.target); op.Free(t.w); op.Free(t.m) }

// toDevice copies a batch to dev.
func toDevice(b *Batch, dev gotch.Device) (t tensors, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	sh := b.Shape
	up := func(v []float32, c int) op.Tensor {
		return tp.Keep(tp.To(tp.Float32(v, gotch.CPU, int64(sh[0]), int64(c), int64(sh[2]), int64(sh[3])), dev))
	}
	return tensors{x: up(b.X, sh[1]), target: up(b.Target, sh[1]), w: up(b.W, 1), m: up(b.M, 1)}, nil
}

// stepResult is what one optimization step reports.
type stepResult struct {
	loss, gradNorm, maskFrac float64
	skipped                  bool
}

// step trains on one batch.
func step(n *net, opt *nn.Optimizer, bf16, skipNonFinite bool, b tensors, lr, clip float64, reduce func([]op.Tensor) error) (r stepResult, err error) {
	o := sslkit.StepOptions{BF16: bf16, SkipNonFinite: skipNonFinite, LR: lr, Clip: clip, Reduce: reduce}
	s, err := sslkit.TrainStep(n.p, opt, o, func(tp *op.Tape) []op.Tensor {
		pred := n.forward(tp, b.x, true)
		return []op.Tensor{maskedLoss(tp, pred, b.target, b.w, b.m), tp.Mean(b.m)}
	})
	if err != nil {
		return r, err
	}
	return stepResult{loss: s.Vals[0], maskFrac: s.Vals[1], gradNorm: s.GradNorm, skipped: s.Skipped}, nil
}
