package data2vec2

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
	"github.com/sslpipe/sslpipe/train/wavenc"
)

// Model is a data2vec 2.0 student (front-end, Transformer encoder,
// convolutional decoder) and its EMA teacher. Parameter names:
//
//	text:  embed.tokens.weight (V x D), embed.positions.weight (SeqLen x D),
//	       embed.layer_norm.{weight,bias}
//	image: patch_embed.proj.{weight,bias} (weight D x C·p·p: a Conv2d
//	       weight flattened), cls_token (1 x D); the sin-cos position
//	       table is fixed and not a parameter
//	audio: feature_extractor.* (train/wavenc), layer_norm.{weight,bias},
//	       post_extract_proj.{weight,bias}, pos_conv.<i>.0.{weight,bias}
//	all:   encoder.* (transformer.Encoder), decoder.blocks.<i>.0.{weight,
//	       bias}, decoder.proj.{weight,bias} or decoder.proj.{0,2}.*
//	teacher: teacher.<name> for the averaged part: encoder.* (text),
//	       pos_conv.* and encoder.* (audio), patch_embed.*, cls_token and
//	       encoder.* (image), as fairseq's ema_encoder_only (text) and
//	       ema_local_encoder (image) choose
//
// Weight decay skips biases and 1-D parameters (fairseq's rule). A Model
// is used from one goroutine on one locked OS thread.
type Model struct {
	Cfg      ModelConfig
	Modality string
	// Params are the student's trainable parameters; Teacher the EMA
	// copies (never trained by gradient).
	Params, Teacher *nn.Params
	Enc, TEnc       *tr.Encoder
	CNN             *wavenc.Encoder
	// BF16 runs matrix products and convolutions in bfloat16 (CUDA).
	BF16 bool
	dev  gotch.Device

	tokW, posW, elnW, elnB op.Tensor // text
	patchW, patchB, cls    op.Tensor // image
	tPatchW, tPatchB, tCls op.Tensor
	pos                    op.Tensor // image: fixed T x D table (owned)
	flnW, flnB             op.Tensor // audio
	projW, projB           op.Tensor
	posConv, tPosConv      convStack
	dec                    convStack
	proj                   projection
}

// newParam adds a parameter with fairseq's decay rule.
func newParam(p *nn.Params, name string, vals []float32, dims ...int64) op.Tensor {
	return p.New(name, len(dims) == 1 || strings.HasSuffix(name, ".bias"), vals, dims...)
}

// Grid is the image patch grid side (0 for other modalities).
func (m *Model) Grid() int {
	if m.Modality != "image" {
		return 0
	}
	return m.Cfg.Image.ImageSize / m.Cfg.Image.Patch
}

// Positions is the number of positions the encoder sees for an input of n
// tokens or samples (images: the patch count, fixed).
func (m *Model) Positions(n int) int {
	switch m.Modality {
	case "image":
		return m.Grid() * m.Grid()
	case "audio":
		return m.Cfg.Audio.CNN.Frames(n)
	}
	return n
}

// NewModel builds a randomly initialized student (weights drawn from seed)
// and a teacher equal to its averaged part, on dev.
func NewModel(modality string, cfg ModelConfig, seed uint64, dev gotch.Device) (m *Model, err error) {
	if err := cfg.Validate(modality); err != nil {
		return nil, err
	}
	if cfg.Encoder.Eps == 0 {
		cfg.Encoder.Eps = 1e-5
	}
	p := nn.NewParams(seed, dev)
	tq := nn.NewParams(seed^0x7eac2, dev)
	m = &Model{Cfg: cfg, Modality: modality, Params: p, Teacher: tq, dev: dev}
	defer func() {
		if err != nil {
			m.Free()
		}
	}()
	defer op.Catch(&err)
	d := cfg.Encoder.Dim
	switch modality {
	case "text":
		v, l := int64(cfg.Text.Vocab), int64(cfg.Text.SeqLen)
		m.tokW = newParam(p, "embed.tokens.weight", p.Normal(v*d, 0.02), v, d)
		m.posW = newParam(p, "embed.positions.weight", p.Normal(l*d, 0.02), l, d)
		m.elnW = newParam(p, "embed.layer_norm.weight", nn.Fill(d, 1), d)
		m.elnB = newParam(p, "embed.layer_norm.bias", nn.Fill(d, 0), d)
	case "image":
		in := int64(cfg.Image.Channels * cfg.Image.Patch * cfg.Image.Patch)
		bw := math.Sqrt(6 / float64(in+d)) // Xavier-uniform on the flattened weight
		bb := 1 / math.Sqrt(float64(in))
		m.patchW = newParam(p, "patch_embed.proj.weight", p.Uniform(d*in, -bw, bw), d, in)
		m.patchB = newParam(p, "patch_embed.proj.bias", p.Uniform(d, -bb, bb), d)
		m.cls = newParam(p, "cls_token", p.Normal(d, 1), 1, d)
		m.tPatchW = newParam(tq, "teacher.patch_embed.proj.weight", make([]float32, d*in), d, in)
		m.tPatchB = newParam(tq, "teacher.patch_embed.proj.bias", make([]float32, d), d)
		m.tCls = newParam(tq, "teacher.cls_token", make([]float32, d), 1, d)
		g := m.Grid()
		if m.pos, err = op.FromFloat32(SinCos2D(g, g, int(d)), dev, int64(g*g), d); err != nil {
			return nil, err
		}
	case "audio":
		if m.CNN, err = wavenc.New(p, "feature_extractor.", cfg.Audio.CNN); err != nil {
			return nil, err
		}
		ch := cfg.Audio.CNN.Dim()
		m.flnW = newParam(p, "layer_norm.weight", nn.Fill(ch, 1), ch)
		m.flnB = newParam(p, "layer_norm.bias", nn.Fill(ch, 0), ch)
		b := 1 / math.Sqrt(float64(ch))
		m.projW = newParam(p, "post_extract_proj.weight", p.Uniform(d*ch, -b, b), d, ch)
		m.projB = newParam(p, "post_extract_proj.bias", p.Uniform(d, -b, b), d)
		pc := cfg.Audio.PosConv
		m.posConv = newConvStack(p, "pos_conv.", d, d, pc.Depth, pc.Kernel, pc.Groups, false, 0, 0)
		m.tPosConv = newConvStack(tq, "teacher.pos_conv.", d, d, pc.Depth, pc.Kernel, pc.Groups, false, 0, 0)
	}
	if m.Enc, err = tr.New(p, "encoder.", cfg.Encoder); err != nil {
		return nil, err
	}
	dc := cfg.decoder(modality)
	var rows int64
	if modality == "image" {
		rows = int64(m.Grid())
	}
	m.dec = newConvStack(p, "decoder.blocks.", d, dc.Dim, dc.Layers, dc.Kernel, dc.Groups, dc.Residual, rows, rows)
	m.proj = newProjection(p, "decoder.proj", dc.Dim, d, dc.ProjLayers, dc.ProjRatio)
	if m.TEnc, err = tr.New(tq, "teacher.encoder.", cfg.Encoder); err != nil {
		return nil, err
	}
	if err := m.CopyTeacher(); err != nil {
		return nil, err
	}
	return m, nil
}

// Free releases all parameters.
func (m *Model) Free() {
	m.Params.Free()
	m.Teacher.Free()
	op.Free(m.pos)
	m.pos = nil
}

// Device is where the model lives.
func (m *Model) Device() gotch.Device { return m.dev }

// studentName maps a teacher parameter to the student's.
func studentName(n string) string { return strings.TrimPrefix(n, "teacher.") }

// CopyTeacher sets the teacher to the student's averaged part.
func (m *Model) CopyTeacher() (err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	for _, q := range m.Teacher.List() {
		s := m.Params.Get(studentName(q.Name))
		if s == nil {
			return fmt.Errorf("data2vec2: teacher parameter %s has no student counterpart", q.Name)
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
