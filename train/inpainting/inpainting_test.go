package inpainting

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

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

// TestInputsAndWeights: in every batch the input is the target outside
// the mask and the fill inside (the center kind's ring excepted, visible
// but weighted overlap_weight), the mask is the generator's (recomputed on
// the sample's stream), and batches do not depend on worker counts.
func TestInputsAndWeights(t *testing.T) {
	const n, size = 8, 16
	ds := noise(n, size)
	norm := FashionMNISTNorm
	fillImg := augment.NewImage(1, 1, 1)
	fillImg.Pix[0] = 73
	fillV := make([]float32, 1)
	norm.ToCHW(fillV, fillImg)
	fill := fillV[0]
	for _, mask := range []augment.Inpaint{
		{Kind: augment.InpaintRandom, Coverage: 0.25, Fill: []uint8{73}},
		{Kind: augment.InpaintCenter, Fraction: 0.5, Overlap: 2, Fill: []uint8{73}},
	} {
		s := &Settings{Input: Input{Size: size, Channels: 1, Normalize: norm}, Mask: mask, OverlapWeight: 10}
		order := pipeline.Order{Seed: 2, Epochs: 1}
		run := func(workers int) []*Batch {
			var out []*Batch
			for b, err := range pipeline.All(context.Background(), batches(ds.Stream(order), s, 4, workers), pipeline.RunOptions{}) {
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b.Value.(*Batch))
			}
			return out
		}
		a, b := run(1), run(3)
		for i := range a {
			if !slices.Equal(a[i].X, b[i].X) || !slices.Equal(a[i].W, b[i].W) {
				t.Fatalf("%s: batch %d differs between 1 and 3 workers", mask.Kind, i)
			}
		}
		ex, _ := ds.Collect(context.Background(), 0)
		var ring, masked int
		for bi, bt := range a {
			for j := 0; j < 4; j++ {
				idx := bi*4 + j
				var p augment.Inpainting
				if err := mask.Generate(&p, ex[idx].Image, pipeline.SampleRand(order.Seed, 0, uint64(idx), viewMask)); err != nil {
					t.Fatal(err)
				}
				src := make([]float32, size*size)
				norm.ToCHW(src, ex[idx].Image)
				for k := 0; k < size*size; k++ {
					x, tg, w, m := bt.X[j*size*size+k], bt.Target[j*size*size+k], bt.W[j*size*size+k], bt.M[j*size*size+k]
					if want := src[k]; tg != want {
						t.Fatalf("%s: target pixel %d is %v, want %v", mask.Kind, k, tg, src[k])
					}
					if (p.Mask.Pix[k] != 0) != (m == 1) {
						t.Fatalf("%s: pixel %d: mask %v, generator %d", mask.Kind, k, m, p.Mask.Pix[k])
					}
					switch {
					case m == 0:
						if w != 0 || x != tg {
							t.Fatalf("%s: unmasked pixel %d: weight %v, input %v target %v", mask.Kind, k, w, x, tg)
						}
					case w == 10:
						ring++
						if x != tg {
							t.Fatalf("%s: ring pixel %d must stay visible", mask.Kind, k)
						}
					case w == 1:
						masked++
						if x != fill {
							t.Fatalf("%s: masked pixel %d has input %v, want the fill %v", mask.Kind, k, x, fill)
						}
					default:
						t.Fatalf("%s: weight %v", mask.Kind, w)
					}
				}
			}
		}
		if masked == 0 || (mask.Kind == augment.InpaintCenter) != (ring > 0) {
			t.Errorf("%s: %d masked and %d ring pixels", mask.Kind, masked, ring)
		}
	}
}

// TestLossOnlyOnMaskedPixels: changing the prediction outside the mask
// changes neither the loss nor its gradient there (zero); inside it the
// loss is the weighted mean squared error.
func TestLossOnlyOnMaskedPixels(t *testing.T) {
	defer op.LockThread()()
	const N, C, S = 2, 3, 5
	r := rand.New(rand.NewPCG(1, 2))
	target := make([]float32, N*C*S*S)
	pred := make([]float32, N*C*S*S)
	w := make([]float32, N*S*S)
	m := make([]float32, N*S*S)
	for i := range target {
		target[i] = float32(r.NormFloat64())
		pred[i] = float32(r.NormFloat64())
	}
	var want, count float64
	for i := range m {
		if r.IntN(3) == 0 {
			m[i], w[i] = 1, 1
			if r.IntN(2) == 0 {
				w[i] = 10
			}
			count++
		}
	}
	for n := 0; n < N; n++ {
		for c := 0; c < C; c++ {
			for k := 0; k < S*S; k++ {
				d := float64(pred[(n*C+c)*S*S+k] - target[(n*C+c)*S*S+k])
				want += float64(w[n*S*S+k]) * d * d
			}
		}
	}
	want /= C * count
	loss := func(pred []float32) (float64, []float32) {
		var tp op.Tape
		defer tp.Drop()
		p := tp.Float32(pred, gotch.CPU, N, C, S, S)
		op.RequiresGrad(p, true)
		l := maskedLoss(&tp, p, tp.Float32(target, gotch.CPU, N, C, S, S), tp.Float32(w, gotch.CPU, N, 1, S, S), tp.Float32(m, gotch.CPU, N, 1, S, S))
		op.Backward(l)
		return op.Scalar(l), op.ToFloat32(tp.Grad(p))
	}
	got, grad := loss(pred)
	if math.Abs(got-want) > 1e-5*want {
		t.Fatalf("loss %v, want %v", got, want)
	}
	moved := slices.Clone(pred)
	for n := 0; n < N; n++ {
		for c := 0; c < C; c++ {
			for k := 0; k < S*S; k++ {
				i := (n*C+c)*S*S + k
				if m[n*S*S+k] == 0 {
					moved[i] += 100
					if grad[i] != 0 {
						t.Fatalf("gradient %v at unmasked pixel %d", grad[i], i)
					}
				} else if grad[i] == 0 {
					t.Fatalf("no gradient at masked pixel %d", i)
				}
			}
		}
	}
	if got2, _ := loss(moved); got2 != got {
		t.Fatalf("loss changed from %v to %v with only unmasked pixels moved", got, got2)
	}
}

// TestLearnsToInpaint: a few dozen steps on a tiny set lower the masked
// reconstruction error.
func TestLearnsToInpaint(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network")
	}
	defer op.LockThread()()
	c, err := train.PresetConfig("inpainting", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	s := settings(&c)
	n, err := newNet(model(&c), 1, 1, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer n.p.Free()
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	// Smooth images (a gradient with a random slope): the masked pixels
	// are predictable from the rest.
	ds := data.New("ramps", data.Image, 8, 2, func(_ context.Context, i int) (data.Example, error) {
		m := augment.NewImage(28, 28, 1)
		for y := 0; y < 28; y++ {
			for x := 0; x < 28; x++ {
				m.Pix[y*28+x] = uint8((x*(i+1) + y*(8-i)) % 256)
			}
		}
		return data.Example{Key: fmt.Sprint(i), Image: m}, nil
	})
	var first, last float64
	k := 0
	for b, err := range pipeline.All(context.Background(), batches(ds.Stream(pipeline.Order{Seed: 1, Epochs: 60, Shuffle: true}), s, 8, 2), pipeline.RunOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		bt, err := toDevice(b.Value.(*Batch), gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		r, err := step(n, opt, false, true, bt, 3e-3, 0, nil)
		bt.free()
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			first = r.loss
		}
		last = r.loss
		k++
	}
	t.Logf("masked MSE %.3f -> %.3f over %d steps", first, last, k)
	if !(last < first/3) {
		t.Fatalf("masked MSE %.3f -> %.3f", first, last)
	}
}
