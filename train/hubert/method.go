package hubert

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/plot"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/op"
)

func init() {
	train.Register(&train.Method{
		Name:          "hubert",
		Summary:       "HuBERT: predict k-means labels of masked speech frames (audio; wav2vec 2.0 CNN + Transformer)",
		Modalities:    []string{data.Audio},
		Defaults:      defaults,
		Presets:       presets,
		DefaultPreset: map[string]string{"": "cpu-small"},
		Flags: []train.Flag{
			{Name: "labels", Usage: "frame-label set joined to the data by sample (a DS2 folder written by sslpipe hubert labels; config data.labels)",
				Set: func(c *train.Config, v string) error { c.Data.Labels = v; return nil }},
			{Name: "valid", Usage: "held-out audio dataset with labels of the same k, for val_acc_m every hubert.val_every steps (config hubert.valid)",
				Set: func(c *train.Config, v string) error { settings(c).Valid = v; return nil }},
			{Name: "valid-labels", Usage: "label set joined to --valid (a VALID2 folder written by sslpipe hubert labels --codebook; config hubert.valid_labels)",
				Set: func(c *train.Config, v string) error { settings(c).ValidLabels = v; return nil }},
		},
		Resolve:  resolve,
		Validate: validate,
		New:      newTrainer,
		Encoder:  openEncoder,
	})
}

// trainer is HuBERT's train.Trainer.
type trainer struct {
	cfg   *train.Config
	m     *Model
	opt   *Optimizer
	valid *data.Dataset // held-out set (nil: none)
}

func newTrainer(env *train.Env) (_ train.Trainer, err error) {
	c := env.Config
	mc, s := model(c), settings(c)
	if s.resolved != "" {
		env.Logf("hubert: note: %s", s.resolved)
	}
	t := &trainer{cfg: c}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if s.Valid != "" && env.Rank == 0 {
		if t.valid, err = openValid(c); err != nil {
			return nil, err
		}
	}
	if t.m, err = NewModel(*mc, c.Seed, env.Device); err != nil {
		return nil, err
	}
	t.m.BF16 = c.BF16 && env.Device.IsCuda()
	if t.opt, err = NewOptimizer(t.m, c.Optim, s.CNNLRScale); err != nil {
		return nil, err
	}
	env.Logf("hubert: %d parameters, k = %d classes (chance %.3f), labels at %g Hz", t.m.Params.Count(), mc.NumClasses, 1/float64(mc.NumClasses), mc.LabelRate())
	return t, nil
}

// openValid opens the held-out set and checks that its labels are the
// training labels' kind.
func openValid(c *train.Config) (*data.Dataset, error) {
	mc, s := model(c), settings(c)
	d, err := data.Open(s.Valid, data.Options{Modality: data.Audio, Labels: s.ValidLabels, Workers: c.Data.Workers})
	if err != nil {
		return nil, fmt.Errorf("hubert: hubert.valid: %w", err)
	}
	switch {
	case d.LabelRate == 0:
		err = fmt.Errorf("hubert: %w: hubert.valid %s has no frame labels", train.ErrConfig, s.Valid)
	case float64(d.LabelRate) != mc.LabelRate():
		err = fmt.Errorf("hubert: %w: hubert.valid %s has labels at %d Hz, the model predicts %g Hz", train.ErrConfig, s.Valid, d.LabelRate, mc.LabelRate())
	case d.LabelK != 0 && d.LabelK != mc.NumClasses:
		err = fmt.Errorf("hubert: %w: hubert.valid %s has labels of k = %d but the training labels have k = %d: another dictionary (give hubert.valid_labels for iteration 2)",
			train.ErrConfig, s.Valid, d.LabelK, mc.NumClasses)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return batches(ex, *model(t.cfg), settings(t.cfg).MaxSamples, batch, workers)
}

func (t *trainer) Step(ctx context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	b := batch.(*Batch)
	// Layer drop is drawn from the step, the same on every rank.
	b.Rng = rand.New(rand.NewPCG(t.cfg.Seed^0x1d, uint64(s.Step)))
	if s.AllSum != nil && s.World > 1 {
		var m float64
		for _, v := range b.Mask {
			if v {
				m++
			}
		}
		v := []float64{m, float64(len(b.Mask)) - m}
		if err := s.AllSum(v); err != nil {
			return train.StepResult{}, err
		}
		if v[0] > 0 {
			b.ScaleM = float64(s.World) * m / v[0]
		}
		if v[1] > 0 {
			b.ScaleU = float64(s.World) * (float64(len(b.Mask)) - m) / v[1]
		}
	}
	r, err := t.opt.Step(b, s.LR, s.Reduce)
	if err != nil {
		return train.StepResult{}, err
	}
	met := map[string]float64{"feature_pen": r.FeatPen, "grad_norm": r.GradNorm}
	if r.CountM > 0 {
		met["loss_m"], met["acc_m"] = r.LossM, r.AccM()
	}
	if r.CountU > 0 {
		met["loss_u"], met["acc_u"] = r.LossU, r.AccU()
	}
	if v := settings(t.cfg).ValEvery; t.valid != nil && (v > 0 && (s.Step+1)%v == 0 || s.Step+1 == s.Total) {
		vr, err := t.validate(ctx)
		if err != nil {
			return train.StepResult{}, err
		}
		met["val_acc_m"], met["val_acc_u"], met["val_loss_m"] = vr.AccM(), vr.AccU(), vr.LossM
	}
	return train.StepResult{Loss: r.Loss, Skipped: r.Skipped, Metrics: met, Units: float64(b.B*b.L) / SampleRate, UnitName: "audio_s"}, nil
}

// validate measures masked and unmasked prediction accuracy on the
// held-out utterances, one at a time (no dropout), each cut to 4 x
// max_samples and masked with a stream keyed by its place in the set, so
// every validation sees the same inputs. Utterances that fail Check are
// left out.
func (t *trainer) validate(ctx context.Context) (StepResult, error) {
	s, mc := settings(t.cfg), *model(t.cfg)
	exs, err := t.valid.Collect(ctx, s.ValidCount)
	if err != nil {
		return StepResult{}, fmt.Errorf("hubert: hubert.valid: %w", err)
	}
	var tot StepResult
	var lossM float64
	for i, ex := range exs {
		u, err := Check(ex, mc)
		if err != nil {
			continue
		}
		b, err := Collate([]Utterance{u}, []*rand.Rand{pipeline.SampleRand(t.cfg.Seed, 0, uint64(i), viewValid)}, 4*s.MaxSamples, mc)
		if err != nil {
			return tot, err
		}
		b.Train = false
		r, err := t.m.Eval(b)
		if err != nil {
			return tot, err
		}
		tot.CorrectM += r.CorrectM
		tot.CountM += r.CountM
		tot.CorrectU += r.CorrectU
		tot.CountU += r.CountU
		lossM += r.LossM * float64(r.CountM)
	}
	tot.LossM = lossM / math.Max(float64(tot.CountM), 1)
	return tot, nil
}

// State: the model ("model.<torchaudio name>") and the optimizer state
// ("optim.<param>.<slot>").
func (t *trainer) State() (map[string]train.STensor, int64, error) {
	ts := map[string]train.STensor{}
	if err := t.m.Params.Snapshot(ts, "model."); err != nil {
		return nil, 0, err
	}
	os, err := t.opt.State("optim.")
	if err != nil {
		return nil, 0, err
	}
	for k, v := range os {
		ts[k] = v
	}
	return ts, t.opt.Steps(), nil
}

func (t *trainer) Load(path string, ts map[string]train.STensor, st *train.State) error {
	defer op.LockThread()()
	if err := t.m.Params.Load(path, ts, "model."); err != nil {
		return err
	}
	return t.opt.SetState(path, ts, "optim.", st.OptSteps)
}

func (t *trainer) Close() error {
	if t.opt != nil {
		t.opt.Free()
		t.opt = nil
	}
	if t.m != nil {
		t.m.Free()
		t.m = nil
	}
	if t.valid != nil {
		t.valid.Close()
		t.valid = nil
	}
	return nil
}

// Finish writes RUN/model.safetensors (torchaudio names, loadable into
// torchaudio.models.hubert_pretrain_model) and RUN/plots/accuracy.png.
func (t *trainer) Finish(dir string, steps int64, interrupted bool) error {
	if err := WritePlots(dir); err != nil {
		return err
	}
	return SaveWeights(filepath.Join(dir, "model.safetensors"), t.m, t.cfg, steps)
}

// ReplicatedTensors are the model's parameters (rank 0's are broadcast at
// the start of a data-parallel run).
func (t *trainer) ReplicatedTensors() []op.Tensor {
	var out []op.Tensor
	for _, p := range t.m.Params.List() {
		out = append(out, p.T)
	}
	return out
}

// Embedder is the current model's last block, mean-pooled (the online
// monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &encoder{m: t.m, layer: t.m.Cfg.Encoder.Layers, borrowed: true}
}

// WritePlots draws RUN/plots/accuracy.png: masked and unmasked prediction
// accuracy, on training batches and held out, against step.
func WritePlots(dir string) error {
	acc, err := plot.ReadJSONL(filepath.Join(dir, "metrics.jsonl"), "step", "acc_m", "acc_u", "val_acc_m", "val_acc_u")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return fmt.Errorf("hubert: %w", err)
	}
	c := &plot.Chart{Title: "HuBERT prediction accuracy", XLabel: "step", YLabel: "accuracy", YMin: 0, YMax: 1, Series: acc}
	return c.WritePNG(filepath.Join(dir, "plots", "accuracy.png"))
}

// SaveWeights writes m's parameters (torchaudio names) as safetensors with
// metadata "sslpipe" = {"method":"hubert","step":N,"config":<YAML>},
// atomically.
func SaveWeights(path string, m *Model, cfg *train.Config, step int64) error {
	ts, err := m.Params.Tensors("")
	if err != nil {
		return err
	}
	y, err := cfg.YAML()
	if err != nil {
		return err
	}
	meta, _ := json.Marshal(map[string]any{"method": "hubert", "step": step, "config": string(y)})
	return train.WriteSafetensorsFile(path, ts, map[string]string{"sslpipe": string(meta)})
}

// Run is a trained run's model configuration.
type Run struct {
	Config train.Config
	Model  ModelConfig
	Seed   uint64
}

// OpenRun loads a run folder's model from its newest checkpoint on dev.
func OpenRun(dir string, dev gotch.Device) (*Model, Run, error) {
	defer op.LockThread()()
	c, err := train.LoadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return nil, Run{}, err
	}
	if c.Method != "hubert" {
		return nil, Run{}, fmt.Errorf("hubert: %s is a %s run", dir, c.Method)
	}
	r := Run{Config: c, Model: *model(&c), Seed: c.Seed}
	path, err := train.LatestCheckpoint(dir)
	if err != nil {
		return nil, r, err
	}
	ts, _, err := train.ReadCheckpoint(path)
	if err != nil {
		return nil, r, err
	}
	m, err := NewModel(r.Model, r.Seed, dev)
	if err != nil {
		return nil, r, err
	}
	if err := m.Params.Load(path, ts, "model."); err != nil {
		m.Free()
		return nil, r, err
	}
	return m, r, nil
}

// openEncoder opens the network eval and embed use: the mean-pooled
// output of transformer block o.Layer (default: the last) of the run's
// newest checkpoint, or of its seeded initial weights with o.Random.
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	defer op.LockThread()()
	if o.Network != "" && o.Network != "student" {
		return nil, fmt.Errorf("hubert: network %q: HuBERT has one network", o.Network)
	}
	dev, err := train.ParseDevice(orCPU(o.Device))
	if err != nil {
		return nil, err
	}
	mc := *model(&run.Config)
	layer := o.Layer
	if layer == 0 {
		layer = mc.Encoder.Layers
	}
	if layer < 1 || layer > mc.Encoder.Layers {
		return nil, fmt.Errorf("hubert: layer %d outside [1, %d]", layer, mc.Encoder.Layers)
	}
	var m *Model
	if o.Random {
		m, err = NewModel(mc, run.Config.Seed, dev)
	} else {
		m, _, err = OpenRun(run.Dir, dev)
	}
	if err != nil {
		return nil, err
	}
	return &encoder{m: m, layer: layer}, nil
}

func orCPU(d string) string {
	if d == "" {
		return "cpu"
	}
	return d
}

// encoder maps utterances to the time average of one block's output.
type encoder struct {
	m        *Model
	layer    int
	borrowed bool
}

func (e *encoder) Dim() int { return int(e.m.Cfg.Encoder.Dim) }

func (e *encoder) Close() error {
	if !e.borrowed && e.m != nil {
		defer op.LockThread()()
		e.m.Free()
	}
	e.m = nil
	return nil
}

// Embed runs one utterance at a time (whole, no dropout).
func (e *encoder) Embed(ex []data.Example) ([][]float32, error) {
	if e.m == nil {
		return nil, fmt.Errorf("hubert: encoder is closed")
	}
	waves := make([][]float32, len(ex))
	for i := range ex {
		if ex[i].Rate != SampleRate {
			return nil, fmt.Errorf("%w: sample %s: audio at %d Hz, the model takes %d Hz", ErrData, ex[i].Key, ex[i].Rate, SampleRate)
		}
		waves[i] = ex[i].Wave
	}
	return Embed(e.m, waves, e.layer, 0)
}

// Embed returns, for each wave, the features of transformer block layer
// (0: the projected CNN features) averaged over time; long waves are cut
// to maxSamples (0: no cut). One utterance at a time, no dropout.
func Embed(m *Model, waves [][]float32, layer, maxSamples int) (out [][]float32, err error) {
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	rf := m.Cfg.CNN.ReceptiveField()
	for i, w := range waves {
		if maxSamples > 0 && len(w) > maxSamples {
			w = w[:maxSamples]
		}
		if len(w) < rf {
			return nil, fmt.Errorf("%w: wave %d has %d samples, fewer than the receptive field %d", ErrData, i, len(w), rf)
		}
		out = append(out, meanLayer(m, w, layer))
	}
	return out, nil
}

// meanLayer is the time average of block layer's output for one wave;
// libtorch errors are raised for op.Catch.
func meanLayer(m *Model, w []float32, layer int) []float32 {
	var tp op.Tape
	defer tp.Drop()
	x := m.Layer(&tp, w, 1, len(w), layer)
	return op.ToFloat32(tp.MeanDims(x, false, 1))
}
