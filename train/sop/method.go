package sop

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func init() {
	train.Register(&train.Method{
		Name:          "sop",
		Summary:       "ALBERT's sentence-order prediction: tell whether two consecutive segments of a document are swapped (text; optional MLM)",
		Modalities:    []string{data.Text},
		Defaults:      defaults,
		Presets:       presets,
		DefaultPreset: map[string]string{"": "fortunes"},
		Resolve:       resolve,
		Validate:      validate,
		New:           newTrainer,
		Encoder:       openEncoder,
	})
}

// pairCheck is the number of sequences newTrainer checks for pairs.
const pairCheck = 200

// trainer is the method's train.Trainer: the network and its optimizer
// (sslkit.NetState: State, Load, Close, ReplicatedTensors; the network
// under "net.").
type trainer struct {
	sslkit.NetState
	cfg    *train.Config
	n      *net
	masker *text.Masker
	dev    gotch.Device
}

func newTrainer(env *train.Env) (train.Trainer, error) {
	c := env.Config
	m, s := model(c), settings(c)
	var masker *text.Masker
	if s.MLM > 0 {
		var specials []int32
		if tok := env.Data.Tokenizer; tok != nil {
			specials = tok.SpecialIDs()
		}
		specials = append(specials, m.CLS, m.SEP, m.Pad)
		var err error
		if masker, err = text.NewMaskerIDs(m.Vocab, m.Mask, specials, text.MaskOptions{Prob: s.MaskProb}); err != nil {
			return nil, fmt.Errorf("sop: %w", err)
		}
	}
	// A dataset none of whose sequences gives a pair would starve the
	// data path (every sample dropped): check a sample of it first.
	if env.Data != nil {
		ex, err := env.Data.Collect(context.Background(), pairCheck)
		if err != nil {
			return nil, fmt.Errorf("sop: %w", err)
		}
		have := 0
		for i, x := range ex {
			if _, ok, _ := PairFor(x.Tokens, m, s, pipeline.SampleRand(c.Seed, 0, uint64(i), viewPairs)); ok {
				have++
			}
		}
		if have == 0 {
			return nil, fmt.Errorf("sop: none of %d sequences of %s gives a pair of at least %d tokens (whole sentences: %v, terminators %v): nothing to train on", len(ex), env.Data.Spec, s.MinTokens, s.WholeSentences, s.Terminators)
		}
		env.Logf("sop: %d of %d sequences checked give a pair of at least %d tokens", have, len(ex), s.MinTokens)
	}
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		return nil, err
	}
	n, err := newNet(m, s.MLM > 0, c.Seed, env.Device)
	if err != nil {
		return nil, err
	}
	return &trainer{NetState: sslkit.NetState{Params: n.p, Opt: opt}, cfg: c, n: n, masker: masker, dev: env.Device}, nil
}

func (t *trainer) Batches(ex *pipeline.Stream[data.Example], batch, workers int) *pipeline.Stream[any] {
	return batches(ex, model(t.cfg), settings(t.cfg), t.masker, batch, workers)
}

func (t *trainer) Step(_ context.Context, batch any, s train.StepInfo) (train.StepResult, error) {
	b := batch.(*Batch)
	if b.B == 0 {
		// An empty step: no update, no loss; empty_frac counts them.
		return train.StepResult{Loss: math.NaN(), Metrics: map[string]float64{"empty_frac": 1}}, nil
	}
	bt, err := toDevice(b, t.dev)
	if err != nil {
		return train.StepResult{}, err
	}
	defer bt.free()
	st := settings(t.cfg)
	r, err := step(t.n, t.Opt, st.MLM, st.SkipNonFinite, bt, s.LR, t.cfg.Optim.ClipGradNorm, s.Reduce)
	if err != nil {
		return train.StepResult{}, err
	}
	met := map[string]float64{"sop_loss": r.sop, "sop_acc": r.acc, "grad_norm": r.gradNorm,
		"tokens": float64(b.T), "kept_frac": float64(b.Kept) / float64(b.Total), "swapped_frac": float64(b.Swapped) / float64(b.B), "empty_frac": 0}
	if st.MLM > 0 {
		met["mlm_loss"] = r.mlm
	}
	return train.StepResult{Loss: r.loss, Skipped: r.skipped, Metrics: met, Samples: b.B, Units: float64(b.B * b.T), UnitName: "tokens"}, nil
}

// Embedder is the current encoder (the online monitor's view).
func (t *trainer) Embedder() train.Embedder {
	return &encoder{n: t.n, m: *model(t.cfg), dev: t.dev, borrowed: true}
}

// isEncoder selects the embeddings and blocks (not the heads).
func isEncoder(q *nn.Param) bool {
	return strings.HasPrefix(q.Name, "embeddings.") || strings.HasPrefix(q.Name, "encoder.")
}

// openEncoder loads a run's encoder from its newest checkpoint or builds
// it with the run's initial weights (o.Random).
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	defer op.LockThread()()
	c := &run.Config
	if o.Network != "" && o.Network != "student" {
		return nil, fmt.Errorf("sop: network %q: the method has one network (student)", o.Network)
	}
	dev, err := train.ParseDevice(orCPU(o.Device))
	if err != nil {
		return nil, err
	}
	n, err := newNet(model(c), settings(c).MLM > 0, c.Seed, dev)
	if err != nil {
		return nil, err
	}
	e := &encoder{n: n, m: *model(c), dev: dev, batch: o.Batch}
	if o.Random {
		return e, nil
	}
	path, err := train.LatestCheckpoint(run.Dir)
	if err == nil {
		var ts map[string]train.STensor
		if ts, _, err = train.ReadCheckpoint(path); err == nil {
			err = n.p.LoadOnly(path, ts, sslkit.NetPrefix, isEncoder)
		}
	}
	if err != nil {
		n.p.Free()
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

// encoder maps token sequences to the mean of the encoder's output over
// positions, in evaluation mode.
type encoder struct {
	n        *net
	m        Model
	dev      gotch.Device
	batch    int
	borrowed bool
}

func (e *encoder) Dim() int { return int(e.m.Encoder.Dim) }

func (e *encoder) Close() error {
	if !e.borrowed && e.n != nil {
		defer op.LockThread()()
		e.n.p.Free()
		e.n = nil
	}
	return nil
}

// Input is the tokens the encoder embeds for an example: its tokens
// without padding, "[CLS] ... [SEP]" added when missing, cut to seq_len
// (keeping the final [SEP]).
func Input(tokens []int32, m *Model) []int32 {
	end := len(tokens)
	for end > 0 && tokens[end-1] == m.Pad && m.Pad != m.SEP {
		end--
	}
	ids := slices.Clone(tokens[:end])
	if len(ids) == 0 || ids[0] != m.CLS {
		ids = append([]int32{m.CLS}, ids...)
	}
	if ids[len(ids)-1] != m.SEP {
		ids = append(ids, m.SEP)
	}
	if len(ids) > m.SeqLen {
		ids = append(ids[:m.SeqLen-1], m.SEP)
	}
	return ids
}

// Embed runs the examples in batches of equal length (so no padding
// reaches the encoder) and returns the mean output per example.
func (e *encoder) Embed(ex []data.Example) (out [][]float32, err error) {
	if e.n == nil {
		return nil, fmt.Errorf("sop: encoder is closed")
	}
	defer op.LockThread()()
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	bs := e.batch
	if bs <= 0 {
		bs = 64
	}
	inputs := make([][]int32, len(ex))
	for i, x := range ex {
		inputs[i] = Input(x.Tokens, &e.m)
		for _, t := range inputs[i] {
			if t < 0 || int(t) >= e.m.Vocab {
				return nil, fmt.Errorf("sop: %s: token %d outside the vocabulary of %d", x.Key, t, e.m.Vocab)
			}
		}
	}
	order := make([]int, len(ex))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(inputs[a]) - len(inputs[b]) })
	out = make([][]float32, len(ex))
	d := int(e.m.Encoder.Dim)
	for lo := 0; lo < len(order); {
		T := len(inputs[order[lo]])
		hi := lo + 1
		for hi < len(order) && hi-lo < bs && len(inputs[order[hi]]) == T {
			hi++
		}
		ids := make([]int64, 0, (hi-lo)*T)
		for _, i := range order[lo:hi] {
			for _, t := range inputs[i] {
				ids = append(ids, int64(t))
			}
		}
		var tp op.Tape
		B := int64(hi - lo)
		x := tp.Int64(ids, e.dev, B, int64(T))
		h := e.n.encode(&tp, x, tp.ZerosLike(x), false)
		v := op.ToFloat32(tp.MeanDims(h, false, 1))
		for k, i := range order[lo:hi] {
			out[i] = v[k*d : (k+1)*d]
		}
		tp.Drop()
		lo = hi
	}
	return out, nil
}
