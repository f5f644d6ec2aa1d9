package data2vec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func init() {
	train.Register(&train.Method{
		Name:          "data2vec",
		Summary:       "data2vec: regress an EMA teacher's averaged top-K block outputs at masked positions (text, images, speech; one Transformer objective)",
		Modalities:    Modalities,
		Defaults:      defaults,
		Presets:       allPresets(),
		DefaultPreset: map[string]string{data.Text: "text-cpu", data.Image: "image-cpu", data.Audio: "audio-cpu", "": "image-cpu"},
		Resolve:       resolve,
		Scale:         scale,
		Validate:      validate,
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// ErrCollapse is wrapped (with train.ErrStopRun) by the error that ends a
// run whose collapse monitor fired with Collapse.Stop.
var ErrCollapse = errors.New("data2vec: representation collapse")

// trainer is data2vec's train.Trainer.
type trainer struct {
	cfg *train.Config
	env *train.Env
	m   *Model
	opt *Optimizer
	b   *batcher
	tok *text.Tokenizer // text: the dataset's, saved in the run folder

	warnings int64   // collapse warnings in this process
	winMin   float64 // smallest target variance of the current log window
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	mc, s := model(c), settings(c)
	b, err := newBatcher(c.Data.Modality, *mc, *s, env.Data.Tokenizer)
	if err != nil {
		return nil, err
	}
	m, err := NewModel(c.Data.Modality, *mc, c.Seed, env.Device)
	if err != nil {
		return nil, err
	}
	m.BF16 = c.BF16 && env.Device.IsCuda()
	opt, err := NewOptimizer(m, c.Optim)
	if err != nil {
		m.Free()
		return nil, err
	}
	env.Logf("data2vec %s: %d student parameters, top-%d %s-normalized targets, %s masking", c.Data.Modality, m.Params.Count(),
		mc.TopK, mc.TargetNorm, mc.Mask.Kind)
	return &trainer{cfg: c, env: env, m: m, opt: opt, b: b, tok: env.Data.Tokenizer, winMin: math.Inf(1)}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return t.b.batches(ex, batch, workers)
}

// Step trains on one batch, then moves the teacher (decay TauAt(step+1)),
// and checks for collapse. Metrics: tau, grad_norm, target_var, pred_var,
// masked_frac, collapse (1 on a step below the monitor's thresholds), and
// min_target_var (the window's smallest) on logged steps.
func (t *trainer) Step(_ context.Context, batch any, info train.StepInfo) (train.StepResult, error) {
	b, ok := batch.(*Batch)
	if !ok {
		return train.StepResult{}, fmt.Errorf("data2vec: batch of type %T", batch)
	}
	masked := 0
	for _, v := range b.Mask {
		if v {
			masked++
		}
	}
	scale, err := info.GlobalScale(float64(masked))
	if err != nil {
		return train.StepResult{}, err
	}
	b.Scale = scale
	r, err := t.opt.StepReduce(b, info.LR, info.Reduce)
	if err != nil {
		return train.StepResult{}, err
	}
	done := info.Step + 1
	s := settings(t.cfg)
	tau := s.EMA.TauAt(done)
	if err := t.m.UpdateTeacher(tau); err != nil {
		return train.StepResult{}, err
	}
	res := train.StepResult{Loss: r.Loss, Skipped: r.Skipped, Samples: b.B,
		Metrics: map[string]float64{"tau": tau, "masked_frac": float64(r.Masked) / float64(b.B*b.T)}}
	switch t.m.Modality {
	case data.Text:
		res.Units, res.UnitName = float64(b.B*b.T), "tokens"
	case data.Audio:
		res.Units, res.UnitName = float64(b.B*b.L)/SampleRate, "audio_seconds"
	}
	var stop error
	if !r.Skipped {
		res.Metrics["grad_norm"] = r.GradNorm
		res.Metrics["target_var"] = r.TargetVar
		res.Metrics["pred_var"] = r.PredVar
		t.winMin = math.Min(t.winMin, r.TargetVar)
		collapsed := 0.0
		if cl := s.Collapse; done > cl.After && (r.TargetVar < cl.MinTargetVar || r.PredVar < cl.MinPredVar) {
			collapsed = 1
			t.warnings++
			if t.warnings == 1 || cl.Stop {
				t.env.Logf("data2vec: WARNING step %d: target variance %.4f (min %.3g), prediction variance %.4f (min %.3g): collapse?",
					done, r.TargetVar, cl.MinTargetVar, r.PredVar, cl.MinPredVar)
			}
			if cl.Stop {
				stop = fmt.Errorf("%w at step %d: target variance %.4f, prediction variance %.4f: %w", ErrCollapse, done, r.TargetVar, r.PredVar, train.ErrStopRun)
			}
		}
		res.Metrics["collapse"] = collapsed
	}
	if e := t.cfg.Log.Every; e > 0 && done%e == 0 || done == info.Total {
		if !math.IsInf(t.winMin, 1) {
			res.Metrics["min_target_var"] = t.winMin
		}
		t.winMin = math.Inf(1)
	}
	return res, stop
}

// State: the student (its own names: encoder.*, the front-end, the head),
// the teacher (teacher.encoder.*) and the optimizer (optim.<param>.<slot>).
func (t *trainer) State() (map[string]train.STensor, int64, error) {
	ts, err := t.weights()
	if err != nil {
		return nil, 0, err
	}
	ot, err := t.opt.State()
	if err != nil {
		return nil, 0, err
	}
	maps.Copy(ts, ot)
	return ts, t.opt.Steps(), nil
}

// weights are the student's and the teacher's tensors.
func (t *trainer) weights() (map[string]train.STensor, error) {
	ts, err := t.m.Params.Tensors("")
	if err != nil {
		return nil, err
	}
	tt, err := t.m.Teacher.Tensors("")
	if err != nil {
		return nil, err
	}
	maps.Copy(ts, tt)
	return ts, nil
}

func (t *trainer) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := t.m.Params.Load(path, ts, ""); err != nil {
		return err
	}
	if err := t.m.Teacher.Load(path, ts, ""); err != nil {
		return err
	}
	return t.opt.SetState(path, ts, st.OptSteps)
}

func (t *trainer) Close() error {
	defer op.LockThread()()
	t.opt.Free()
	t.m.Free()
	return nil
}

// Finish writes RUN/model.safetensors (student and teacher, with the
// config and step in the metadata "sslpipe") and, for text, the dataset's
// tokenizer as RUN/tokenizer.json (what `sslpipe eval --tokenizer` and
// `sslpipe embed --tokenizer` take for raw text).
func (t *trainer) Finish(dir string, steps int64, _ bool) error {
	ts, err := t.weights()
	if err != nil {
		return err
	}
	y, err := t.cfg.YAML()
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(map[string]any{"method": "data2vec", "modality": t.cfg.Data.Modality, "step": steps, "config": string(y)})
	if err := train.WriteSafetensorsFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"sslpipe": string(meta)}); err != nil {
		return err
	}
	if t.tok != nil {
		return t.tok.Save(filepath.Join(dir, "tokenizer.json"))
	}
	return nil
}

// ReplicatedTensors are the student's and the teacher's tensors (rank 0's
// are broadcast at the start of a data-parallel run).
func (t *trainer) ReplicatedTensors() []op.Tensor {
	return append(nn.Tensors(t.m.Params.List()), nn.Tensors(t.m.Teacher.List())...)
}

// Embedder is the current student at the default layer (the online
// monitor's view); it shares the training weights.
func (t *trainer) Embedder() train.Embedder {
	e, _ := newEncoder(t.m, t.cfg, train.EncoderOptions{}, true)
	return e
}
