package data2vec

import (
	"fmt"

	"github.com/sslpipe/sslpipe/augment"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// The representation `sslpipe eval` and `sslpipe embed` use: the mean over
// positions of one layer's output, in evaluation mode on unmasked input.
//
// Layers (train.EncoderOptions.Layer): -1 is the front end's output (token,
// patch or CNN embeddings, before the encoder), 1..L block L's output (L,
// the last, is the encoder's output, with the final layer norm of pre-LN
// encoders), and 0 the default: -1 for text (the topic of a text is
// lexical: the token embeddings probed best on fortune categories, see
// benchmarks/RESULTS.md), L for images and audio. The network is the
// student by default; "teacher" runs the EMA teacher's encoder over the
// student's front end.
//
// Inputs: text examples' Tokens are encoded whole, in consecutive windows
// of SeqLen tokens each encoded on its own, and pooled over all their
// tokens (the windows' means weighted by their token counts); images are
// converted to the model's channels and size (bilinear) and normalized as
// in training; audio is 16 kHz, whole utterances, one per forward pass.

// openEncoder is Method.Encoder: the run's newest checkpoint or, with
// o.Random, its seeded initial weights.
func openEncoder(run *train.RunInfo, o train.EncoderOptions) (train.Embedder, error) {
	defer op.LockThread()()
	c := &run.Config
	dev := o.Device
	if dev == "" {
		dev = "cpu"
	}
	d, err := train.ParseDevice(dev)
	if err != nil {
		return nil, err
	}
	m, err := NewModel(c.Data.Modality, *model(c), c.Seed, d)
	if err != nil {
		return nil, err
	}
	e, err := newEncoder(m, c, o, false)
	if err != nil {
		m.Free()
		return nil, err
	}
	if o.Random {
		return e, nil
	}
	path, err := train.LatestCheckpoint(run.Dir)
	if err == nil {
		var ts map[string]train.STensor
		if ts, _, err = train.ReadCheckpoint(path); err == nil {
			if err = m.Params.Load(path, ts, ""); err == nil {
				err = m.Teacher.Load(path, ts, "")
			}
		}
	}
	if err != nil {
		m.Free()
		return nil, err
	}
	return e, nil
}

// encoder is data2vec's train.Embedder.
type encoder struct {
	m        *Model
	norm     augment.Normalize
	teacher  bool
	layer    int // Model.Encode's: -1 embeddings, 0 encoder output, k block k
	dim      int
	batch    int
	borrowed bool // the trainer's model (the online monitor)
}

// newEncoder checks o against the model and maps its layer to
// Model.Encode's.
func newEncoder(m *Model, c *train.Config, o train.EncoderOptions, borrowed bool) (*encoder, error) {
	e := &encoder{m: m, norm: settings(c).Normalize, dim: int(m.Cfg.Encoder.Dim), batch: o.Batch, borrowed: borrowed}
	if e.batch <= 0 {
		e.batch = 64
	}
	switch o.Network {
	case "", "student":
	case "teacher":
		e.teacher = true
	default:
		return nil, fmt.Errorf("data2vec: %w: network %q: want student or teacher", train.ErrConfig, o.Network)
	}
	L := m.Cfg.Encoder.Layers
	switch l := o.Layer; {
	case l == 0 && m.Modality == data.Text, l == -1:
		e.layer = -1
	case l == 0, l == L:
		e.layer = 0
	case l >= 1 && l < L:
		e.layer = l
	default:
		return nil, fmt.Errorf("data2vec: %w: layer %d: want -1 (embeddings), 1..%d (block; %d: the encoder output) or 0 (default)", train.ErrConfig, l, L, L)
	}
	return e, nil
}

func (e *encoder) Dim() int { return e.dim }

func (e *encoder) Close() error {
	if !e.borrowed && e.m != nil {
		defer op.LockThread()()
		e.m.Free()
		e.m = nil
	}
	return nil
}

// Embed returns one mean-pooled feature vector per example.
func (e *encoder) Embed(ex []data.Example) ([][]float32, error) {
	if e.m == nil {
		return nil, fmt.Errorf("data2vec: encoder is closed")
	}
	defer op.LockThread()()
	switch e.m.Modality {
	case data.Text:
		return e.texts(ex)
	case data.Image:
		return e.images(ex)
	}
	return e.waves(ex)
}

// pooled runs b and returns its mean over positions, B x D.
func (e *encoder) pooled(b *Batch) (out [][]float32, err error) {
	defer op.Catch(&err)
	var tp op.Tape
	defer tp.Drop()
	x := e.m.Encode(&tp, b, e.teacher, e.layer)
	v := op.ToFloat32(tp.MeanDims(x, false, 1))
	d := e.Dim()
	for i := 0; i < b.B; i++ {
		out = append(out, v[i*d:(i+1)*d])
	}
	return out, nil
}

// texts encodes each example's tokens in windows of SeqLen tokens and
// pools over all its tokens. Windows are batched by equal length (no
// padding: the encoder has no attention mask).
func (e *encoder) texts(ex []data.Example) ([][]float32, error) {
	texts := make([][]int32, len(ex))
	for i, x := range ex {
		ids, err := checkTokens(x, e.m.Cfg.Vocab)
		if err != nil {
			return nil, err
		}
		texts[i] = ids
	}
	return tr.PoolWindows(texts, e.m.Cfg.SeqLen, e.batch, e.Dim(), func(ids []int64, b, t int) ([][]float32, error) {
		return e.pooled(&Batch{B: b, T: t, IDs: ids})
	})
}

// images embeds images converted to the model's input (never modifying
// the examples).
func (e *encoder) images(ex []data.Example) ([][]float32, error) {
	c := e.m.Cfg
	g := c.ImageSize / c.Patch
	var sc augment.Scratch
	var out [][]float32
	for s := 0; s < len(ex); s += e.batch {
		part := ex[s:min(len(ex), s+e.batch)]
		b := &Batch{B: len(part), T: g * g}
		for _, x := range part {
			if x.Image == nil {
				return nil, fmt.Errorf("%w: sample %s has no image", ErrData, x.Key)
			}
			var err error
			if b.Patches, err = imagePatches(b.Patches, x.Image, &c, e.norm, false, &sc); err != nil {
				return nil, fmt.Errorf("%s: %w", x.Key, err)
			}
		}
		f, err := e.pooled(b)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// waves embeds whole utterances, one per forward pass.
func (e *encoder) waves(ex []data.Example) ([][]float32, error) {
	rf := e.m.Cfg.CNN.ReceptiveField()
	out := make([][]float32, 0, len(ex))
	for _, x := range ex {
		w, err := checkWave(x, rf)
		if err != nil {
			return nil, err
		}
		f, err := e.pooled(&Batch{B: 1, T: e.m.Cfg.CNN.Frames(len(w)), L: len(w), Wave: w})
		if err != nil {
			return nil, err
		}
		out = append(out, f[0])
	}
	return out, nil
}
