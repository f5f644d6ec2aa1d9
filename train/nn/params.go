package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// Param is one named tensor of a Params: a trainable parameter or a
// buffer (BatchNorm running statistics), which no optimizer touches.
type Param struct {
	Name  string
	Shape []int64
	// Buffer marks a tensor that is state but not trained.
	Buffer bool
	// NoDecay marks biases, normalization weights and embeddings that
	// weight decay skips (when the optimizer is told to) and LARS does
	// not adapt.
	NoDecay bool
	T       op.Tensor
}

// Params is an ordered set of named tensors on one device. Model
// constructors add to it; initial values come from a Go RNG seeded by the
// caller, so the same seed gives the same weights on any device. Not safe
// for concurrent use.
type Params struct {
	list   []*Param
	byName map[string]*Param
	dev    gotch.Device
	rng    *rand.Rand
}

// Streams of the initializer RNG: DefaultStream is the Transformer models'
// (HuBERT, data2vec), ConvStream the image backbones' (BYOL's ResNet and
// ConvNet since their first release; kept so their initial weights do not
// change).
const (
	DefaultStream uint64 = 0x7f4a7c15
	ConvStream    uint64 = 0x5eed
)

// NewParams returns an empty set whose initializers draw from seed
// (DefaultStream).
func NewParams(seed uint64, dev gotch.Device) *Params {
	return NewParamsStream(seed, DefaultStream, dev)
}

// NewParamsStream is NewParams with another RNG stream.
func NewParamsStream(seed, stream uint64, dev gotch.Device) *Params {
	return &Params{byName: map[string]*Param{}, dev: dev, rng: rand.New(rand.NewPCG(seed, stream))}
}

// Device is where the tensors live.
func (p *Params) Device() gotch.Device { return p.dev }

// List returns every tensor (parameters and buffers) in construction order.
func (p *Params) List() []*Param { return p.list }

// Trainable returns the parameters that are not buffers, in construction
// order.
func (p *Params) Trainable() []*Param {
	out := make([]*Param, 0, len(p.list))
	for _, q := range p.list {
		if !q.Buffer {
			out = append(out, q)
		}
	}
	return out
}

// Tensors returns the tensors of list (helper for optimizers and
// collectives that take plain tensor lists).
func Tensors(list []*Param) []op.Tensor {
	out := make([]op.Tensor, len(list))
	for i, q := range list {
		out[i] = q.T
	}
	return out
}

// Get returns the named tensor or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// Names returns every name, sorted.
func (p *Params) Names() []string {
	ns := make([]string, 0, len(p.list))
	for _, q := range p.list {
		ns = append(ns, q.Name)
	}
	slices.Sort(ns)
	return ns
}

// Count is the number of trainable scalars.
func (p *Params) Count() int64 {
	var n int64
	for _, q := range p.list {
		if !q.Buffer {
			n += op.Numel(q.Shape)
		}
	}
	return n
}

// Free releases every tensor.
func (p *Params) Free() {
	for _, q := range p.list {
		op.Free(q.T)
		q.T = nil
	}
}

// New adds a trainable parameter initialized with vals; it raises a
// libtorch error (see op.Catch) on failure and panics on a duplicate name
// (a programming error).
func (p *Params) New(name string, noDecay bool, vals []float32, dims ...int64) op.Tensor {
	return p.add(name, false, noDecay, vals, dims)
}

// NewBuffer adds a tensor that is state but not trained (running
// statistics).
func (p *Params) NewBuffer(name string, vals []float32, dims ...int64) op.Tensor {
	return p.add(name, true, true, vals, dims)
}

func (p *Params) add(name string, buffer, noDecay bool, vals []float32, dims []int64) op.Tensor {
	if _, dup := p.byName[name]; dup {
		panic(fmt.Sprintf("nn: duplicate parameter %q", name))
	}
	t, err := op.FromFloat32(vals, p.dev, dims...)
	if err != nil {
		op.Fail(err)
	}
	if !buffer {
		op.RequiresGrad(t, true)
	}
	q := &Param{Name: name, Shape: slices.Clone(dims), Buffer: buffer, NoDecay: noDecay, T: t}
	p.list = append(p.list, q)
	p.byName[name] = q
	return t
}

// Fill returns n copies of v.
func Fill(n int64, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Uniform returns n draws from U(lo, hi).
func (p *Params) Uniform(n int64, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(lo + (hi-lo)*p.rng.Float64())
	}
	return out
}

// Symmetric returns n draws from U(-bound, bound) computed as
// (2u-1)·bound (the image backbones' form; Uniform rounds differently).
func (p *Params) Symmetric(n int64, bound float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((p.rng.Float64()*2 - 1) * bound)
	}
	return out
}

// Normal returns n draws from N(0, std²).
func (p *Params) Normal(n int64, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(p.rng.NormFloat64() * std)
	}
	return out
}

// TruncNormal returns n draws from N(0, std²) truncated to [-2std, 2std]
// by rejection (timm's trunc_normal_(std=std) with its default a=-2, b=2
// when std is 1, and the ViT initializations that pass a=-2std, b=2std).
func (p *Params) TruncNormal(n int64, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		v := p.rng.NormFloat64()
		for v < -2 || v > 2 {
			v = p.rng.NormFloat64()
		}
		out[i] = float32(v * std)
	}
	return out
}

// XavierUniform is torch.nn.init.xavier_uniform_ for an out x in matrix.
func (p *Params) XavierUniform(out, in int64, gain float64) []float32 {
	b := gain * math.Sqrt(6/float64(in+out))
	return p.Uniform(out*in, -b, b)
}

// Tensors copies every tensor whose name starts with prefix (parameters
// and buffers) into safetensors form, keyed by the full name.
func (p *Params) Tensors(prefix string) (out map[string]train.STensor, err error) {
	defer op.Catch(&err)
	out = map[string]train.STensor{}
	for _, q := range p.list {
		if strings.HasPrefix(q.Name, prefix) {
			out[q.Name] = train.STensor{Shape: slices.Clone(q.Shape), F32: op.ToFloat32(q.T)}
		}
	}
	return out, nil
}

// Snapshot adds every tensor to out under prefix+name.
func (p *Params) Snapshot(out map[string]train.STensor, prefix string) (err error) {
	defer op.Catch(&err)
	for _, q := range p.list {
		out[prefix+q.Name] = train.STensor{Shape: slices.Clone(q.Shape), F32: op.ToFloat32(q.T)}
	}
	return nil
}

// Load copies tensors[prefix+name] into every tensor of the set. A missing
// tensor or a shape mismatch is an error naming src (wrapping
// train.ErrBadCheckpoint); tensors the set does not know are ignored.
func (p *Params) Load(src string, tensors map[string]train.STensor, prefix string) error {
	return p.LoadOnly(src, tensors, prefix, nil)
}

// LoadOnly is Load restricted to the tensors for which only returns true
// (nil: all).
func (p *Params) LoadOnly(src string, tensors map[string]train.STensor, prefix string, only func(*Param) bool) (err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	for _, q := range p.list {
		if only != nil && !only(q) {
			continue
		}
		s, ok := tensors[prefix+q.Name]
		if !ok {
			return fmt.Errorf("nn: %s: %w: no tensor %s", src, train.ErrBadCheckpoint, prefix+q.Name)
		}
		if !slices.Equal(s.Shape, q.Shape) || s.F32 == nil {
			return fmt.Errorf("nn: %s: %w: tensor %s has shape %v (float32: %v), want float32 %v", src, train.ErrBadCheckpoint, prefix+q.Name, s.Shape, s.F32 != nil, q.Shape)
		}
		t, err := op.FromFloat32(s.F32, p.dev, q.Shape...)
		if err != nil {
			return err
		}
		op.CopyInPlace(q.T, t)
		op.Free(t)
	}
	return nil
}
