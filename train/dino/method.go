package dino

import (
	"context"
	"fmt"
	"slices"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func init() {
	train.Register(&train.Method{
		Name:          "dino",
		Summary:       "DINO: a student matches its EMA teacher's centred, sharpened outputs across multi-crop views (images; ViT, ResNet or ConvNet)",
		Modalities:    []string{data.Image},
		Defaults:      defaults,
		Presets:       presets,
		DefaultPreset: map[string]string{"": "default"},
		Scale:         scale,
		Validate:      validate,
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// trainer is DINO's train.Trainer: student, teacher, center and the
// student's optimizer (sslkit.NetState saves and loads the networks
// under "student." and "teacher." and the optimizer; the trainer adds the
// center).
type trainer struct {
	sslkit.NetState
	cfg *train.Config
	m   *Model
	dev gotch.Device
	// perEpoch is the number of steps in an epoch of this rank's data
	// (the unit of the epoch-counted schedules).
	perEpoch float64
}

// stepsPerEpoch is how many batches of batch samples an epoch of n
// samples split over world ranks gives each rank (at least 1).
func stepsPerEpoch(n, limit, batch, world int) float64 {
	if limit > 0 {
		n = min(n, limit*world)
	}
	return float64(max(1, (n/world)/max(1, batch/world)))
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		return nil, err
	}
	arch := model(c).Arch
	bb := func(p *nn.Params, teacher bool) (nn.Backbone, error) {
		a := arch
		if teacher {
			a.DropPath = 0
		}
		return nn.NewBackbone(p, sslkit.BackbonePrefix, a)
	}
	m, err := func() (m *Model, err error) {
		defer op.LockThread()()
		defer op.Catch(&err)
		return New(bb, config(c), c.Seed, env.Device)
	}()
	if err != nil {
		return nil, err
	}
	m.BF16 = c.BF16 && env.Device.IsCuda()
	world := max(env.World, 1)
	st := sslkit.NetState{Params: m.Student, Opt: opt, Prefix: "student.", Teacher: m.Teacher, TeacherPrefix: "teacher."}
	return &trainer{NetState: st, cfg: c, m: m, dev: env.Device,
		perEpoch: stepsPerEpoch(env.Data.Len(), c.Data.Limit, c.Data.Batch, world)}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return train.ViewBatches(ex, settings(t.cfg).Augment, batch, workers)
}

// schedule is the step's values of DINO's schedules.
func (t *trainer) schedule(s train.StepInfo) Schedule {
	st := settings(t.cfg)
	epochs := float64(s.Step) / t.perEpoch
	return Schedule{
		LR:              s.LR,
		WeightDecay:     sslkit.WarmupCosine(t.cfg.Optim.WeightDecay, st.WeightDecayEnd, s.Step, 0, s.Total),
		Momentum:        st.Momentum.At(s.Step, s.Total),
		TeacherTemp:     t.m.Cfg.TeacherTempAt(epochs),
		FreezeLastLayer: epochs < st.FreezeLastLayerEpochs,
	}
}

func (t *trainer) Step(_ context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	b := batch.(*train.Views)
	vs, err := sslkit.DeviceViews(b, t.dev)
	if err != nil {
		return train.StepResult{}, err
	}
	defer sslkit.FreeAll(vs)
	t.m.Reduce, t.m.MeanAcrossRanks = s.Reduce, sslkit.MeanAcrossRanks(s.AllReduceMean)
	sc := t.schedule(s)
	st, err := t.m.Step(t.Opt, vs, sc)
	if err != nil {
		return train.StepResult{}, err
	}
	frozen := 0.0
	if sc.FreezeLastLayer {
		frozen = 1
	}
	return train.StepResult{Loss: st.Loss, Skipped: st.Skipped, Metrics: map[string]float64{
		"teacher_entropy": st.TeacherEntropy, "grad_norm": st.GradNorm, "momentum": sc.Momentum,
		"teacher_temp": sc.TeacherTemp, "weight_decay": sc.WeightDecay, "last_layer_frozen": frozen}}, nil
}

// State: the student ("student."), the teacher ("teacher."), the
// optimizer state ("optim.") and the center ("center").
func (t *trainer) State() (ts map[string]train.STensor, n int64, err error) {
	if ts, n, err = t.NetState.State(); err != nil {
		return nil, 0, err
	}
	err = func() (err error) {
		defer op.Catch(&err)
		ts["center"] = train.STensor{Shape: op.Shape(t.m.Center), F32: op.ToFloat32(t.m.Center)}
		return nil
	}()
	if err != nil {
		return nil, 0, err
	}
	return ts, n, nil
}

// Load restores the networks and the optimizer (sslkit.NetState), then
// the center.
func (t *trainer) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := t.NetState.Load(path, ts, st); err != nil {
		return err
	}
	c, ok := ts["center"]
	if want := op.Shape(t.m.Center); !ok || !slices.Equal(c.Shape, want) || c.F32 == nil {
		return fmt.Errorf("dino: %s: %w: no float32 center of shape %v", path, train.ErrBadCheckpoint, want)
	}
	return func() (err error) {
		defer op.Catch(&err)
		x, err := op.FromFloat32(c.F32, t.dev, c.Shape...)
		if err != nil {
			return err
		}
		op.CopyInPlace(t.m.Center, x)
		op.Free(x)
		return nil
	}()
}

// Close frees the networks, the optimizer state and the center.
func (t *trainer) Close() error {
	defer op.LockThread()()
	t.m.Free()
	t.Opt.Free()
	return nil
}

// ReplicatedTensors are the student's and teacher's tensors and the
// center (rank 0's are broadcast at the start of a data-parallel run).
func (t *trainer) ReplicatedTensors() []op.Tensor {
	return append(t.NetState.ReplicatedTensors(), t.m.Center)
}

// Embedder is the current teacher backbone (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &sslkit.Encoder{Backbone: t.m.TeacherBackbone, In: sslkit.InputOf(model(t.cfg).Arch, settings(t.cfg).Augment), Dev: t.dev, Method: "dino"}
}

// openEncoder is the run's teacher backbone (what DINO's eval_knn.py and
// eval_linear.py use by default) or, with network "student", the
// student's.
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	c := &run.Config
	return sslkit.OpenEncoder(run, o, sslkit.EncoderSpec{Method: "dino", Arch: model(c).Arch,
		In: sslkit.InputOf(model(c).Arch, settings(c).Augment), Networks: map[string]string{"teacher": "teacher.", "student": "student."}, Default: "teacher"})
}
