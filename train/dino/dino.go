package dino

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/internal/sslkit"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Config holds DINO's own hyperparameters.
type Config struct {
	OutDim     int64 `yaml:"out_dim" json:"out_dim"`         // prototypes K (65536 for ImageNet)
	HiddenDim  int64 `yaml:"hidden_dim" json:"hidden_dim"`   // head MLP width (2048)
	Bottleneck int64 `yaml:"bottleneck" json:"bottleneck"`   // head output before the last layer (256)
	HeadLayers int   `yaml:"head_layers" json:"head_layers"` // MLP layers (3)
	// NormLastLayer fixes the last layer's weight-norm g to 1 (true in
	// DINO's ViT-S recipe); false trains g.
	NormLastLayer bool    `yaml:"norm_last_layer" json:"norm_last_layer"`
	StudentTemp   float64 `yaml:"student_temp" json:"student_temp"` // 0.1
	// TeacherTemp is reached after WarmupTeacherTempEpochs epochs of a
	// linear warm-up from WarmupTeacherTemp (0.04 -> 0.07 over 30).
	// Epochs may be fractional (short runs scale them).
	TeacherTemp             float64 `yaml:"teacher_temp" json:"teacher_temp"`
	WarmupTeacherTemp       float64 `yaml:"warmup_teacher_temp" json:"warmup_teacher_temp"`
	WarmupTeacherTempEpochs float64 `yaml:"warmup_teacher_temp_epochs" json:"warmup_teacher_temp_epochs"`
	CenterMomentum          float64 `yaml:"center_momentum" json:"center_momentum"` // 0.9
	// FreezeLastLayerEpochs keeps the last layer fixed for that many
	// epochs (1; may be fractional).
	FreezeLastLayerEpochs float64 `yaml:"freeze_last_layer" json:"freeze_last_layer"`
	// ClipGrad clips each parameter's gradient norm at this value (3.0;
	// 0: off).
	ClipGrad float64 `yaml:"clip_grad" json:"clip_grad"`
}

// DefaultConfig is DINO's ViT-S/16 recipe (main_dino.py defaults and the
// README's command) with ImageNet's 65536 prototypes; CPU presets lower
// OutDim and HiddenDim.
func DefaultConfig() Config {
	return Config{OutDim: 65536, HiddenDim: 2048, Bottleneck: 256, HeadLayers: 3, NormLastLayer: true,
		StudentTemp: 0.1, TeacherTemp: 0.07, WarmupTeacherTemp: 0.04, WarmupTeacherTempEpochs: 30,
		CenterMomentum: 0.9, FreezeLastLayerEpochs: 1, ClipGrad: 3}
}

// Validate checks ranges.
func (c Config) Validate() error {
	switch {
	case c.OutDim <= 0 || c.HiddenDim <= 0 || c.Bottleneck <= 0 || c.HeadLayers < 1:
		return fmt.Errorf("dino: out_dim %d, hidden_dim %d, bottleneck %d and head_layers %d must be > 0", c.OutDim, c.HiddenDim, c.Bottleneck, c.HeadLayers)
	case !(c.StudentTemp > 0) || !(c.TeacherTemp > 0) || !(c.WarmupTeacherTemp > 0):
		return fmt.Errorf("dino: temperatures (student %v, teacher %v, warm-up %v) must be > 0", c.StudentTemp, c.TeacherTemp, c.WarmupTeacherTemp)
	case c.CenterMomentum < 0 || c.CenterMomentum >= 1 || c.ClipGrad < 0 || c.WarmupTeacherTempEpochs < 0 || c.FreezeLastLayerEpochs < 0:
		return fmt.Errorf("dino: center_momentum %v must be in [0, 1); clip_grad %v, warm-up and freeze epochs >= 0", c.CenterMomentum, c.ClipGrad)
	}
	return nil
}

// TeacherTempAt is the teacher temperature after epochs epochs of
// training (fractional: step / steps per epoch): a linear ramp from
// WarmupTeacherTemp to TeacherTemp over WarmupTeacherTempEpochs, then
// TeacherTemp. DINO's reference steps the value once per epoch
// (np.linspace over the warm-up epochs, reaching TeacherTemp at the start
// of the last warm-up epoch); the per-step ramp covers the same span and
// also serves warm-ups shorter than an epoch.
func (c Config) TeacherTempAt(epochs float64) float64 {
	w := c.WarmupTeacherTempEpochs
	if w <= 0 || epochs >= w {
		return c.TeacherTemp
	}
	return c.WarmupTeacherTemp + (c.TeacherTemp-c.WarmupTeacherTemp)*max(epochs, 0)/w
}

// Head is DINO's projection head: an MLP (Linear-GELU layers to the
// bottleneck), L2 normalization, and a weight-normalized linear layer
// without bias (weight = g·v/‖v‖ per output row). Tensors: mlp.<i>.*,
// last_layer.weight_v and last_layer.weight_g (a buffer of ones when the
// norm is fixed).
type Head struct {
	mlp  *sslkit.MLP
	v, g op.Tensor
}

// NewHead adds a head for in-dimensional features to p under prefix
// (e.g. "head"): the MLP with DINO's initialization (truncated N(0,
// 0.02²), zero biases), the last layer's v with PyTorch's Linear default
// and g = 1.
func NewHead(p *nn.Params, prefix string, in int64, c Config) *Head {
	dims := []int64{in}
	for range c.HeadLayers - 1 {
		dims = append(dims, c.HiddenDim)
	}
	dims = append(dims, c.Bottleneck)
	h := &Head{mlp: sslkit.NewMLP(p, prefix+".mlp", sslkit.MLPSpec{Dims: dims, Bias: true, LastBias: true, GELU: true, TruncNormal: true})}
	h.v = p.New(prefix+".last_layer.weight_v", false, p.Symmetric(c.OutDim*c.Bottleneck, 1/math.Sqrt(float64(c.Bottleneck))), c.OutDim, c.Bottleneck)
	if c.NormLastLayer {
		h.g = p.NewBuffer(prefix+".last_layer.weight_g", nn.Fill(c.OutDim, 1), c.OutDim, 1)
	} else {
		h.g = p.New(prefix+".last_layer.weight_g", false, nn.Fill(c.OutDim, 1), c.OutDim, 1)
	}
	return h
}

// Forward maps features (B x in) to B x OutDim logits.
func (h *Head) Forward(tp *op.Tape, x op.Tensor, train bool) op.Tensor {
	return h.last(tp, h.mlp.Forward(tp, x, train))
}

// Embed is Forward(bb.Forward(x)), with the pooling of a grid backbone
// folded into the head's first Linear for crops smaller than the grid
// (sslkit.Embed).
func (h *Head) Embed(tp *op.Tape, bb nn.Backbone, x op.Tensor, train bool) op.Tensor {
	return h.last(tp, sslkit.Embed(tp, bb, h.mlp, x, train))
}

// last is the weight-normalised last layer on the MLP's output.
func (h *Head) last(tp *op.Tape, y op.Tensor) op.Tensor {
	z := tp.L2Normalize(y, 1e-12)
	norm := tp.Sqrt(tp.SumDims(tp.Mul(h.v, h.v), true, 1))
	return tp.Linear(z, tp.Mul(h.v, tp.Div(h.g, norm)), nil)
}

// IsLastLayer reports whether a parameter is the head's last layer (the
// one frozen during the first epochs).
func IsLastLayer(name string) bool { return strings.Contains(name, "last_layer") }

// BackboneFunc builds a backbone's tensors into p (named "backbone.*");
// teacher is set for the teacher's copy, which should have no stochastic
// depth (DINO's teacher ViT has drop_path_rate 0).
type BackboneFunc func(p *nn.Params, teacher bool) (nn.Backbone, error)

// Model is the student and the teacher (same architecture; the teacher
// starts as a copy of the student) and the center.
type Model struct {
	Cfg                              Config
	Student, Teacher                 *nn.Params
	StudentBackbone, TeacherBackbone nn.Backbone
	StudentHead, TeacherHead         *Head
	// Center is the running center of the teacher outputs (1 x OutDim).
	Center op.Tensor
	// MeanAcrossRanks, when set, averages a tensor over data-parallel
	// ranks (all_reduce / world size), as DINO's center update does.
	MeanAcrossRanks func(tp *op.Tape, x op.Tensor) op.Tensor
	// Reduce, when set, averages gradients across ranks between backward
	// and clipping (train.StepInfo.Reduce).
	Reduce func(grads []op.Tensor) error
	// BF16 runs matrix products and convolutions in bfloat16 (CUDA
	// autocast, op.Tape.BF16).
	BF16 bool
}

// New builds the student and teacher on dev from seed (backbone tensors
// from newBackbone, head tensors under "head."), copies the student into
// the teacher and sets the center to 0.
func New(newBackbone BackboneFunc, cfg Config, seed uint64, dev gotch.Device) (m *Model, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m = &Model{Cfg: cfg, Student: sslkit.NewParams(seed, dev), Teacher: sslkit.NewParams(seed, dev)}
	defer func() {
		if err != nil {
			m.Free()
			m = nil
		}
	}()
	if m.StudentBackbone, err = newBackbone(m.Student, false); err != nil {
		return nil, err
	}
	if m.TeacherBackbone, err = newBackbone(m.Teacher, true); err != nil {
		return nil, err
	}
	defer op.Catch(&err)
	m.StudentHead = NewHead(m.Student, "head", m.StudentBackbone.Dim(), cfg)
	m.TeacherHead = NewHead(m.Teacher, "head", m.TeacherBackbone.Dim(), cfg)
	if err := m.SyncTeacher(); err != nil {
		return nil, err
	}
	if m.Center, err = op.FromFloat32(nn.Fill(cfg.OutDim, 0), dev, 1, cfg.OutDim); err != nil {
		return nil, err
	}
	return m, nil
}

// SyncTeacher copies every student tensor into the teacher.
func (m *Model) SyncTeacher() error {
	st, err := m.Student.Tensors("")
	if err != nil {
		return err
	}
	return m.Teacher.Load("student", st, "")
}

// Free releases the student, the teacher and the center.
func (m *Model) Free() {
	m.Student.Free()
	m.Teacher.Free()
	op.Free(m.Center)
	m.Center = nil
}

// studentForward runs the student on every view: consecutive views of
// one size go through the backbone together (DINO's MultiCropWrapper, so
// BatchNorm sees all crops of a size at once), then the head (which has
// no BatchNorm, so running it per size is running it on all features).
// Rows are view-major (view 0's batch first).
func (m *Model) studentForward(tp *op.Tape, views []op.Tensor) op.Tensor {
	var outs []op.Tensor
	for i := 0; i < len(views); {
		j := i + 1
		s := op.Shape(views[i])
		for j < len(views) {
			t := op.Shape(views[j])
			if t[2] != s[2] || t[3] != s[3] {
				break
			}
			j++
		}
		x := views[i]
		if j-i > 1 {
			x = tp.Cat(views[i:j], 0)
		}
		outs = append(outs, m.StudentHead.Embed(tp, m.StudentBackbone, x, true))
		i = j
	}
	if len(outs) == 1 {
		return outs[0]
	}
	return tp.Cat(outs, 0)
}

// TeacherForward is the teacher's output (2B x OutDim) for the two
// global crops, without gradient. The teacher's BatchNorm layers (ResNet
// backbones) use batch statistics, as DINO runs its teacher in training
// mode.
func (m *Model) TeacherForward(tp *op.Tape, g1, g2 op.Tensor) op.Tensor {
	restore := op.NoGrad()
	defer restore()
	return m.TeacherHead.Forward(tp, m.TeacherBackbone.Forward(tp, tp.Cat([]op.Tensor{g1, g2}, 0), true), true)
}

// Loss is DINO's multi-crop loss. student holds V crops' logits
// (V·B x K, view-major), teacher the two global crops' (2B x K, the
// student's first two views); with P_t = softmax((teacher - center)/tT)
// (no gradient) and log P_s = log_softmax(student/tS), it is the mean over
// the 2V-2 pairs (global crop i, crop v ≠ i) of the batch mean of
// -Σ_k P_t log P_s. It also returns the mean entropy of P_t (a collapse
// monitor: log K when uniform, 0 when one-hot).
func Loss(tp *op.Tape, student, teacher, center op.Tensor, views int, studentTemp, teacherTemp float64) (loss, entropy op.Tensor) {
	s := op.Shape(student)
	K := s[1]
	B := s[0] / int64(views)
	if views < 2 || B*int64(views) != s[0] || !equal(op.Shape(teacher), []int64{2 * B, K}) {
		op.Fail(fmt.Errorf("dino: loss: student %v for %d views, teacher %v", s, views, op.Shape(teacher)))
	}
	logS := tp.LogSoftmax(tp.MulScalar(student, 1/studentTemp), -1)
	tl := tp.Detach(tp.MulScalar(tp.Sub(teacher, center), 1/teacherTemp))
	pt := tp.Softmax(tl, -1)
	// cross[i][v] = Σ_{b,k} P_t[i,b,k]·log P_s[v,b,k]: one product for all pairs.
	cross := tp.Matmul(tp.Reshape(pt, 2, B*K), tp.Transpose(tp.Reshape(logS, int64(views), B*K), 0, 1))
	off := nn.Fill(2*int64(views), 1)
	off[0], off[int64(views)+1] = 0, 0 // the pairs (0, 0) and (1, 1)
	mask := tp.Float32(off, op.DeviceOf(student), 2, int64(views))
	loss = tp.MulScalar(tp.Sum(tp.Mul(cross, mask)), -1/float64(B*int64(2*views-2)))
	restore := op.NoGrad()
	defer restore()
	ent := tp.SumDims(tp.Mul(pt, tp.LogSoftmax(tl, -1)), false, 1)
	entropy = tp.MulScalar(tp.Mean(ent), -1)
	return loss, entropy
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// UpdateCenter moves the center towards the teacher's batch mean:
// C = m·C + (1-m)·mean(teacher) (averaged over ranks when
// MeanAcrossRanks is set). Runs without gradient.
func (m *Model) UpdateCenter(tp *op.Tape, teacher op.Tensor) {
	restore := op.NoGrad()
	defer restore()
	bc := tp.MeanDims(teacher, true, 0)
	if m.MeanAcrossRanks != nil {
		bc = m.MeanAcrossRanks(tp, bc)
	}
	op.MulScalarInPlace(m.Center, m.Cfg.CenterMomentum)
	op.AddInPlace(m.Center, tp.MulScalar(bc, 1-m.Cfg.CenterMomentum))
}

// Schedule is the per-step values of DINO's schedules.
type Schedule struct {
	LR float64
	// WeightDecay applies to weights (not biases or normalization
	// parameters); DINO raises it along a cosine from 0.04 to 0.4.
	WeightDecay float64
	// Momentum is the teacher's EMA decay after the step (cosine 0.996
	// -> 1).
	Momentum    float64
	TeacherTemp float64 // Config.TeacherTempAt(epoch)
	// FreezeLastLayer drops the last layer's gradients (epoch <
	// Config.FreezeLastLayerEpochs).
	FreezeLastLayer bool
}

// Stats of one step.
type Stats struct {
	Loss           float64
	TeacherEntropy float64 // mean entropy of the teacher's distributions
	GradNorm       float64 // global gradient norm before clipping (after averaging across ranks)
	// Skipped reports a non-finite gradient norm: nothing was updated
	// (not the teacher nor the center).
	Skipped bool
}

// ClipPerParam scales each gradient whose norm exceeds clip to norm clip
// (factor clip/(norm+1e-6), DINO's utils.clip_gradients), on the device
// without a host synchronization. Nil gradients are skipped.
func ClipPerParam(tp *op.Tape, grads []op.Tensor, clip float64) {
	for _, g := range grads {
		if g == nil {
			continue
		}
		d := tp.ClampMin(tp.AddScalar(tp.Sqrt(tp.Sum(tp.Mul(g, g))), 1e-6), clip)
		// clip/max(norm+1e-6, clip): exactly 1 unless the norm exceeds clip.
		op.MulInPlace(g, tp.Div(tp.AddScalar(tp.ZerosLike(d), clip), d))
	}
}

// Step runs one training step on views (2 global crops then the local
// crops, each B x C x H x W, caller-owned; views of one size consecutive):
// teacher on the globals, student on all, the loss with the current
// center, then the center update, backward, per-parameter clipping, the
// last layer's gradients dropped while frozen, one update by opt with the
// scheduled learning rate and weight decay, and the teacher's EMA.
//
// opt is AdamW (DINO's ViT recipe), SGD or LARS. The step sets opt's
// weight decay to the scheduled value (nn.Optimizer.SetWeightDecay; it
// stays set after the step): build opt with ExcludeBiasNorm so that, as
// in DINO's regularized group, biases and normalization parameters are
// not decayed (LARS always exempts them).
func (m *Model) Step(opt *nn.Optimizer, views []op.Tensor, s Schedule) (st Stats, err error) {
	if len(views) < 2 {
		return st, fmt.Errorf("dino: step: %d views, want 2 global crops and any local ones", len(views))
	}
	defer op.Catch(&err)
	var tp op.Tape
	tp.BF16 = m.BF16
	defer tp.Drop()
	teacher := m.TeacherForward(&tp, views[0], views[1])
	student := m.studentForward(&tp, views)
	loss, ent := Loss(&tp, student, teacher, m.Center, len(views), m.Cfg.StudentTemp, s.TeacherTemp)
	params := m.Student.Trainable()
	grads, norm, vals, _ := nn.Backward(&tp, params, loss, loss, ent)
	restore := op.NoGrad()
	defer restore()
	norm = sslkit.ReduceGrads(&tp, grads, m.Reduce, norm)
	st = Stats{Loss: vals[0], TeacherEntropy: vals[1], GradNorm: norm, Skipped: !op.Finite(norm)}
	if st.Skipped {
		return st, nil
	}
	m.UpdateCenter(&tp, teacher)
	if m.Cfg.ClipGrad > 0 {
		ClipPerParam(&tp, grads, m.Cfg.ClipGrad)
	}
	if s.FreezeLastLayer {
		for i, p := range params {
			if IsLastLayer(p.Name) {
				grads[i] = nil
			}
		}
	}
	opt.SetWeightDecay(s.WeightDecay)
	opt.Step(&tp, params, grads, s.LR)
	if err := nn.EMA(&tp, m.Teacher, m.Student, s.Momentum); err != nil {
		return st, err
	}
	return st, nil
}
