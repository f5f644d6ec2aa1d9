// Package colorization is colorful image colorization (Zhang, Isola &
// Efros 2016, "Colorful Image Colorization") as a pretext task on
// sslpipe's shared trainer. It registers the method "colorization"
// (images).
//
// The network sees the lightness L* of a crop (CIE Lab,
// augment.RGBToLab, input (L - 50) / 100) and predicts, for every pixel
// of a grid at 1/Downsample of the input's resolution, a distribution
// over the quantized ab plane (augment.GamutABBins: 309 bins of 10). The
// target is each pixel's colour (the crop resized to the grid) soft-encoded
// over its nearest bins with Gaussian weights; the loss is the
// cross-entropy weighted by the class rebalancing weight of the pixel's
// nearest bin:
//
//	L = -1/(N·H·W) sum_{n,h,w} v(q*_{nhw}) sum_q Z_{nqhw} log softmax(logits)_{nqhw}
//
// The rebalancing weights come from a data pass over an evenly spaced
// subset of the training data (each image cropped as in epoch 0) when the
// trainer is built; they are deterministic, written to
// RUN/colorization.json, and a resume whose recomputed weights differ
// from the file is refused. On gray data every pixel falls in the neutral
// bin and the task carries no information (the trainer says so). eval,
// embed and the online monitor use the backbone's features of the
// lightness of whole images (gray images: their gray level's L*).
package colorization

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
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

// WeightsFile is the name of the rebalancing weights in a run folder.
const WeightsFile = "colorization.json"

// WeightsFormat names the layout of WeightsFile.
const WeightsFormat = "sslpipe-colorization-weights/1"

// Views of a sample's random stream (pipeline.Sample.Rand).
const (
	viewCrop = 1
	viewFlip = 2
)

// lightness is the network's input value of L* (Zhang et al.'s centring
// and scale).
func lightness(L float64) float32 { return float32((L - 50) / 100) }

// crop cuts a sample's training crop: the box drawn from rc (or the whole
// image for scale and ratio [1, 1]) resized bilinearly to size x size,
// flipped when flip.
func crop(img *augment.Image, s *Settings, rc *rand.Rand, flip bool) *augment.Image {
	box := image.Rect(0, 0, img.W, img.H)
	if s.Scale != [2]float64{1, 1} || s.Ratio != [2]float64{1, 1} {
		box, _ = augment.RandomResizedCropParams(rc, img.W, img.H, s.Scale, s.Ratio)
	}
	out := &augment.Image{}
	augment.ResizedCrop(out, img, box, s.Size, s.Size, augment.Bilinear, nil)
	if flip {
		augment.HFlip(out)
	}
	return out
}

// targetImage is the crop at the target grid's resolution.
func targetImage(c *augment.Image, s *Settings) *augment.Image {
	g := s.Size / s.Downsample
	out := &augment.Image{}
	augment.Resize(out, c, g, g, augment.Bilinear, nil)
	return out
}

// rgb returns pixel i of m as 8-bit sRGB (gray replicated).
func rgb(m *augment.Image, i int) (uint8, uint8, uint8) {
	if m.C == 3 {
		return m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2]
	}
	return m.Pix[i], m.Pix[i], m.Pix[i]
}

// lightnessInput writes m's lightness as the network's input (H*W
// values).
func lightnessInput(dst []float32, m *augment.Image) {
	for i := range m.W * m.H {
		r, g, b := rgb(m, i)
		L, _, _ := augment.RGBToLab(r, g, b)
		dst[i] = lightness(L)
	}
}

// sample is one training example: the lightness (S*S), the soft targets
// (Q x G x G, bin-major), each target pixel's loss weight and nearest bin
// (G*G).
type sample struct {
	x, z, v []float32
	bins    []int32
}

// encode makes a sample from a crop: the input lightness, and for every
// pixel of the target grid its soft encoding over s.Neighbours bins and
// the rebalancing weight of its nearest bin.
func encode(c *augment.Image, s *Settings, bins *augment.ABBins, weights []float64) sample {
	t := targetImage(c, s)
	gg := t.W * t.H
	q := bins.Len()
	out := sample{x: make([]float32, s.Size*s.Size), z: make([]float32, q*gg), v: make([]float32, gg), bins: make([]int32, gg)}
	lightnessInput(out.x, c)
	idx := make([]int32, s.Neighbours)
	w := make([]float32, s.Neighbours)
	for p := range gg {
		r, g, b := rgb(t, p)
		_, A, B := augment.RGBToLab(r, g, b)
		bins.SoftEncode(idx, w, A, B, s.Sigma)
		for k, j := range idx {
			out.z[int(j)*gg+p] = w[k]
		}
		near := bins.Nearest(A, B)
		out.bins[p] = int32(near)
		out.v[p] = float32(weights[near])
	}
	return out
}

// Batch is one training batch: lightness inputs (N x 1 x S x S), soft
// targets (N x Q x G x G), per-pixel weights (N x G x G) and nearest bins.
type Batch struct {
	X, Z, V []float32
	Bins    []int32
	N, S, G int
	Q       int
}

// batches is the data path: per-sample crop, flip and encoding on the
// workers (drawn from the sample's key), then batches.
func batches(ex *pipeline.Stream[data.Example], s *Settings, bins *augment.ABBins, weights []float64, batch, workers int) *pipeline.Stream[any] {
	per := pipeline.Map(ex, func(_ context.Context, smp pipeline.Sample[data.Example]) (sample, error) {
		if smp.Value.Image == nil {
			return sample{}, fmt.Errorf("colorization: sample %s has no image", smp.Value.Key)
		}
		flip := s.FlipP > 0 && smp.Rand(viewFlip).Float64() < s.FlipP
		return encode(crop(smp.Value.Image, s, smp.Rand(viewCrop), flip), s, bins, weights), nil
	}, pipeline.MapOptions{Name: "colorize", Workers: workers})
	bs := pipeline.Batches(per, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, smp pipeline.Sample[pipeline.Batch[sample]]) (any, error) {
		b := &Batch{N: len(smp.Value.Samples), S: s.Size, G: s.Size / s.Downsample, Q: bins.Len()}
		for _, x := range smp.Value.Samples {
			b.X = append(b.X, x.Value.x...)
			b.Z = append(b.Z, x.Value.z...)
			b.V = append(b.V, x.Value.v...)
			b.Bins = append(b.Bins, x.Value.bins...)
		}
		return b, nil
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}

// Weights is the content of RUN/colorization.json: the bins, the
// histogram of the data pass and the rebalancing weights.
type Weights struct {
	Format      string              `json:"format"`
	Data        string              `json:"data"`
	Images      int                 `json:"images"` // images in the pass
	Grid        float64             `json:"grid"`
	Centers     [][2]float64        `json:"centers"`
	Counts      []float64           `json:"counts"`
	Rebalancing augment.Rebalancing `json:"rebalancing"`
}

// binsFor returns the in-gamut bins of the settings' grid.
func binsFor(s *Settings) (*augment.ABBins, error) {
	if s.Grid == 10 {
		return augment.DefaultABBins(), nil
	}
	return augment.GamutABBins(s.Grid)
}

// ComputeWeights runs the rebalancing pass: s.Rebalance.Images evenly
// spaced images of ds (all when it has fewer), each cropped as the run's
// epoch 0 crops it (seed), at the target grid's resolution, counted per
// nearest bin; unreadable images are skipped. The result depends only on
// the data, the seed and the settings.
func ComputeWeights(ctx context.Context, ds *data.Dataset, s *Settings, seed uint64) (*Weights, error) {
	bins, err := binsFor(s)
	if err != nil {
		return nil, err
	}
	n := min(s.Rebalance.Images, ds.Len())
	if n < 1 {
		return nil, fmt.Errorf("colorization: %s has no images for the rebalancing pass", ds.Spec)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = int(int64(i) * int64(ds.Len()) / int64(n))
	}
	counts := make([]float64, bins.Len())
	seen := 0
	for smp, err := range pipeline.All(ctx, ds.Subset(idx), pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true}}) {
		if err != nil {
			return nil, fmt.Errorf("colorization: rebalancing pass: %w", err)
		}
		if smp.Value.Image == nil {
			continue
		}
		rc := pipeline.SampleRand(seed, 0, uint64(idx[smp.Index]), viewCrop) // the dataset index, as training keys it
		bins.Histogram(counts, targetImage(crop(smp.Value.Image, s, rc, false), s))
		seen++
	}
	if seen == 0 {
		return nil, fmt.Errorf("colorization: rebalancing pass: no readable image in %s", ds.Spec)
	}
	rb, err := bins.RebalanceWeights(counts, s.Rebalance.Sigma, s.Rebalance.Lambda)
	if err != nil {
		return nil, fmt.Errorf("colorization: %w", err)
	}
	return &Weights{Format: WeightsFormat, Data: ds.Spec, Images: seen, Grid: s.Grid, Centers: bins.Centers(), Counts: counts, Rebalancing: rb}, nil
}

// UsedBins is the number of bins the pass saw (1 for gray data).
func (w *Weights) UsedBins() int {
	n := 0
	for _, c := range w.Counts {
		if c > 0 {
			n++
		}
	}
	return n
}

// runWeights computes the weights and writes them to dir/colorization.json
// when the run has no checkpoint yet (write: the process that writes the
// run folder), or compares them with the file when it has (resume).
func runWeights(ctx context.Context, ds *data.Dataset, c *train.Config, write bool) (*Weights, error) {
	w, err := ComputeWeights(ctx, ds, settings(c), c.Seed)
	if err != nil {
		return nil, err
	}
	if c.Out == "" {
		return w, nil
	}
	path := filepath.Join(c.Out, WeightsFile)
	if cks, _ := train.Checkpoints(c.Out); len(cks) == 0 {
		if !write {
			return w, nil
		}
		b, err := json.MarshalIndent(w, "", " ")
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(c.Out, 0o755); err != nil {
			return nil, fmt.Errorf("colorization: %w", err)
		}
		return w, train.WriteFileAtomic(path, append(b, '\n'))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("colorization: %w: %s has checkpoints but no %s", train.ErrBadCheckpoint, c.Out, WeightsFile)
		}
		return nil, fmt.Errorf("colorization: %w", err)
	}
	var saved Weights
	if err := json.Unmarshal(b, &saved); err != nil || saved.Format != WeightsFormat {
		return nil, fmt.Errorf("colorization: %w: %s: not a %s file (%v)", train.ErrBadCheckpoint, path, WeightsFormat, err)
	}
	if !slices.Equal(saved.Rebalancing.Weights, w.Rebalancing.Weights) || !slices.Equal(saved.Centers, w.Centers) {
		return nil, fmt.Errorf("colorization: %w: %s holds rebalancing weights that differ from the data pass over %s (the data changed?)", train.ErrBadCheckpoint, path, ds.Spec)
	}
	return &saved, nil
}

// net is the backbone ("backbone.*") and the colour head ("head.*").
type net struct {
	p           *nn.Params
	bb          nn.Backbone
	fc          *nn.Linear
	bn0, bn1    *nn.BatchNorm
	conv, out   *nn.Conv2d
	grid, width int64
}

// newNet builds the network for grid x grid targets over q bins; the seed
// fixes the initial weights.
func newNet(m *Model, grid, q int, seed uint64, dev gotch.Device) (*net, error) {
	return sslkit.NewNet(seed, dev, m.Arch, func(p *nn.Params, bb nn.Backbone) (*net, error) {
		n := &net{p: p, bb: bb, grid: int64(grid), width: m.Head}
		n.fc = nn.NewLinear(p, "head.fc", bb.Dim(), m.Head*n.grid*n.grid)
		n.bn0 = nn.NewBatchNorm(p, "head.bn0", m.Head)
		n.conv = nn.NewConv2d(p, "head.conv", m.Head, m.Head, 3, 1, 1, false, false)
		n.bn1 = nn.NewBatchNorm(p, "head.bn1", m.Head)
		n.out = nn.NewConv2d(p, "head.out", m.Head, int64(q), 1, 1, 0, true, false)
		return n, nil
	})
}

// forward maps lightness inputs (N x 1 x S x S) to bin logits (N x Q x G
// x G, float32).
func (n *net) forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	f := n.bb.Forward(tp, x, train)
	b := op.Shape(f)[0]
	h := tp.Reshape(n.fc.Forward(tp, f), b, n.width, n.grid, n.grid)
	h = tp.Relu(n.bn0.Forward(tp, h, train))
	h = tp.Relu(n.bn1.Forward(tp, n.conv.Forward(tp, h), train))
	return nn.Float32(tp, n.out.Forward(tp, h))
}

// rebalancedLoss is the weighted soft cross-entropy of the package
// comment for logits and z (N x Q x G x G) and v (N x G x G); it also
// returns the unweighted cross-entropy.
func rebalancedLoss(tp *op.Tape, logits, z, v op.Tensor) (loss, ce op.Tensor) {
	pix := tp.MulScalar(tp.SumDims(tp.Mul(z, tp.LogSoftmax(logits, 1)), false, 1), -1) // N x G x G
	return tp.Mean(tp.Mul(pix, v)), tp.Mean(pix)
}

// stepResult is what one optimization step reports.
type stepResult struct {
	loss, ce, acc, gradNorm float64
	skipped                 bool
}

type tensors struct{ x, z, v, bins op.Tensor }

func (t tensors) free() { op.Free(t.x); op.Free(t.z); op.Free(t.v); op.Free(t.bins) }

// toDevice copies a batch to dev.
func toDevice(b *Batch, dev gotch.Device) (t tensors, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	n, s, g, q := int64(b.N), int64(b.S), int64(b.G), int64(b.Q)
	bins := make([]int64, len(b.Bins))
	for i, v := range b.Bins {
		bins[i] = int64(v)
	}
	return tensors{
		x:    tp.Keep(tp.To(tp.Float32(b.X, gotch.CPU, n, 1, s, s), dev)),
		z:    tp.Keep(tp.To(tp.Float32(b.Z, gotch.CPU, n, q, g, g), dev)),
		v:    tp.Keep(tp.To(tp.Float32(b.V, gotch.CPU, n, g, g), dev)),
		bins: tp.Keep(tp.To(tp.Int64(bins, gotch.CPU, n, g, g), dev)),
	}, nil
}

// step trains on one batch.
func step(n *net, opt *nn.Optimizer, bf16, skipNonFinite bool, b tensors, lr, clip float64, reduce func([]op.Tensor) error) (r stepResult, err error) {
	o := sslkit.StepOptions{BF16: bf16, SkipNonFinite: skipNonFinite, LR: lr, Clip: clip, Reduce: reduce}
	var pixels float64
	s, err := sslkit.TrainStep(n.p, opt, o, func(tp *op.Tape) []op.Tensor {
		logits := n.forward(tp, b.x, true)
		loss, ce := rebalancedLoss(tp, logits, b.z, b.v)
		pixels = float64(op.Numel(op.Shape(b.bins)))
		return []op.Tensor{loss, ce, tp.CountEqual(tp.Argmax(logits, 1), b.bins)}
	})
	if err != nil {
		return r, err
	}
	return stepResult{loss: s.Vals[0], ce: s.Vals[1], acc: s.Vals[2] / pixels, gradNorm: s.GradNorm, skipped: s.Skipped}, nil
}
