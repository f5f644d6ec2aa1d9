package rotation

import (
	"context"
	"fmt"
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

// noise is a dataset of n random gray w x h images (asymmetric, so every
// rotation differs).
func noise(n, w, h int) *data.Dataset {
	return data.New("noise", data.Image, n, 2, func(_ context.Context, i int) (data.Example, error) {
		r := rand.New(rand.NewPCG(uint64(i), 9))
		m := augment.NewImage(w, h, 1)
		for j := range m.Pix {
			m.Pix[j] = uint8(r.IntN(256))
		}
		return data.Example{Key: fmt.Sprint(i), Image: m, Class: -1}, nil
	})
}

func collect(t *testing.T, s *pipeline.Stream[any]) []*Batch {
	t.Helper()
	var out []*Batch
	for b, err := range pipeline.All(context.Background(), s, pipeline.RunOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Value.(*Batch))
	}
	return out
}

// TestLabelsMatchTheGenerator: every input of a batch is its source image
// (flipped when the sample's flip draw says so) rotated by its label's
// quarter turns with augment.Rotate90, in both modes; batches do not
// depend on the worker count.
func TestLabelsMatchTheGenerator(t *testing.T) {
	const n, size = 12, 10
	ds := noise(n, size, size)
	in := Input{Size: size, Channels: 1, Normalize: FashionMNISTNorm}
	order := pipeline.Order{Seed: 3, Epochs: 1} // unshuffled: position i is sample i
	for _, all := range []bool{true, false} {
		s := &Settings{Input: in, AllRotations: all, FlipP: 0.5}
		var first []*Batch
		for _, workers := range []int{1, 3} {
			bs := collect(t, batches(ds.Stream(order), s, 4, workers))
			if first == nil {
				first = bs
				continue
			}
			for i := range bs {
				if !slices.Equal(bs[i].X, first[i].X) || !slices.Equal(bs[i].Labels, first[i].Labels) {
					t.Fatalf("all=%v: batch %d differs between 1 and 3 workers", all, i)
				}
			}
		}
		// Recompute every input from the sample it came from.
		ex, err := ds.Collect(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		per := size * size
		seen := map[int64]int{}
		for bi, b := range first {
			k := len(b.Labels) / 4 // inputs per image
			for j := 0; j < 4; j++ {
				pos := bi*4 + j
				idx := pos
				src := ex[idx].Image.Clone()
				smp := pipeline.Sample[int]{Seed: order.Seed, Epoch: 0, Index: idx}
				if smp.Rand(viewFlip).Float64() < s.FlipP {
					augment.HFlip(src)
				}
				for v := 0; v < k; v++ {
					label := b.Labels[j*k+v]
					if all && label != int64(v) {
						t.Fatalf("all rotations: image %d view %d has label %d", j, v, label)
					}
					if !all && label != int64(smp.Rand(viewRotation).IntN(4)) {
						t.Fatalf("one rotation: label %d is not the sample's draw", label)
					}
					seen[label]++
					rot := &augment.Image{}
					augment.Rotate90(rot, src, int(label))
					want := make([]float32, per)
					in.Normalize.ToCHW(want, rot)
					got := b.X[(j*k+v)*per : (j*k+v+1)*per]
					if !slices.Equal(got, want) {
						t.Fatalf("all=%v batch %d image %d: input %d is not the source rotated by its label %d", all, bi, j, v, label)
					}
				}
			}
		}
		if len(seen) != 4 {
			t.Errorf("all=%v: labels seen %v", all, seen)
		}
	}
}

// TestLearnsRotations: a few dozen steps on random-noise images (no
// shortcut but the pixel layout) take the rotation accuracy well above
// chance (0.25); with labels that did not match the inputs it would stay
// there.
func TestLearnsRotations(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network")
	}
	defer op.LockThread()()
	c, err := train.PresetConfig("rotation", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	s := settings(&c)
	s.Input.Size, s.FlipP = 12, 0
	c.Optim.LR = 0.05
	n, err := newNet(model(&c), 1, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer n.p.Free()
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	bs := collect(t, batches(noise(8, 12, 12).Stream(pipeline.Order{Seed: 1, Epochs: 60, Shuffle: true}), s, 8, 2))
	var first, last stepResult
	for i, b := range bs {
		x, y, err := toDevice(b, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		r, err := step(n, opt, false, true, x, y, c.Optim.LR, 0, nil)
		op.Free(x)
		op.Free(y)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r
		}
		last = r
	}
	t.Logf("loss %.3f -> %.3f, rotation accuracy %.2f -> %.2f", first.loss, last.loss, first.acc, last.acc)
	if last.acc < 0.9 || !(last.loss < first.loss/2) {
		t.Fatalf("after %d steps: loss %.3f (from %.3f), accuracy %.2f", len(bs), last.loss, first.loss, last.acc)
	}
}
