package data2vec2

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

func init() {
	train.Register(&train.Method{
		Name:       "data2vec2",
		Summary:    "data2vec 2.0: the student encodes only unmasked tokens of several masked clones, a conv decoder regresses an EMA teacher's averaged top-K blocks (images, audio, text)",
		Modalities: Modalities,
		Defaults:   defaults,
		Presets:    presets,
		DefaultPreset: map[string]string{
			data.Image: "image-cpu", data.Audio: "audio-cpu", data.Text: "text-cpu", "": "image-cpu",
		},
		Resolve:  resolve,
		Scale:    scale,
		Validate: validate,
		New:      newTrainer,
		Encoder:  openEncoder,
	})
}

// trainer is data2vec 2.0's train.Trainer.
type trainer struct {
	cfg      *train.Config
	m        *Model
	opt      *Optimizer
	warnings int64
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	defer op.LockThread()()
	c := env.Config
	m, err := NewModel(c.Data.Modality, *model(c), c.Seed, env.Device)
	if err != nil {
		return nil, err
	}
	m.BF16 = c.BF16 && env.Device.IsCuda()
	o, err := NewOptimizer(m, c.Optim)
	if err != nil {
		m.Free()
		return nil, err
	}
	return &trainer{cfg: c, m: m, opt: o}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return batches(ex, model(t.cfg), t.cfg.Data.Modality, batch, workers)
}

// Step trains on one batch: teacher once per sample, student on the
// masked clones, one update, the EMA, the collapse monitor.
func (t *trainer) Step(_ context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	b := batch.(*Batch)
	b.Train = true
	// Layer drop draws from the step (the loop reseeds libtorch for
	// dropout the same way).
	b.Rng = rand.New(rand.NewPCG(t.cfg.Seed, uint64(s.Step)))
	r, err := t.opt.Step(b, s.LR, s.Reduce)
	if err != nil {
		return train.StepResult{}, err
	}
	st := settings(t.cfg)
	tau := st.EMA.At(s.Step, s.Total)
	if !r.Skipped {
		if err := t.m.UpdateTeacher(tau); err != nil {
			return train.StepResult{}, err
		}
	}
	met := map[string]float64{
		"reg_loss": r.Reg, "target_var": r.TargetVar, "pred_var": r.PredVar, "grad_norm": r.GradNorm,
		"tau": tau, "masked_frac": float64(r.Masked) / float64(r.T),
	}
	if t.cfg.Data.Modality == data.Image {
		met["cls_loss"] = r.Cls
	}
	res := train.StepResult{Loss: r.Loss, Skipped: r.Skipped, Metrics: met, Samples: b.B}
	if !r.Skipped {
		warn, cerr := st.Collapse.Check(s.Step+1, r)
		if cerr != nil {
			if !warn {
				return res, fmt.Errorf("%w: %w", cerr, train.ErrStopRun)
			}
			t.warnings++
		}
	}
	met["collapse_warnings"] = float64(t.warnings)
	return res, nil
}

// State: the student (its parameter names), the teacher ("teacher.*") and
// the optimizer state ("optim.<param>.<slot>").
func (t *trainer) State() (map[string]train.STensor, int64, error) {
	ts := map[string]train.STensor{}
	if err := t.m.Params.Snapshot(ts, ""); err != nil {
		return nil, 0, err
	}
	if err := t.m.Teacher.Snapshot(ts, ""); err != nil {
		return nil, 0, err
	}
	os, err := t.opt.State()
	if err != nil {
		return nil, 0, err
	}
	maps.Copy(ts, os)
	ts["collapse_warnings"] = train.STensor{Shape: []int64{1}, F32: []float32{float32(t.warnings)}}
	return ts, t.opt.Steps(), nil
}

func (t *trainer) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := t.m.Params.Load(path, ts, ""); err != nil {
		return err
	}
	if err := t.m.Teacher.Load(path, ts, ""); err != nil {
		return err
	}
	if w, ok := ts["collapse_warnings"]; ok && len(w.F32) == 1 {
		t.warnings = int64(w.F32[0])
	}
	return t.opt.SetState(path, ts, st.OptSteps)
}

func (t *trainer) Close() error {
	defer op.LockThread()()
	t.opt.Free()
	t.m.Free()
	return nil
}

// ReplicatedTensors are the student's and the teacher's tensors (rank 0's
// are broadcast at the start of a data-parallel run).
func (t *trainer) ReplicatedTensors() []op.Tensor {
	return append(nn.Tensors(t.m.Params.List()), nn.Tensors(t.m.Teacher.List())...)
}

// Embedder is the current student (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &encoder{m: t.m, borrowed: true}
}

// openEncoder loads a run's student (default) or teacher from its newest
// checkpoint, or builds the run's seeded initial network.
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	defer op.LockThread()()
	c := &run.Config
	dev, err := train.ParseDevice(orCPU(o.Device))
	if err != nil {
		return nil, err
	}
	m, err := NewModel(c.Data.Modality, *model(c), c.Seed, dev)
	if err != nil {
		return nil, err
	}
	e := &encoder{m: m, batch: o.Batch, layer: o.Layer}
	switch o.Network {
	case "", "student":
	case "teacher":
		e.teacher = true
	default:
		m.Free()
		return nil, fmt.Errorf("data2vec2: network %q: want student or teacher", o.Network)
	}
	if o.Random {
		return e, nil
	}
	path, err := train.LatestCheckpoint(run.Dir)
	if err != nil {
		m.Free()
		return nil, err
	}
	ts, _, err := train.ReadCheckpoint(path)
	if err != nil {
		m.Free()
		return nil, err
	}
	p := m.Params
	if e.teacher {
		p = m.Teacher
	}
	if err := p.Load(path, ts, ""); err != nil {
		m.Free()
		return nil, err
	}
	return e, nil
}

func orCPU(d string) string {
	if d == "" {
		return "cpu"
	}
	return d
}

// encoder maps examples to the mean over positions of the encoder's output
// (or of block layer's), in evaluation mode.
type encoder struct {
	m        *Model
	teacher  bool
	layer    int
	batch    int
	borrowed bool
}

func (e *encoder) Dim() int { return int(e.m.Cfg.Encoder.Dim) }

func (e *encoder) Close() error {
	if !e.borrowed && e.m != nil {
		defer op.LockThread()()
		e.m.Free()
		e.m = nil
	}
	return nil
}

// Embed runs examples in batches of equal length (images: all; audio: the
// first MaxSamples samples), so no padding reaches the encoder. Text is
// encoded whole, as train/data2vec's encoder does: each example's tokens in
// consecutive windows of SeqLen tokens, each window encoded on its own, and
// the windows' means weighted by their token counts.
func (e *encoder) Embed(ex []data.Example) (out [][]float32, err error) {
	if e.m == nil {
		return nil, fmt.Errorf("data2vec2: encoder is closed")
	}
	defer op.LockThread()()
	m := e.m
	if m.Modality == data.Text {
		return e.texts(ex)
	}
	bs := e.batch
	if bs <= 0 {
		bs = 64
	}
	out = make([][]float32, len(ex))
	// Group examples by input length, keeping their order inside a group.
	lengths := make([]int, len(ex))
	for i, x := range ex {
		switch m.Modality {
		case data.Audio:
			lengths[i] = min(len(x.Wave), m.Cfg.Audio.MaxSamples)
			if lengths[i] < m.Cfg.Audio.CNN.ReceptiveField() {
				return nil, fmt.Errorf("data2vec2: example %d (%s): %d samples, fewer than the CNN's receptive field", i, x.Key, len(x.Wave))
			}
		}
	}
	order := make([]int, len(ex))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return lengths[a] - lengths[b] })
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && hi-lo < bs && lengths[order[hi]] == lengths[order[lo]] {
			hi++
		}
		idx := order[lo:hi]
		b, err := e.batchOf(ex, idx, lengths[idx[0]])
		if err != nil {
			return nil, err
		}
		vs, err := e.pooled(b)
		if err != nil {
			return nil, err
		}
		for k, i := range idx {
			out[i] = vs[k]
		}
		lo = hi
	}
	return out, nil
}

// texts is Embed for text: windows of SeqLen tokens batched by equal
// length, pooled per example over all its tokens.
func (e *encoder) texts(ex []data.Example) ([][]float32, error) {
	texts := make([][]int32, len(ex))
	for i, x := range ex {
		if len(x.Tokens) == 0 {
			return nil, fmt.Errorf("data2vec2: example %d (%s) has no tokens", i, x.Key)
		}
		for _, t := range x.Tokens {
			if t < 0 || int(t) >= e.m.Cfg.Text.Vocab {
				return nil, fmt.Errorf("data2vec2: %s: token %d outside the vocabulary of %d", x.Key, t, e.m.Cfg.Text.Vocab)
			}
		}
		texts[i] = x.Tokens
	}
	bs := e.batch
	if bs <= 0 {
		bs = 64
	}
	return tr.PoolWindows(texts, e.m.Cfg.Text.SeqLen, bs, e.Dim(), func(ids []int64, b, t int) ([][]float32, error) {
		return e.pooled(&Batch{B: b, Clones: 1, T: t, IDs: ids})
	})
}

func (e *encoder) batchOf(ex []data.Example, idx []int, n int) (*Batch, error) {
	m := e.m
	b := &Batch{B: len(idx), Clones: 1}
	for _, i := range idx {
		x := ex[i]
		switch m.Modality {
		case data.Image:
			if x.Image == nil {
				return nil, fmt.Errorf("data2vec2: example %s has no image", x.Key)
			}
			p, err := imagePatches(x.Image, &m.Cfg.Image, false)
			if err != nil {
				return nil, err
			}
			b.Patches = append(b.Patches, p...)
		case data.Audio:
			off := (len(x.Wave) - n) / 2 // the centre crop
			start := len(b.Wave)
			b.Wave = append(b.Wave, x.Wave[off:off+n]...)
			if m.Cfg.Audio.Normalize {
				normalizeWave(b.Wave[start:])
			}
		}
	}
	switch m.Modality {
	case data.Image:
		b.T = m.Positions(0)
	case data.Audio:
		b.L, b.T = n, m.Positions(n)
	default:
		b.T = n
	}
	return b, nil
}

// pooled is the mean over positions of the selected layer's output.
func (e *encoder) pooled(b *Batch) (out [][]float32, err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	x := e.m.Encode(&tp, b, e.teacher, e.layer)
	v := op.ToFloat32(tp.MeanDims(x, false, 1))
	d := int(e.m.Cfg.Encoder.Dim)
	out = make([][]float32, b.B)
	for i := range out {
		out[i] = v[i*d : (i+1)*d]
	}
	return out, nil
}
