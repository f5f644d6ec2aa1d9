package data2vec2

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// toyBatch draws a batch of b samples for m's modality (random tokens,
// patches or waves) with masks from the modality's masker.
func toyBatch(t testing.TB, m *Model, b int, seed uint64) *Batch {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	c := m.Cfg
	bt := &Batch{B: b, Clones: c.CloneBatch, Train: true}
	var rows, cols int
	switch m.Modality {
	case "text":
		bt.T = c.Text.SeqLen
		for range b * bt.T {
			bt.IDs = append(bt.IDs, int64(r.IntN(c.Text.Vocab)))
		}
	case "image":
		bt.T = m.Positions(0)
		rows, cols = m.Grid(), m.Grid()
		ic := c.Image
		for range b * bt.T * ic.Channels * ic.Patch * ic.Patch {
			bt.Patches = append(bt.Patches, float32(r.NormFloat64()))
		}
	case "audio":
		bt.L = c.Audio.MaxSamples
		bt.T = m.Positions(bt.L)
		for i := range b * bt.L {
			bt.Wave = append(bt.Wave, float32(0.3*math.Sin(float64(i)*0.05*(1+float64(i/bt.L)))+0.05*r.NormFloat64()))
		}
	}
	mk, err := NewMasker(c.mask(m.Modality), bt.T, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]MaskKey, b)
	for i := range keys {
		keys[i] = MaskKey{Seed: seed, Index: uint64(i)}
	}
	bt.Mask = mk.Batch(keys, c.CloneBatch)
	return bt
}

// Each modality's smoke preset trains: finite losses, the masked count of
// its masker, the variances in range, no tensor left on the tape, and the
// teacher moves by the EMA.
func TestStepSmoke(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	for _, mod := range Modalities {
		c := presetFor(t, mod, "smoke")
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", mod, err)
		}
		m, err := NewModel(mod, *model(&c), 3, gotch.CPU)
		if err != nil {
			t.Fatalf("%s: %v", mod, err)
		}
		o, err := NewOptimizer(m, c.Optim)
		if err != nil {
			t.Fatal(err)
		}
		var first, last StepResult
		for s := range 6 {
			b := toyBatch(t, m, c.Data.Batch, 7) // the same batch: the loss must fall
			r, err := o.Step(b, c.Optim.LR, nil)
			if err != nil {
				t.Fatalf("%s step %d: %v", mod, s, err)
			}
			if r.Skipped || !op.Finite(r.Loss) || r.TargetVar <= 0 || r.PredVar <= 0 {
				t.Fatalf("%s step %d: %+v", mod, s, r)
			}
			if err := m.UpdateTeacher(settings(&c).EMA.At(int64(s), c.Schedule.Steps)); err != nil {
				t.Fatal(err)
			}
			if s == 0 {
				first = r
			}
			last = r
		}
		t.Logf("%s: loss %.4f -> %.4f (reg %.4f cls %.4f), %d of %d masked, target var %.3f, pred var %.3f",
			mod, first.Loss, last.Loss, last.Reg, last.Cls, last.Masked, last.T, last.TargetVar, last.PredVar)
		if !(last.Loss < first.Loss) {
			t.Errorf("%s: loss did not fall on a repeated batch: %v -> %v", mod, first.Loss, last.Loss)
		}
		if (mod == "image") != (last.Cls > 0) {
			t.Errorf("%s: cls loss %v", mod, last.Cls)
		}
		o.Free()
		m.Free()
	}
}

// The decoder's mask noise (fairseq mask_noise_std) and input dropout draw
// from libtorch's generator: with the same seed a step's loss repeats,
// with another it changes; without them the loss is that of zeros at the
// masked positions.
func TestMaskNoiseSeeded(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	c := presetFor(t, "text", "smoke")
	model(&c).Text.Decoder.InputDropout = 0.1
	loss := func(seed int64, std float64) float64 {
		cfg := *model(&c)
		cfg.MaskNoiseStd = std
		m, err := NewModel("text", cfg, 3, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Free()
		train.ManualSeed(seed)
		var tp op.Tape
		defer tp.Drop()
		var v float64
		err = func() (err error) {
			defer op.Catch(&err)
			v = op.Scalar(m.Loss(&tp, toyBatch(t, m, 2, 5)).Loss)
			return nil
		}()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b, other, zero := loss(1, 0.5), loss(1, 0.5), loss(2, 0.5), loss(1, 0)
	t.Logf("loss: seed 1 %.6f, again %.6f, seed 2 %.6f, no noise %.6f", a, b, other, zero)
	if a != b {
		t.Errorf("same seed, losses %v and %v", a, b)
	}
	if a == other || a == zero {
		t.Errorf("noise has no effect: %v, %v, %v", a, other, zero)
	}
}

// Encode gives B x T x D for every modality (the image CLS position
// removed), from the student, the teacher and an intermediate block.
func TestEncodeShapes(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	for _, mod := range Modalities {
		c := presetFor(t, mod, "smoke")
		m, err := NewModel(mod, *model(&c), 3, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		b := toyBatch(t, m, 3, 1)
		var tp op.Tape
		err = func() (err error) {
			defer op.Catch(&err)
			for _, teacher := range []bool{false, true} {
				for _, layer := range []int{-1, 0, 1} {
					s := op.Shape(m.Encode(&tp, b, teacher, layer))
					if d := model(&c).Encoder.Dim; s[0] != 3 || s[1] != int64(b.T) || s[2] != d {
						t.Errorf("%s teacher=%v layer %d: shape %v, want [3 %d %d]", mod, teacher, layer, s, b.T, d)
					}
				}
			}
			return nil
		}()
		tp.Drop()
		m.Free()
		if err != nil {
			t.Fatal(err)
		}
	}
}
