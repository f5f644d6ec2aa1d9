package dino

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/internal/sslkit/sslkittest"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// DINO on the product's data path (train.Run on preprocessed shards, 60
// steps of the smoke preset with multi-crop at batch 16). DINO cannot
// show representation learning in seconds: on 160 tiny images its teacher
// drifts towards the uniform distribution (entropy near log K) within
// these steps, so the loss need not fall. The test checks what does hold:
// the student fits the teacher (the KL part of the loss, loss minus the
// teacher's entropy, falls), the schedules ran (last layer frozen for the
// first 0.1 epoch only, teacher temperature warmed up to 0.07), and the
// trained teacher still separates the four shapes by kNN.
// TestCenteringRaisesEntropy checks the centering itself.
func TestLearnsOnShards(t *testing.T) {
	r := sslkittest.Learn(t, "dino", "smoke", 60, nil)
	kl := func(from, to int) float64 { return r.Mean("loss", from, to) - r.Mean("teacher_entropy", from, to) }
	k0, k1 := kl(0, 5), kl(-5, 0)
	t.Logf("loss %.3f -> %.3f, KL %.3f -> %.3f, teacher entropy %.3f -> %.3f (log K %.3f), kNN %.3f (random init %.3f)",
		r.Mean("loss", 0, 5), r.Mean("loss", -5, 0), k0, k1, r.Mean("teacher_entropy", 0, 5), r.Mean("teacher_entropy", -5, 0), math.Log(64), r.KNN, r.RandomKNN)
	if k1 > 0.8*k0 {
		t.Errorf("the student does not fit the teacher: KL %.3f -> %.3f", k0, k1)
	}
	last := r.Lines[len(r.Lines)-1]
	if r.Lines[0]["last_layer_frozen"] != 1 || last["last_layer_frozen"] != 0 {
		t.Errorf("last layer frozen at the first and last step: %v, %v", r.Lines[0]["last_layer_frozen"], last["last_layer_frozen"])
	}
	if tt := last["teacher_temp"]; tt != 0.07 {
		t.Errorf("teacher temperature %v at the end, want 0.07 after the warm-up", tt)
	}
	if r.KNN < 0.9 {
		t.Errorf("kNN %.3f after training (random init %.3f): the representation collapsed", r.KNN, r.RandomKNN)
	}
}

// Centering keeps one prototype from dominating: with the targets held
// fixed (learning rate 0, teacher momentum 1) a random-init teacher's
// sharpened outputs favour the same prototypes for every image (entropy
// far below log K); as the center converges to their mean (momentum 0.9)
// the teacher's entropy rises to most of log K.
func TestCenteringRaisesEntropy(t *testing.T) {
	defer op.LockThread()()
	train.SetNumThreads(1)
	cfg := DefaultConfig()
	cfg.OutDim, cfg.HiddenDim, cfg.Bottleneck = 256, 64, 32
	conv := func(p *nn.Params, teacher bool) (nn.Backbone, error) {
		return nn.NewBackbone(p, "backbone.", nn.Arch{Name: "convnet", InChannels: 3, Widths: []int64{16, 32}})
	}
	m, err := New(conv, cfg, 3, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	g1, g2, err := sslkit.NoisyPair(1, 32, 3, 16, 16, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Free(g1)
	defer op.Free(g2)
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "sgd", LR: 1, ExcludeBiasNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	var ent []float64
	for range 40 {
		st, err := m.Step(opt, []op.Tensor{g1, g2}, Schedule{LR: 0, Momentum: 1, TeacherTemp: 0.04})
		if err != nil {
			t.Fatal(err)
		}
		ent = append(ent, st.TeacherEntropy)
	}
	logK := math.Log(float64(cfg.OutDim))
	t.Logf("teacher entropy %.3f -> %.3f -> %.3f (log K %.3f)", ent[0], ent[9], ent[39], logK)
	if ent[0] > logK/3 || ent[39] < 0.8*logK {
		t.Errorf("teacher entropy %.3f before centering and %.3f after: want < %.2f and > %.2f", ent[0], ent[39], logK/3, 0.8*logK)
	}
}
