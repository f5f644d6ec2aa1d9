package dino

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func snapshot(t *testing.T, p *nn.Params, names ...string) map[string][]float32 {
	t.Helper()
	ts, err := p.Tensors("")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, n := range names {
		out[n] = ts[n].F32
	}
	return out
}

// DINO trains the small ConvNet (BatchNorm in student and teacher) with
// multi-crop and SGD under scheduled weight decay: with the teacher held
// (momentum 1) and the center following the teacher's mean at once
// (center momentum 0), the targets are fixed from the second step and the
// student fits them, the KL divergence (loss minus the targets' entropy)
// falling by half; the frozen last layer does not move during the first
// steps and moves after; the teacher is untouched; the optimizer's weight
// decay is the scheduled one.
func TestConvNetBackbone(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	cfg := DefaultConfig()
	cfg.OutDim, cfg.HiddenDim, cfg.Bottleneck, cfg.CenterMomentum = 128, 64, 32, 0
	conv := func(p *nn.Params, teacher bool) (nn.Backbone, error) {
		return nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{16, 32}})
	}
	m, err := New(conv, cfg, 3, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	g1, g2, err := sslkit.NoisyPair(1, 16, 3, 16, 16, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	l1, l2, err := sslkit.NoisyPair(2, 16, 3, 8, 8, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	views := []op.Tensor{g1, g2, l1, l2}
	for _, v := range views {
		defer op.Free(v)
	}
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "sgd", LR: 0.05, Momentum: 0.9, ExcludeBiasNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	watch := []string{"head.last_layer.weight_v", "backbone.features.0.weight"}
	teacher0 := snapshot(t, m.Teacher, watch...)
	student0 := snapshot(t, m.Student, watch...)
	const steps, frozen = 30, 5
	var first, last Stats
	for k := range int64(steps) {
		s := Schedule{
			LR:              sslkit.WarmupCosine(0.05, 0, k, 3, steps),
			WeightDecay:     sslkit.WarmupCosine(0.04, 0.4, k, 0, steps),
			Momentum:        1,
			TeacherTemp:     0.04,
			FreezeLastLayer: k < frozen,
		}
		st, err := m.Step(opt, views, s)
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(st.Loss) || st.Skipped {
			t.Fatalf("step %d: loss %v, skipped %v", k, st.Loss, st.Skipped)
		}
		if k == frozen-1 {
			now := snapshot(t, m.Student, watch...)
			if sslkit.RelDiff(now[watch[0]], student0[watch[0]]) != 0 {
				t.Error("the last layer moved while frozen")
			}
			if sslkit.RelDiff(now[watch[1]], student0[watch[1]]) == 0 {
				t.Error("the backbone did not move")
			}
		}
		if k == 1 {
			first = st
		}
		last = st
	}
	klFirst, klLast := first.Loss-first.TeacherEntropy, last.Loss-last.TeacherEntropy
	t.Logf("loss %.3f -> %.3f, teacher entropy %.3f -> %.3f, KL %.3f -> %.3f", first.Loss, last.Loss, first.TeacherEntropy, last.TeacherEntropy, klFirst, klLast)
	if math.Abs(first.TeacherEntropy-last.TeacherEntropy) > 1e-3 {
		t.Errorf("targets moved: teacher entropy %v -> %v", first.TeacherEntropy, last.TeacherEntropy)
	}
	if klLast > 0.5*klFirst {
		t.Errorf("KL %.3f -> %.3f: the student does not fit fixed targets", klFirst, klLast)
	}
	now := snapshot(t, m.Student, watch...)
	if sslkit.RelDiff(now[watch[0]], student0[watch[0]]) == 0 {
		t.Error("the last layer never moved after unfreezing")
	}
	for n, v := range snapshot(t, m.Teacher, watch...) {
		if sslkit.RelDiff(v, teacher0[n]) != 0 {
			t.Errorf("teacher %s changed with momentum 1", n)
		}
	}
	if want := sslkit.WarmupCosine(0.04, 0.4, steps-1, 0, steps); opt.Cfg.WeightDecay != want {
		t.Errorf("the optimizer's weight decay is %v after the last step, want the scheduled %v", opt.Cfg.WeightDecay, want)
	}
}

// The teacher temperature warms up linearly over the configured epochs
// (fractions included) and then stays; invalid settings are rejected.
func TestTeacherTempAndConfig(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		epochs float64
		want   float64
	}{{0, 0.04}, {15, 0.055}, {29.7, 0.04 + 0.03*29.7/30}, {30, 0.07}, {100, 0.07}} {
		if got := c.TeacherTempAt(tc.epochs); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("epoch %v: %v, want %v", tc.epochs, got, tc.want)
		}
	}
	c.WarmupTeacherTempEpochs = 0.5
	if got := c.TeacherTempAt(0.25); math.Abs(got-0.055) > 1e-12 {
		t.Errorf("half-epoch warm-up at a quarter epoch: %v", got)
	}
	c.WarmupTeacherTempEpochs = 0
	if got := c.TeacherTempAt(0); got != 0.07 {
		t.Errorf("no warm-up: %v", got)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.OutDim = 0 },
		func(c *Config) { c.StudentTemp = 0 },
		func(c *Config) { c.CenterMomentum = 1 },
		func(c *Config) { c.HeadLayers = 0 },
	} {
		c := DefaultConfig()
		bad(&c)
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// With a 7 x 7 grid the student folds the pooling of the 8-pixel local
// crops (a 4 x 4 map) into its head and runs the head per crop size: its
// logits equal the head on all crops' pooled features, as DINO's
// MultiCropWrapper computes them, to float32 rounding.
func TestStudentFoldsLocalCrops(t *testing.T) {
	defer op.LockThread()()
	cfg := DefaultConfig()
	cfg.OutDim, cfg.HiddenDim, cfg.Bottleneck = 64, 32, 16
	conv := func(p *nn.Params, teacher bool) (nn.Backbone, error) {
		return nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{8, 16}, Pool: 7})
	}
	m, err := New(conv, cfg, 5, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	g1, g2, err := sslkit.NoisyPair(1, 4, 3, 16, 16, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	l1, l2, err := sslkit.NoisyPair(2, 4, 3, 8, 8, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	views := []op.Tensor{g1, g2, l1, l2}
	for _, v := range views {
		defer op.Free(v)
	}
	var got, want []float32
	func() {
		defer op.Catch(&err)
		var tp op.Tape
		defer tp.Drop()
		got = op.ToFloat32(m.studentForward(&tp, views))
		feats := []op.Tensor{
			m.StudentBackbone.Forward(&tp, tp.Cat(views[:2], 0), true),
			m.StudentBackbone.Forward(&tp, tp.Cat(views[2:], 0), true),
		}
		want = op.ToFloat32(m.StudentHead.Forward(&tp, tp.Cat(feats, 0), true))
	}()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) != 4*4*64 {
		t.Fatalf("%d logits, direct %d, want %d", len(got), len(want), 4*4*64)
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("logit %d: %v, direct %v", i, got[i], want[i])
		}
	}
}
