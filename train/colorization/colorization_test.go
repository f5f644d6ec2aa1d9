package colorization

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/op"
)

// colours is a dataset of n 40 x 32 RGB images: smooth colour gradients,
// a different pair of corner colours per image.
func colours(n, workers int) *data.Dataset {
	return data.New("colours", data.Image, n, workers, func(_ context.Context, i int) (data.Example, error) {
		r := rand.New(rand.NewPCG(uint64(i), 4))
		var c0, c1 [3]float64
		for k := range 3 {
			c0[k], c1[k] = 255*r.Float64(), 255*r.Float64()
		}
		m := augment.NewImage(40, 32, 3)
		for y := 0; y < 32; y++ {
			for x := 0; x < 40; x++ {
				f := float64(x+y) / 70
				for k := range 3 {
					m.Pix[(y*40+x)*3+k] = uint8(c0[k]*(1-f) + c1[k]*f)
				}
			}
		}
		return data.Example{Key: fmt.Sprint(i), Image: m, Class: -1}, nil
	})
}

func smallSettings() *Settings {
	c, _ := train.PresetConfig("colorization", "smoke")
	s := settings(&c)
	s.Size, s.Downsample = 16, 4
	s.Rebalance.Images = 12
	return s
}

// TestWeightsDeterministic: the rebalancing pass gives the same weights
// whatever the decoding workers, and they are Zhang et al.'s formula
// applied to the histogram of the epoch-0 crops of the evenly spaced
// images, recomputed here by hand.
func TestWeightsDeterministic(t *testing.T) {
	s := smallSettings()
	a, err := ComputeWeights(context.Background(), colours(30, 1), s, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ComputeWeights(context.Background(), colours(30, 4), s, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Rebalancing.Weights, b.Rebalancing.Weights) || !slices.Equal(a.Counts, b.Counts) {
		t.Fatal("weights depend on the worker count")
	}
	c, _ := ComputeWeights(context.Background(), colours(30, 1), s, 8)
	if slices.Equal(a.Counts, c.Counts) {
		t.Error("another seed crops the same boxes")
	}
	// By hand: images 0, 2, 5, 7, ... (i*30/12), cropped with their
	// (seed, epoch 0, index) stream.
	bins := augment.DefaultABBins()
	ds := colours(30, 1)
	ex, _ := ds.Collect(context.Background(), 0)
	counts := make([]float64, bins.Len())
	for i := range 12 {
		idx := i * 30 / 12
		t0 := targetImage(crop(ex[idx].Image, s, pipeline.SampleRand(7, 0, uint64(idx), viewCrop), false), s)
		for p := range t0.W * t0.H {
			_, A, B := augment.RGBToLab(t0.Pix[3*p], t0.Pix[3*p+1], t0.Pix[3*p+2])
			counts[bins.Nearest(A, B)]++
		}
	}
	if !slices.Equal(counts, a.Counts) || a.Images != 12 {
		t.Fatalf("histogram differs from the epoch-0 crops (%d images)", a.Images)
	}
	// w = 1/((1-l) p~ + l/Q), normalized so that E_p~[w] = 1.
	var ew float64
	for q, w := range a.Rebalancing.Weights {
		p := a.Rebalancing.Prior[q]
		want := 1 / ((1-0.5)*p + 0.5/float64(bins.Len()))
		if q == 0 {
			ew = want / w
		} else if math.Abs(want/w-ew) > 1e-9*ew {
			t.Fatalf("bin %d: weight %v is not proportional to 1/((1-lambda)p + lambda/Q)", q, w)
		}
	}
	var mean float64
	for q, w := range a.Rebalancing.Weights {
		mean += a.Rebalancing.Prior[q] * w
	}
	if math.Abs(mean-1) > 1e-9 {
		t.Fatalf("E_p[w] = %v", mean)
	}
	if a.UsedBins() < 5 {
		t.Errorf("only %d bins used by colour gradients", a.UsedBins())
	}
}

// TestTargets: the input is the crop's lightness, each target pixel's
// soft encoding sums to 1 over its 5 nearest bins with the nearest
// largest, and its weight is the rebalancing weight of the nearest bin.
func TestTargets(t *testing.T) {
	s := smallSettings()
	bins := augment.DefaultABBins()
	weights := make([]float64, bins.Len())
	for i := range weights {
		weights[i] = 1 + float64(i)
	}
	ex, _ := colours(3, 1).Collect(context.Background(), 0)
	c := crop(ex[1].Image, s, pipeline.SampleRand(1, 0, 1, viewCrop), true)
	smp := encode(c, s, bins, weights)
	for i := range s.Size * s.Size {
		L, _, _ := augment.RGBToLab(c.Pix[3*i], c.Pix[3*i+1], c.Pix[3*i+2])
		if smp.x[i] != float32((L-50)/100) {
			t.Fatalf("input pixel %d is %v, want (L-50)/100 = %v", i, smp.x[i], (L-50)/100)
		}
	}
	g := s.Size / s.Downsample
	gg := g * g
	tgt := targetImage(c, s)
	for p := range gg {
		_, A, B := augment.RGBToLab(tgt.Pix[3*p], tgt.Pix[3*p+1], tgt.Pix[3*p+2])
		near := bins.Nearest(A, B)
		var sum float64
		nonzero := 0
		best := 0
		for q := range bins.Len() {
			z := smp.z[q*gg+p]
			sum += float64(z)
			if z > 0 {
				nonzero++
			}
			if z > smp.z[best*gg+p] {
				best = q
			}
		}
		if math.Abs(sum-1) > 1e-6 || nonzero != 5 || best != near || int(smp.bins[p]) != near || smp.v[p] != float32(weights[near]) {
			t.Fatalf("target pixel %d: sum %v over %d bins, argmax %d, nearest %d (recorded %d), weight %v", p, sum, nonzero, best, near, smp.bins[p], smp.v[p])
		}
	}
}

// TestLoss: the rebalanced loss equals the formula computed in Go.
func TestLoss(t *testing.T) {
	defer op.LockThread()()
	const N, Q, G = 2, 7, 3
	r := rand.New(rand.NewPCG(3, 3))
	logits := make([]float32, N*Q*G*G)
	z := make([]float32, N*Q*G*G)
	v := make([]float32, N*G*G)
	for i := range logits {
		logits[i] = float32(2 * r.NormFloat64())
	}
	for n := range N {
		for p := range G * G {
			v[n*G*G+p] = float32(0.5 + r.Float64())
			var s float32
			for q := range Q {
				w := float32(r.Float64())
				z[(n*Q+q)*G*G+p] = w
				s += w
			}
			for q := range Q {
				z[(n*Q+q)*G*G+p] /= s
			}
		}
	}
	var want, wantCE float64
	for n := range N {
		for p := range G * G {
			var mx float64 = -1e9
			for q := range Q {
				mx = math.Max(mx, float64(logits[(n*Q+q)*G*G+p]))
			}
			var se float64
			for q := range Q {
				se += math.Exp(float64(logits[(n*Q+q)*G*G+p]) - mx)
			}
			var ce float64
			for q := range Q {
				lp := float64(logits[(n*Q+q)*G*G+p]) - mx - math.Log(se)
				ce -= float64(z[(n*Q+q)*G*G+p]) * lp
			}
			want += float64(v[n*G*G+p]) * ce
			wantCE += ce
		}
	}
	want /= N * G * G
	wantCE /= N * G * G
	var tp op.Tape
	defer tp.Drop()
	l, ce := rebalancedLoss(&tp, tp.Float32(logits, gotch.CPU, N, Q, G, G), tp.Float32(z, gotch.CPU, N, Q, G, G), tp.Float32(v, gotch.CPU, N, G, G))
	got := op.ReadScalars(&tp, l, ce)
	if math.Abs(got[0]-want) > 1e-5*want || math.Abs(got[1]-wantCE) > 1e-5*wantCE {
		t.Fatalf("loss %v, ce %v; want %v, %v", got[0], got[1], want, wantCE)
	}
}

// TestWeightsFile: a run writes RUN/colorization.json (the pass's
// weights), a resume checks it, and a resume whose file differs is
// refused with train.ErrBadCheckpoint.
func TestWeightsFile(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network")
	}
	dir := t.TempDir()
	ds := colours(40, 2)
	c, err := train.PresetConfig("colorization", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	c.Data.Spec, c.Out = "colours", filepath.Join(dir, "run")
	c.Schedule.Steps = 4
	c.Data.Batch, c.Data.Workers = 8, 2
	if _, err := train.Run(context.Background(), c, train.RunOptions{Data: ds, StopAfter: 2}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.Out, WeightsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w Weights
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	want, _ := ComputeWeights(context.Background(), ds, settings(&c), c.Seed)
	if !slices.Equal(w.Rebalancing.Weights, want.Rebalancing.Weights) || w.Format != WeightsFormat {
		t.Fatal("colorization.json does not hold the pass's weights")
	}
	if _, err := train.Run(context.Background(), c, train.RunOptions{Data: ds, Resume: true, StopAfter: 3}); err != nil {
		t.Fatal(err)
	}
	w.Rebalancing.Weights[0] *= 2
	b, _ = json.Marshal(w)
	os.WriteFile(path, b, 0o644)
	_, err = train.Run(context.Background(), c, train.RunOptions{Data: ds, Resume: true})
	if !errors.Is(err, train.ErrBadCheckpoint) {
		t.Fatalf("resume with changed weights: %v", err)
	}
	t.Log(err)
}
