package data2vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"

	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// Model is a data2vec student (front-end, Transformer encoder, regression
// head) and its EMA teacher (a copy of the encoder). Parameter names:
//
//	text:  embed.tokens.weight (V x D), embed.positions.weight (SeqLen x D),
//	       embed.layer_norm.{weight,bias}
//	image: patch_embed.proj.{weight,bias} (weight D x C·p·p: a Conv2d
//	       weight D x C x p x p flattened), pos_embed (N x D), mask_emb (D)
//	audio: feature_extractor.* (train/wavenc), layer_norm.{weight,bias},
//	       post_extract_proj.{weight,bias}, mask_emb (D)
//	all:   encoder.* (transformer.Encoder, torchaudio names),
//	       final_proj.{weight,bias} (1-layer head) or
//	       regression_head.{0,2}.{weight,bias} (2-layer head)
//	teacher: teacher.encoder.* (same shapes as encoder.*)
//
// A Model is used from one goroutine on one locked OS thread.
type Model struct {
	Cfg      ModelConfig
	Modality string
	// Params are the student's trainable parameters; Teacher the EMA
	// encoder (never trained by gradient).
	Params, Teacher *tr.Params
	Enc, TEnc       *tr.Encoder
	CNN             *wavenc.Encoder
	// BF16 runs matrix products in bfloat16 (CUDA only).
	BF16 bool
	dev  gotch.Device

	tokW, posW, elnW, elnB op.Tensor
	patchW, patchB         op.Tensor
	flnW, flnB             op.Tensor
	projW, projB           op.Tensor
	maskEmb                op.Tensor
	head                   [][2]op.Tensor
}

// NewModel builds a randomly initialized student (weights drawn from seed)
// and a teacher equal to its encoder, on dev.
func NewModel(modality string, cfg ModelConfig, seed uint64, dev gotch.Device) (m *Model, err error) {
	if err := cfg.Validate(modality); err != nil {
		return nil, err
	}
	if cfg.Encoder.Eps == 0 {
		cfg.Encoder.Eps = 1e-5
	}
	p := tr.NewParams(seed, dev)
	tp := tr.NewParams(seed^0x7eac, dev)
	m = &Model{Cfg: cfg, Modality: modality, Params: p, Teacher: tp, dev: dev}
	defer func() {
		if err != nil {
			m.Free()
		}
	}()
	if err := m.front(p); err != nil {
		return nil, err
	}
	if m.Enc, err = tr.New(p, "encoder.", cfg.Encoder); err != nil {
		return nil, err
	}
	if err := m.newHead(p); err != nil {
		return nil, err
	}
	if m.TEnc, err = tr.New(tp, "teacher.encoder.", cfg.Encoder); err != nil {
		return nil, err
	}
	if err := m.CopyTeacher(); err != nil {
		return nil, err
	}
	return m, nil
}

// Positions is the number of positions (tokens, patches or frames) the
// encoder sees for an input of n tokens or samples (images: fixed).
func (m *Model) Positions(n int) int {
	switch m.Modality {
	case "image":
		g := m.Cfg.ImageSize / m.Cfg.Patch
		return g * g
	case "audio":
		return m.Cfg.CNN.Frames(n)
	}
	return n
}

func (m *Model) front(p *tr.Params) (err error) {
	defer op.Catch(&err)
	c := m.Cfg
	d := c.Encoder.Dim
	switch m.Modality {
	case "text":
		if c.Vocab < 2 {
			return fmt.Errorf("data2vec: vocab %d (set it from the tokenizer)", c.Vocab)
		}
		v, L := int64(c.Vocab), int64(c.SeqLen)
		m.tokW = p.New("embed.tokens.weight", true, p.Normal(v*d, 0.02), v, d)
		m.posW = p.New("embed.positions.weight", true, p.Normal(L*d, 0.02), L, d)
		m.elnW = p.New("embed.layer_norm.weight", true, tr.Fill(d, 1), d)
		m.elnB = p.New("embed.layer_norm.bias", true, tr.Fill(d, 0), d)
	case "image":
		in := int64(c.Channels * c.Patch * c.Patch)
		n := int64(m.Positions(0))
		b := 1 / math.Sqrt(float64(in))
		m.patchW = p.New("patch_embed.proj.weight", false, p.Uniform(d*in, -b, b), d, in)
		m.patchB = p.New("patch_embed.proj.bias", true, p.Uniform(d, -b, b), d)
		m.posW = p.New("pos_embed", true, p.Normal(n*d, 0.02), n, d)
		m.maskEmb = p.New("mask_emb", true, p.Normal(d, 0.02), d)
	case "audio":
		if m.CNN, err = wavenc.New(p, "feature_extractor.", c.CNN); err != nil {
			return err
		}
		ch := c.CNN.Dim()
		m.flnW = p.New("layer_norm.weight", true, tr.Fill(ch, 1), ch)
		m.flnB = p.New("layer_norm.bias", true, tr.Fill(ch, 0), ch)
		b := 1 / math.Sqrt(float64(ch))
		m.projW = p.New("post_extract_proj.weight", false, p.Uniform(d*ch, -b, b), d, ch)
		m.projB = p.New("post_extract_proj.bias", true, p.Uniform(d, -b, b), d)
		m.maskEmb = p.New("mask_emb", true, p.Uniform(d, 0, 1), d)
	}
	return nil
}

func (m *Model) newHead(p *tr.Params) (err error) {
	defer op.Catch(&err)
	d := m.Cfg.Encoder.Dim
	lin := func(name string, in, out int64) [2]op.Tensor {
		b := 1 / math.Sqrt(float64(in))
		return [2]op.Tensor{
			p.New(name+".weight", false, p.Uniform(out*in, -b, b), out, in),
			p.New(name+".bias", true, p.Uniform(out, -b, b), out),
		}
	}
	if m.Cfg.HeadLayers == 1 {
		m.head = [][2]op.Tensor{lin("final_proj", d, d)}
	} else {
		m.head = [][2]op.Tensor{lin("regression_head.0", d, 2*d), lin("regression_head.2", 2*d, d)}
	}
	return nil
}

// Free releases all parameters.
func (m *Model) Free() {
	m.Params.Free()
	m.Teacher.Free()
}

// Device is where the model lives.
func (m *Model) Device() gotch.Device { return m.dev }

// studentName maps a teacher parameter to the student's.
func studentName(n string) string { return strings.TrimPrefix(n, "teacher.") }

// CopyTeacher sets the teacher's encoder to the student's.
func (m *Model) CopyTeacher() (err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	for _, q := range m.Teacher.List() {
		s := m.Params.Get(studentName(q.Name))
		if s == nil {
			return fmt.Errorf("data2vec: teacher parameter %s has no student counterpart", q.Name)
		}
		op.CopyInPlace(q.T, s.T)
		op.RequiresGrad(q.T, false)
	}
	return nil
}

// UpdateTeacher moves the teacher towards the student:
// teacher = tau·teacher + (1-tau)·student.
func (m *Model) UpdateTeacher(tau float64) (err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	var dst, src []op.Tensor
	for _, q := range m.Teacher.List() {
		dst = append(dst, q.T)
		src = append(src, m.Params.Get(studentName(q.Name)).T)
	}
	op.ForeachEMA(dst, src, tau)
	return nil
}

// Batch is one training batch. Positions are tokens (text), patches
// (image) or CNN frames (audio); T of them per example.
type Batch struct {
	B, T int
	// IDs are the original tokens (text, B x T); Input the student's
	// masked tokens (80% mask token, 10% random, 10% unchanged).
	IDs, Input []int64
	// Patches are flattened image patches, B x T x (C·p·p), channel-major
	// within a patch (the layout of a Conv2d weight).
	Patches []float32
	// Wave holds B x L audio samples.
	Wave []float32
	L    int
	// Mask marks the B x T positions the student does not see and the
	// loss is computed on.
	Mask  []bool
	Train bool       // dropout
	Rng   *rand.Rand // unused unless layer drop
	// Scale multiplies the loss (0: 1): a data-parallel step's share of
	// the mean over every rank's masked positions (StepInfo.GlobalScale).
	Scale float64
}

// embedText is the token + position embedding and its layer norm.
func (m *Model) embedText(tp *op.Tape, ids []int64, B, T int) op.Tensor {
	d := m.Cfg.Encoder.Dim
	it := tp.Int64(ids, m.dev, int64(B*T))
	x := tp.Reshape(tp.IndexSelect(m.tokW, 0, it), int64(B), int64(T), d)
	x = tp.Add(x, tp.Narrow(m.posW, 0, 0, int64(T)))
	return tp.LayerNorm(x, m.elnW, m.elnB, d, 1e-5)
}

// features returns the student's input (masked) and the teacher's input
// (the same front-end on the unmasked input), B x T x D each.
func (m *Model) features(tp *op.Tape, b *Batch) (student, teacher op.Tensor) {
	B, T := int64(b.B), int64(b.T)
	switch m.Modality {
	case "text":
		student = tp.Dropout(m.embedText(tp, b.Input, b.B, b.T), m.Cfg.Encoder.Dropout, b.Train)
		restore := op.NoGrad()
		teacher = m.embedText(tp, b.IDs, b.B, b.T)
		restore()
		return student, teacher
	case "image":
		in := int64(m.Cfg.Channels * m.Cfg.Patch * m.Cfg.Patch)
		x := tp.Linear(tp.Float32(b.Patches, m.dev, B, T, in), m.patchW, m.patchB)
		teacher = tp.Add(x, m.posW)
		mask := tp.Bool(b.Mask, m.dev, B, T, 1)
		student = tp.Add(tp.Where(mask, m.maskEmb, x), m.posW)
		return student, tp.Detach(teacher)
	default: // audio
		w := tp.Float32(b.Wave, m.dev, B, int64(b.L))
		f := m.CNN.Forward(tp, w)
		f = tp.ScaleGrad(f, m.Cfg.CNNGradScale)
		x := tp.LayerNorm(f, m.flnW, m.flnB, m.Cfg.CNN.Dim(), 1e-5)
		x = tp.Linear(x, m.projW, m.projB)
		teacher = tp.Detach(x)
		mask := tp.Bool(b.Mask, m.dev, B, T, 1)
		student = tp.Where(mask, m.maskEmb, x)
		return student, teacher
	}
}

// instanceNorm normalizes x (B x T x D) over T for each example and
// channel (torch.nn.functional.instance_norm, eps 1e-5, no affine).
func instanceNorm(tp *op.Tape, x op.Tensor) op.Tensor {
	c := tp.Sub(x, tp.MeanDims(x, true, 1))
	v := tp.MeanDims(tp.Mul(c, c), true, 1)
	return tp.Div(c, tp.Sqrt(tp.AddScalar(v, 1e-5)))
}

// layerNorm normalizes x over its last dimension d (no affine).
func layerNorm(tp *op.Tape, x op.Tensor, d int64) op.Tensor {
	return tp.LayerNorm(x, nil, nil, d, 1e-5)
}

// Targets runs the teacher on its input x (B x T x D, no gradient) and
// returns the data2vec targets: the mean of the top-K blocks' feed-forward
// outputs (before each block's last residual), each normalized first
// (TargetNorm), then optionally normalized again. Owned by tp.
func (m *Model) Targets(tp *op.Tape, x op.Tensor) op.Tensor {
	restore := op.NoGrad()
	defer restore()
	out := m.TEnc.Forward(tp, tp.Detach(x), tr.Options{Keep: true})
	return m.targetsFrom(tp, out.FFN)
}

func (m *Model) targetsFrom(tp *op.Tape, ffn []op.Tensor) op.Tensor {
	c := m.Cfg
	d := c.Encoder.Dim
	var sum op.Tensor
	for _, f := range ffn[len(ffn)-c.TopK:] {
		switch c.TargetNorm {
		case "instance":
			f = instanceNorm(tp, f)
		case "layer":
			f = layerNorm(tp, f, d)
		}
		if sum == nil {
			sum = f
		} else {
			sum = tp.Add(sum, f)
		}
	}
	y := tp.MulScalar(sum, 1/float64(c.TopK))
	if c.FinalLayerNorm {
		y = layerNorm(tp, y, d)
	}
	if c.FinalInstanceNorm {
		y = instanceNorm(tp, y)
	}
	return y
}

// regress is the regression head.
func (m *Model) regress(tp *op.Tape, x op.Tensor) op.Tensor {
	for i, l := range m.head {
		if i > 0 {
			x = tp.Gelu(x)
		}
		x = tp.Linear(x, l[0], l[1])
	}
	return x
}

// LossOut is one forward pass: tensors belong to the tape.
type LossOut struct {
	Loss op.Tensor
	// Pred and Target are the masked positions' predictions and targets
	// (N x D).
	Pred, Target op.Tensor
	Masked       int
}

func smoothL1Sum(tp *op.Tape, x, y op.Tensor, beta float64) op.Tensor {
	var out op.Tensor
	if beta == 0 {
		lib.AtgMseLoss(&out, x, y, 2)
	} else {
		lib.AtgSmoothL1Loss(&out, x, y, 2, beta)
	}
	return tp.Own(out)
}

// Loss runs student and teacher on b: the regression loss on the masked
// positions, Smooth L1 (beta LossBeta) or squared error summed over the
// target dimensions, times LossScale (0: 1/sqrt(D)), averaged over the
// masked positions (fairseq's sum divided by the sample size). libtorch
// errors are raised for op.Catch.
func (m *Model) Loss(tp *op.Tape, b *Batch) *LossOut {
	tp.BF16 = m.BF16
	if len(b.Mask) != b.B*b.T {
		op.Fail(fmt.Errorf("data2vec: batch %d x %d positions has %d mask entries", b.B, b.T, len(b.Mask)))
	}
	var idx []int64
	for i, v := range b.Mask {
		if v {
			idx = append(idx, int64(i))
		}
	}
	if len(idx) == 0 {
		op.Fail(fmt.Errorf("data2vec: batch has no masked position"))
	}
	xs, xt := m.features(tp, b)
	if s := op.Shape(xs); s[1] != int64(b.T) {
		op.Fail(fmt.Errorf("data2vec: front-end gives %d positions, batch says %d", s[1], b.T))
	}
	y := m.Targets(tp, xt)
	out := m.Enc.Forward(tp, xs, tr.Options{Train: b.Train, Rng: b.Rng})
	d := m.Cfg.Encoder.Dim
	it := tp.Int64(idx, m.dev, int64(len(idx)))
	h := tp.IndexSelect(tp.Reshape(out.Final, -1, d), 0, it)
	p := m.regress(tp, h)
	t := tp.IndexSelect(tp.Reshape(y, -1, d), 0, it)
	scale := m.Cfg.LossScale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(d))
	}
	if b.Scale > 0 {
		scale *= b.Scale
	}
	l := smoothL1Sum(tp, p, t, m.Cfg.LossBeta)
	return &LossOut{Loss: tp.MulScalar(l, scale/float64(len(idx))), Pred: p, Target: t, Masked: len(idx)}
}

// Variance is fairseq's compute_var: the mean over dimensions of the
// standard deviation over rows (unbiased, +1e-6 inside the root) of x
// (N x D). 0 for fewer than two rows.
func Variance(tp *op.Tape, x op.Tensor) float64 {
	v := varianceTensor(tp, x)
	if v == nil {
		return 0
	}
	return op.Scalar(v)
}

// varianceTensor is Variance left on the device (nil for fewer than two
// rows), so a step can read it with its other values in one sync.
func varianceTensor(tp *op.Tape, x op.Tensor) op.Tensor {
	restore := op.NoGrad()
	defer restore()
	n := op.Shape(x)[0]
	if n < 2 {
		return nil
	}
	x = tp.Detach(x)
	c := tp.Sub(x, tp.MeanDims(x, true, 0))
	v := tp.MulScalar(tp.SumDims(tp.Mul(c, c), false, 0), 1/float64(n-1))
	return tp.Mean(tp.Sqrt(tp.AddScalar(v, 1e-6)))
}

// Encode runs the student (or, with teacher, the teacher's encoder over
// the student's front-end) on unmasked input b without dropout and returns
// the output of block layer (1-based; 0 or out of range: the encoder's
// output; negative: the front end's embeddings, before the encoder),
// B x T x D, owned by tp.
func (m *Model) Encode(tp *op.Tape, b *Batch, teacher bool, layer int) op.Tensor {
	restore := op.NoGrad()
	defer restore()
	tp.BF16 = m.BF16
	nb := *b
	nb.Train = false
	nb.Input = nb.IDs
	nb.Mask = make([]bool, b.B*b.T)
	_, x := m.features(tp, &nb)
	enc := m.Enc
	if teacher {
		enc = m.TEnc
	}
	if layer < 0 {
		return x // the front end's output: token, patch or CNN embeddings before the encoder
	}
	if layer > 0 && layer < m.Cfg.Encoder.Layers {
		out := enc.Forward(tp, x, tr.Options{Layers: layer, Keep: true})
		return out.Blocks[layer-1]
	}
	return enc.Forward(tp, x, tr.Options{}).Final
}
