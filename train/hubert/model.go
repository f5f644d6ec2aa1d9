package hubert

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// ModelConfig is the HuBERT architecture and objective.
type ModelConfig struct {
	CNN     wavenc.Config `yaml:"cnn" json:"cnn"`
	Encoder tr.Config     `yaml:"encoder" json:"encoder"`
	// ProjDropout is applied after the feature projection (0.1).
	ProjDropout float64 `yaml:"projection_dropout" json:"projection_dropout"`
	FinalDim    int64   `yaml:"final_dim" json:"final_dim"`     // 256
	NumClasses  int     `yaml:"num_classes" json:"num_classes"` // k of the k-means targets (100, then 500)
	// LogitTemp divides the cosine similarities (0.1).
	LogitTemp float64 `yaml:"logit_temp" json:"logit_temp"`
	// FeaturePenalty weighs the mean squared CNN feature (10).
	FeaturePenalty float64 `yaml:"feature_penalty" json:"feature_penalty"`
	// CNNGradScale multiplies the CNN's gradients (0.1).
	CNNGradScale float64 `yaml:"cnn_grad_scale" json:"cnn_grad_scale"`
	// UnmaskedWeight weighs the cross-entropy on unmasked frames (0).
	UnmaskedWeight float64 `yaml:"unmasked_weight" json:"unmasked_weight"`
	// LabelInit is the label embeddings' initialization: "uniform"
	// (U(0, 1), torchaudio and fairseq) or "normal" (N(0, 1): nearly
	// orthogonal classes from the start, which short CPU runs need; with
	// U(0, 1) all 256-d label embeddings start at cosine ~0.75 of each other).
	LabelInit string `yaml:"label_init" json:"label_init"`
	// Mask is the span masking of the projected features (prob 0.8, length 10).
	Mask audio.MaskConfig `yaml:"mask" json:"mask"`
}

// Validate checks the configuration.
func (c ModelConfig) Validate() error {
	if err := c.CNN.Validate(); err != nil {
		return err
	}
	if err := c.Encoder.Validate(); err != nil {
		return err
	}
	switch {
	case c.FinalDim <= 0:
		return fmt.Errorf("hubert: final_dim %d must be > 0", c.FinalDim)
	case c.NumClasses < 2:
		return fmt.Errorf("hubert: num_classes %d must be >= 2", c.NumClasses)
	case !(c.LogitTemp > 0):
		return fmt.Errorf("hubert: logit_temp %v must be > 0", c.LogitTemp)
	case c.FeaturePenalty < 0 || c.UnmaskedWeight < 0:
		return fmt.Errorf("hubert: feature_penalty and unmasked_weight must be >= 0")
	case !(c.CNNGradScale > 0 && c.CNNGradScale <= 1):
		return fmt.Errorf("hubert: cnn_grad_scale %v must be in (0, 1]", c.CNNGradScale)
	case c.LabelInit != "" && c.LabelInit != "uniform" && c.LabelInit != "normal":
		return fmt.Errorf("hubert: label_init %q: want uniform or normal", c.LabelInit)
	case c.ProjDropout < 0 || c.ProjDropout >= 1:
		return fmt.Errorf("hubert: projection_dropout %v must be in [0, 1)", c.ProjDropout)
	case c.Mask.Prob <= 0 || c.Mask.Prob > 1 || c.Mask.Length < 1:
		return fmt.Errorf("hubert: mask prob %v must be in (0, 1] and length %d >= 1", c.Mask.Prob, c.Mask.Length)
	}
	return nil
}

// Model is HuBERT for pretraining: the CNN feature encoder, layer norm and
// projection, learned mask embedding, Transformer encoder, final projection
// and label embeddings. Parameter names follow torchaudio's
// HuBERTPretrainModel state dict:
//
//	wav2vec2.feature_extractor.conv_layers.<i>.conv.weight
//	wav2vec2.feature_extractor.conv_layers.0.layer_norm.{weight,bias}
//	wav2vec2.encoder.feature_projection.{layer_norm,projection}.{weight,bias}
//	wav2vec2.encoder.transformer.*            (see transformer.Encoder)
//	mask_generator.mask_embedding
//	logit_generator.final_proj.{weight,bias}
//	logit_generator.label_embeddings
//
// A Model is used from one goroutine on one locked OS thread.
type Model struct {
	Cfg    ModelConfig
	Params *tr.Params
	CNN    *wavenc.Encoder
	Enc    *tr.Encoder
	// BF16 runs convolutions and matrix products in bfloat16 (set it on
	// CUDA only; the CPU path stays float32).
	BF16 bool
	dev  gotch.Device

	lnw, lnb       op.Tensor
	projW, projB   op.Tensor
	maskEmb        op.Tensor
	finalW, finalB op.Tensor
	labelEmb       op.Tensor
}

// NewModel builds a randomly initialized model (torchaudio's HuBERT
// initialization, drawn from seed) on dev.
func NewModel(cfg ModelConfig, seed uint64, dev gotch.Device) (m *Model, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := tr.NewParams(seed, dev)
	defer func() {
		if err != nil {
			p.Free()
		}
	}()
	m = &Model{Cfg: cfg, Params: p, dev: dev}
	if m.CNN, err = wavenc.New(p, "wav2vec2.feature_extractor.", cfg.CNN); err != nil {
		return nil, err
	}
	if err := m.head(p); err != nil {
		return nil, err
	}
	if m.Enc, err = tr.New(p, "wav2vec2.encoder.transformer.", cfg.Encoder); err != nil {
		return nil, err
	}
	if err := m.tail(p); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Model) head(p *tr.Params) (err error) {
	defer op.Catch(&err)
	c := m.CNN.Config().Dim()
	d := m.Cfg.Encoder.Dim
	m.lnw = p.New("wav2vec2.encoder.feature_projection.layer_norm.weight", true, tr.Fill(c, 1), c)
	m.lnb = p.New("wav2vec2.encoder.feature_projection.layer_norm.bias", true, tr.Fill(c, 0), c)
	b := 1 / math.Sqrt(float64(c))
	m.projW = p.New("wav2vec2.encoder.feature_projection.projection.weight", false, p.Uniform(d*c, -b, b), d, c)
	m.projB = p.New("wav2vec2.encoder.feature_projection.projection.bias", true, p.Uniform(d, -b, b), d)
	return nil
}

func (m *Model) tail(p *tr.Params) (err error) {
	defer op.Catch(&err)
	d, f, k := m.Cfg.Encoder.Dim, m.Cfg.FinalDim, int64(m.Cfg.NumClasses)
	m.maskEmb = p.New("mask_generator.mask_embedding", true, p.Uniform(d, 0, 1), d)
	b := 1 / math.Sqrt(float64(d))
	m.finalW = p.New("logit_generator.final_proj.weight", false, p.Uniform(f*d, -b, b), f, d)
	m.finalB = p.New("logit_generator.final_proj.bias", true, p.Uniform(f, -b, b), f)
	le := p.Uniform(k*f, 0, 1)
	if m.Cfg.LabelInit == "normal" {
		le = p.Normal(k*f, 1)
	}
	m.labelEmb = p.New("logit_generator.label_embeddings", true, le, k, f)
	return nil
}

// Free releases the parameters.
func (m *Model) Free() { m.Params.Free() }

// Device is where the model lives.
func (m *Model) Device() gotch.Device { return m.dev }

// Batch is one training or evaluation batch of equal-length crops.
type Batch struct {
	Wave   []float32 // B x L samples, row-major
	B, L   int
	Labels []int64 // B x T frame labels at the encoder rate (T = CNN.Frames(L))
	Mask   []bool  // B x T, true at masked frames
	Rng    *rand.Rand
	Train  bool // dropout, layer drop
	// ScaleM and ScaleU multiply the masked and unmasked cross-entropies
	// (0: 1): a data-parallel step's share of the means over every rank's
	// frames (StepInfo.GlobalScale).
	ScaleM, ScaleU float64
}

// LossOut holds the tensors (owned by the tape) and metrics of one
// forward pass.
type LossOut struct {
	Loss, LossM, LossU, FeatPen op.Tensor
	// CorrectM and CorrectU count, on the device, the masked and unmasked
	// frames whose cosine logits' arg-max equals the label (nil when there
	// are none); CountM and CountU are the frame counts.
	CorrectM, CorrectU op.Tensor
	CountM, CountU     int
}

// stats lists the one-element tensors a step reads (loss, penalty, the
// defined loss parts and accuracy counts), for one device sync.
func (o *LossOut) stats() []op.Tensor {
	s := []op.Tensor{o.Loss, o.FeatPen}
	for _, t := range []op.Tensor{o.LossM, o.LossU, o.CorrectM, o.CorrectU} {
		if t != nil {
			s = append(s, t)
		}
	}
	return s
}

// fill sets r's values from stats' values (in stats' order).
func (o *LossOut) fill(r *StepResult, vals []float64) {
	r.Loss, r.FeatPen = vals[0], vals[1]
	i := 2
	next := func(t op.Tensor) float64 {
		if t == nil {
			return 0
		}
		i++
		return vals[i-1]
	}
	r.LossM, r.LossU = next(o.LossM), next(o.LossU)
	r.CorrectM, r.CorrectU = int(next(o.CorrectM)), int(next(o.CorrectU))
	r.CountM, r.CountU = o.CountM, o.CountU
}

// T is the number of encoder frames for L samples.
func (m *Model) T(L int) int { return m.CNN.Config().Frames(L) }

// Features runs the CNN, the feature penalty, the layer norm and the
// projection: x (B x T x D) and the penalty (scalar).
func (m *Model) features(tp *op.Tape, wave op.Tensor, train bool) (x, pen op.Tensor) {
	f := m.CNN.Forward(tp, wave)
	f = tp.ScaleGrad(f, m.Cfg.CNNGradScale)
	pen = tp.Mean(tp.Mul(f, f))
	c := m.CNN.Config().Dim()
	x = tp.LayerNorm(f, m.lnw, m.lnb, c, 1e-5)
	x = tp.Linear(x, m.projW, m.projB)
	x = tp.Dropout(x, m.Cfg.ProjDropout, train)
	return x, pen
}

// Loss runs the model on b and returns the HuBERT loss
// CE(masked) + UnmaskedWeight·CE(unmasked) + FeaturePenalty·pen, each
// cross-entropy averaged over its frames (fairseq's loss summed over
// masked frames and normalized by their count). Tensors belong to tp;
// libtorch errors are raised for op.Catch.
func (m *Model) Loss(tp *op.Tape, b *Batch) *LossOut {
	tp.BF16 = m.BF16
	T := m.T(b.L)
	if T <= 0 || len(b.Labels) != b.B*T || len(b.Mask) != b.B*T || len(b.Wave) != b.B*b.L {
		op.Fail(fmt.Errorf("hubert: batch %d x %d samples gives %d frames but has %d labels and %d mask entries", b.B, b.L, T, len(b.Labels), len(b.Mask)))
	}
	dev := m.dev
	wave := tp.Float32(b.Wave, dev, int64(b.B), int64(b.L))
	x, pen := m.features(tp, wave, b.Train)
	mask := tp.Bool(b.Mask, dev, int64(b.B), int64(T), 1)
	x = tp.Where(mask, m.maskEmb, x)
	out := m.Enc.Forward(tp, x, tr.Options{Train: b.Train, Rng: b.Rng})
	// Cosine logits for every frame: (B·T x F) · (K x F)ᵀ / temp.
	y := tp.Linear(out.Final, m.finalW, m.finalB)
	y = tp.Reshape(y, -1, m.Cfg.FinalDim)
	logits := tp.Matmul(tp.L2Normalize(y, 1e-8), tp.Transpose(tp.L2Normalize(m.labelEmb, 1e-8), 0, 1))
	logits = tp.MulScalar(logits, 1/m.Cfg.LogitTemp)
	var mi, ui []int64
	var ml, ul []int64
	for i, v := range b.Mask {
		if v {
			mi = append(mi, int64(i))
			ml = append(ml, b.Labels[i])
		} else {
			ui = append(ui, int64(i))
			ul = append(ul, b.Labels[i])
		}
	}
	r := &LossOut{FeatPen: pen}
	loss := tp.MulScalar(pen, m.Cfg.FeaturePenalty)
	part := func(idx, lab []int64) (ce, correct op.Tensor) {
		it := tp.Int64(idx, dev, int64(len(idx)))
		lt := tp.Int64(lab, dev, int64(len(lab)))
		lg := tp.IndexSelect(logits, 0, it)
		return tp.CrossEntropy(lg, lt), tp.CountEqual(tp.Argmax(lg, 1), lt)
	}
	if len(mi) > 0 {
		r.LossM, r.CorrectM = part(mi, ml)
		r.CountM = len(mi)
		if b.ScaleM > 0 {
			loss = tp.Add(loss, tp.MulScalar(r.LossM, b.ScaleM))
		} else {
			loss = tp.Add(loss, r.LossM)
		}
	}
	if len(ui) > 0 {
		r.LossU, r.CorrectU = part(ui, ul)
		r.CountU = len(ui)
		if w := m.Cfg.UnmaskedWeight; w > 0 {
			if b.ScaleU > 0 {
				w *= b.ScaleU
			}
			loss = tp.Add(loss, tp.MulScalar(r.LossU, w))
		}
	}
	r.Loss = loss
	return r
}

// Layer returns the features of transformer block layer (1-based; 0 is the
// projected CNN features that enter the Transformer) for waveforms
// (B x L), without masking or dropout: B x T x D, owned by tp.
func (m *Model) Layer(tp *op.Tape, wave []float32, B, L, layer int) op.Tensor {
	if layer < 0 || layer > m.Cfg.Encoder.Layers {
		op.Fail(fmt.Errorf("hubert: layer %d outside [0, %d]", layer, m.Cfg.Encoder.Layers))
	}
	w := tp.Float32(wave, m.dev, int64(B), int64(L))
	x, _ := m.features(tp, w, false)
	if layer == 0 {
		return x
	}
	out := m.Enc.Forward(tp, x, tr.Options{Layers: layer, Keep: true})
	return out.Blocks[layer-1]
}
