package data2vec2

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sslpipe/sslpipe/train/op"
	tr "github.com/sslpipe/sslpipe/train/transformer"
)

// Batch is one training batch of B samples, each seen by the student as
// Clones differently masked copies. Positions are tokens (text), patches
// (image) or CNN frames (audio); T of them per sample.
type Batch struct {
	B, Clones, T int
	// IDs are the tokens (text, B x T).
	IDs []int64
	// Patches are flattened image patches, B x T x (C·p·p), channel-major
	// within a patch (the layout of a Conv2d weight).
	Patches []float32
	// Wave holds B x L audio samples.
	Wave []float32
	L    int
	// Mask marks the positions the student does not see and the loss is
	// computed on, B·Clones x T, row b·Clones + c for clone c of sample b
	// (Masker.Batch). Every row masks the same number of positions, at
	// least one and fewer than T.
	Mask []bool
	// Train enables dropout (encoder, decoder input) and layer drop.
	Train bool
	// Rng draws layer-drop decisions (nil: none).
	Rng *rand.Rand
}

// layout is the index bookkeeping of one batch's masks: flat row indices
// into the sample-major B·T rows (src) or the clone-major B·Clones·T rows
// (pos).
type layout struct {
	bc, kept, masked int
	keptSrc, keptPos []int64 // B·C·K: kept positions, in position order per row
	maskedSrc        []int64 // B·C·M
	maskedPos        []int64
	restore          []int64 // B·C·T: row of Cat(kept rows, mask rows) for each position
	rowSample        []int64 // B·C: the sample of each row
	repeat           []int64 // B·C·T: b·T + t for each clone row position
	keepF            []float32
}

func newLayout(b *Batch) (*layout, error) {
	C, T := b.Clones, b.T
	if b.B < 1 || C < 1 || T < 2 {
		return nil, fmt.Errorf("data2vec2: batch of %d samples x %d clones x %d positions", b.B, C, T)
	}
	bc := b.B * C
	if len(b.Mask) != bc*T {
		return nil, fmt.Errorf("data2vec2: batch %d x %d clones x %d positions has %d mask entries", b.B, C, T, len(b.Mask))
	}
	l := &layout{bc: bc}
	for i := 0; i < T; i++ {
		if b.Mask[i] {
			l.masked++
		}
	}
	l.kept = T - l.masked
	if l.masked == 0 || l.kept == 0 {
		return nil, fmt.Errorf("data2vec2: masks must leave between 1 and %d of %d positions masked, got %d", T-1, T, l.masked)
	}
	l.restore = make([]int64, bc*T)
	l.keepF = make([]float32, bc*T)
	for r := range bc {
		s := r / C
		l.rowSample = append(l.rowSample, int64(s))
		k, mk := 0, 0
		for t := range T {
			i := r*T + t
			l.repeat = append(l.repeat, int64(s*T+t))
			if b.Mask[i] {
				l.maskedSrc = append(l.maskedSrc, int64(s*T+t))
				l.maskedPos = append(l.maskedPos, int64(i))
				l.restore[i] = int64(bc*l.kept + r*l.masked + mk)
				mk++
			} else {
				l.keptSrc = append(l.keptSrc, int64(s*T+t))
				l.keptPos = append(l.keptPos, int64(i))
				l.restore[i] = int64(r*l.kept + k)
				l.keepF[i] = 1
				k++
			}
		}
		if mk != l.masked {
			return nil, fmt.Errorf("data2vec2: mask row %d masks %d positions, row 0 %d: every row must mask the same number", r, mk, l.masked)
		}
	}
	return l, nil
}

// local is the front-end on the whole (unmasked) input: the "local
// features" B x T x D (image: patch embedding plus positions; audio: CNN,
// layer norm, projection; text: embeddings, layer norm, dropout).
func (m *Model) local(tp *op.Tape, b *Batch, train bool) op.Tensor {
	B, T := int64(b.B), int64(b.T)
	d := m.Cfg.Encoder.Dim
	switch m.Modality {
	case "text":
		if len(b.IDs) != b.B*b.T {
			op.Fail(fmt.Errorf("data2vec2: %d token ids for %d x %d", len(b.IDs), b.B, b.T))
		}
		if b.T > m.Cfg.Text.SeqLen {
			op.Fail(fmt.Errorf("data2vec2: %d tokens exceed seq_len %d", b.T, m.Cfg.Text.SeqLen))
		}
		it := tp.Int64(b.IDs, m.dev, B*T)
		x := tp.Reshape(tp.IndexSelect(m.tokW, 0, it), B, T, d)
		x = tp.Add(x, tp.Narrow(m.posW, 0, 0, T))
		x = tp.LayerNorm(x, m.elnW, m.elnB, d, 1e-5)
		return tp.Dropout(x, m.Cfg.Encoder.Dropout, train)
	case "image":
		return m.patchEmbed(tp, b, m.patchW, m.patchB)
	default:
		if len(b.Wave) != b.B*b.L || b.L < 1 {
			op.Fail(fmt.Errorf("data2vec2: %d samples for %d waves of %d", len(b.Wave), b.B, b.L))
		}
		f := m.CNN.Forward(tp, tp.Float32(b.Wave, m.dev, B, int64(b.L)))
		if s := op.Shape(f); s[1] != T {
			op.Fail(fmt.Errorf("data2vec2: the CNN gives %d frames, batch says %d", s[1], T))
		}
		x := tp.LayerNorm(f, m.flnW, m.flnB, m.Cfg.Audio.CNN.Dim(), 1e-5)
		return tp.Linear(x, m.projW, m.projB)
	}
}

func (m *Model) patchEmbed(tp *op.Tape, b *Batch, w, bias op.Tensor) op.Tensor {
	in := int64(m.Cfg.Image.Channels * m.Cfg.Image.Patch * m.Cfg.Image.Patch)
	n := int64(m.Grid() * m.Grid())
	if b.T != int(n) || len(b.Patches) != b.B*b.T*int(in) {
		op.Fail(fmt.Errorf("data2vec2: %d patch values for %d images of %d patches of %d", len(b.Patches), b.B, n, in))
	}
	x := tp.Linear(tp.Float32(b.Patches, m.dev, int64(b.B), n, in), w, bias)
	return tp.Add(x, m.pos)
}

// prependCLS puts cls (1 x D) in front of each row of x (N x T x D).
func (m *Model) prependCLS(tp *op.Tape, x, cls op.Tensor) op.Tensor {
	s := op.Shape(x)
	zero := tp.Int64(make([]int64, s[0]), m.dev, s[0])
	c := tp.Reshape(tp.IndexSelect(cls, 0, zero), s[0], 1, s[2])
	return tp.Cat([]op.Tensor{c, x}, 1)
}

// teacherInput is what the teacher's encoder reads for the unmasked
// samples (B x T' x D; image: CLS first).
func (m *Model) teacherInput(tp *op.Tape, b *Batch, local op.Tensor) op.Tensor {
	switch m.Modality {
	case "image":
		x := m.patchEmbed(tp, b, m.tPatchW, m.tPatchB)
		return m.prependCLS(tp, x, m.tCls)
	case "audio":
		x := tp.Detach(local)
		return tp.Add(x, m.tPosConv.forward(tp, x))
	}
	return tp.Detach(local)
}

// Targets runs the teacher once per sample of b and returns the targets
// (B x T x D): the mean of the top-K blocks' feed-forward outputs (before
// each block's last residual), each normalized by TargetNorm first, then
// layer-normalized when FinalLayerNorm. Owned by tp.
func (m *Model) Targets(tp *op.Tape, b *Batch) op.Tensor {
	restore := op.NoGrad()
	defer restore()
	tp.BF16 = m.BF16
	return m.targets(tp, b, m.local(tp, b, false))
}

func (m *Model) targets(tp *op.Tape, b *Batch, local op.Tensor) op.Tensor {
	restore := op.NoGrad()
	defer restore()
	out := m.TEnc.Forward(tp, m.teacherInput(tp, b, local), tr.Options{Keep: true})
	c := m.Cfg
	d := c.Encoder.Dim
	var sum op.Tensor
	for _, f := range out.FFN[len(out.FFN)-c.TopK:] {
		if m.Modality == "image" {
			f = tp.Narrow(f, 1, 1, int64(b.T))
		}
		switch c.TargetNorm {
		case "instance":
			f = instanceNorm(tp, f)
		case "layer":
			f = tp.LayerNorm(f, nil, nil, d, 1e-5)
		}
		if sum == nil {
			sum = f
		} else {
			sum = tp.Add(sum, f)
		}
	}
	y := tp.MulScalar(sum, 1/float64(c.TopK))
	if c.FinalLayerNorm {
		y = tp.LayerNorm(y, nil, nil, d, 1e-5)
	}
	return y
}

// instanceNorm normalizes x (B x T x D) over T for each example and
// channel (torch.nn.functional.instance_norm, eps 1e-5, no affine).
func instanceNorm(tp *op.Tape, x op.Tensor) op.Tensor {
	c := tp.Sub(x, tp.MeanDims(x, true, 1))
	v := tp.MeanDims(tp.Mul(c, c), true, 1)
	return tp.Div(c, tp.Sqrt(tp.AddScalar(v, 1e-5)))
}

// LossOut is one forward pass; tensors belong to the tape.
type LossOut struct {
	// Loss is Reg + Cls.
	Loss, Reg, Cls op.Tensor
	// Pred and Target are the masked positions' predictions and targets
	// (B·Clones·Masked x D, row-major by student row then position).
	Pred, Target op.Tensor
	// Targets are the teacher's targets per sample (B x T x D).
	Targets op.Tensor
	// Masked is the number of masked positions per row.
	Masked int
}

// Loss runs the teacher on the unmasked samples and the student on their
// masked copies and returns the data2vec 2.0 loss:
//
//	Reg = s · Σ_masked Σ_d (pred - y)² / N
//	Cls = ClsLoss · s · Σ_rows Σ_d (cls - mean_t y)²   (images)
//
// with s = LossScale (0: 1/√D) and N the number of masked positions of
// the batch: fairseq's summed losses divided by its sample size N (the CLS
// term is multiplied by N before, so it is summed over the B·Clones rows,
// not averaged). libtorch errors are raised for op.Catch.
func (m *Model) Loss(tp *op.Tape, b *Batch) *LossOut {
	tp.BF16 = m.BF16
	l, err := newLayout(b)
	if err != nil {
		op.Fail(err)
	}
	c := m.Cfg
	dc := c.decoder(m.Modality)
	d := c.Encoder.Dim
	bc, K, M, T := int64(l.bc), int64(l.kept), int64(l.masked), int64(b.T)
	local := m.local(tp, b, b.Train)
	y := m.targets(tp, b, local)

	// The student's input: the kept positions of each clone.
	var xs op.Tensor
	switch m.Modality {
	case "audio":
		// Positions are computed on the whole clone with its masked frames
		// zeroed, then added at the kept frames (fairseq's relative
		// positional encoder with encoder_zero_mask).
		xr := tp.Reshape(tp.IndexSelect(tp.Reshape(local, -1, d), 0, tp.Int64(l.repeat, m.dev, bc*T)), bc, T, d)
		keep := tp.Float32(l.keepF, m.dev, bc, T, 1)
		xp := tp.Add(xr, m.posConv.forward(tp, tp.Mul(xr, keep)))
		xs = tp.IndexSelect(tp.Reshape(xp, -1, d), 0, tp.Int64(l.keptPos, m.dev, bc*K))
	default:
		xs = tp.IndexSelect(tp.Reshape(local, -1, d), 0, tp.Int64(l.keptSrc, m.dev, bc*K))
	}
	xs = tp.Reshape(xs, bc, K, d)
	if m.Modality == "image" {
		xs = m.prependCLS(tp, xs, m.cls)
	}
	h := m.Enc.Forward(tp, xs, tr.Options{Train: b.Train, Rng: b.Rng}).Final

	// The decoder sees every position: the encoder's outputs at the kept
	// ones, noise (or zeros) at the masked ones.
	hk := h
	if m.Modality == "image" {
		hk = tp.Narrow(h, 1, 1, K)
	}
	hk = tp.Dropout(tp.Reshape(hk, bc*K, d), dc.InputDropout, b.Train)
	var fill op.Tensor
	if c.MaskNoiseStd > 0 {
		fill = tp.Randn(c.MaskNoiseStd, m.dev, bc*M, d)
	} else {
		fill = tp.Zeros(m.dev, bc*M, d)
	}
	full := tp.IndexSelect(tp.Cat([]op.Tensor{hk, fill}, 0), 0, tp.Int64(l.restore, m.dev, bc*T))
	dec := m.dec.forward(tp, tp.Reshape(full, bc, T, d))
	// The projection is position-wise: apply it at the masked positions only.
	dm := tp.IndexSelect(tp.Reshape(dec, bc*T, dc.Dim), 0, tp.Int64(l.maskedPos, m.dev, bc*M))
	pred := m.proj.forward(tp, dm)
	tgt := tp.IndexSelect(tp.Reshape(y, -1, d), 0, tp.Int64(l.maskedSrc, m.dev, bc*M))

	scale := c.LossScale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(d))
	}
	diff := tp.Sub(pred, tgt)
	reg := tp.MulScalar(tp.Sum(tp.Mul(diff, diff)), scale/float64(bc*M))
	out := &LossOut{Loss: reg, Reg: reg, Pred: pred, Target: tgt, Targets: y, Masked: l.masked}
	if m.Modality == "image" && c.Image.ClsLoss > 0 {
		cp := tp.Reshape(tp.Narrow(h, 1, 0, 1), bc, d)
		ct := tp.IndexSelect(tp.MeanDims(y, false, 1), 0, tp.Int64(l.rowSample, m.dev, bc))
		cd := tp.Sub(cp, ct)
		out.Cls = tp.MulScalar(tp.Sum(tp.Mul(cd, cd)), c.Image.ClsLoss*scale)
		out.Loss = tp.Add(reg, out.Cls)
	}
	return out
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
// rows).
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

// Encode runs the student's (or the teacher's) front-end and encoder on
// the unmasked samples of b (Mask and Clones are ignored) without dropout
// and returns the output of block layer (1-based; 0 or out of range: the
// encoder's output; negative: the front-end's output before the encoder),
// B x T x D without the image CLS position, owned by tp. This is the
// encoder a probe evaluates.
func (m *Model) Encode(tp *op.Tape, b *Batch, teacher bool, layer int) op.Tensor {
	restore := op.NoGrad()
	defer restore()
	tp.BF16 = m.BF16
	local := m.local(tp, b, false)
	var x op.Tensor
	enc := m.Enc
	switch {
	case teacher:
		x, enc = m.teacherInput(tp, b, local), m.TEnc
	case m.Modality == "image":
		x = m.prependCLS(tp, local, m.cls)
	case m.Modality == "audio":
		x = tp.Add(local, m.posConv.forward(tp, local))
	default:
		x = local
	}
	strip := func(x op.Tensor) op.Tensor {
		if m.Modality == "image" {
			return tp.Narrow(x, 1, 1, int64(b.T))
		}
		return x
	}
	if layer < 0 {
		return strip(x)
	}
	if layer > 0 && layer < m.Cfg.Encoder.Layers {
		out := enc.Forward(tp, x, tr.Options{Layers: layer, Keep: true})
		return strip(out.Blocks[layer-1])
	}
	return strip(enc.Forward(tp, x, tr.Options{}).Final)
}
