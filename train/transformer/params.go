package transformer

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

// Param is one named trainable tensor.
type Param struct {
	Name  string
	Shape []int64
	// NoDecay marks biases, normalization weights and embeddings that
	// weight decay skips (when the optimizer is told to).
	NoDecay bool
	T       op.Tensor
}

// Params is an ordered set of named parameters on one device. Model
// constructors add to it; initial values come from a Go RNG seeded by the
// caller, so the same seed gives the same weights on any device. Not safe
// for concurrent use.
type Params struct {
	list   []*Param
	byName map[string]*Param
	dev    gotch.Device
	rng    *rand.Rand
}

// NewParams returns an empty set whose initializers draw from seed.
func NewParams(seed uint64, dev gotch.Device) *Params {
	return &Params{byName: map[string]*Param{}, dev: dev, rng: rand.New(rand.NewPCG(seed, 0x7f4a7c15))}
}

// Device is where the parameters live.
func (p *Params) Device() gotch.Device { return p.dev }

// List returns the parameters in construction order.
func (p *Params) List() []*Param { return p.list }

// Get returns the named parameter or nil.
func (p *Params) Get(name string) *Param { return p.byName[name] }

// Count is the number of scalar parameters.
func (p *Params) Count() int64 {
	var n int64
	for _, q := range p.list {
		n += op.Numel(q.Shape)
	}
	return n
}

// op.Free releases every parameter tensor.
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
	if _, dup := p.byName[name]; dup {
		panic(fmt.Sprintf("transformer: duplicate parameter %q", name))
	}
	t, err := op.FromFloat32(vals, p.dev, dims...)
	if err != nil {
		op.Fail(err)
	}
	op.RequiresGrad(t, true)
	q := &Param{Name: name, Shape: slices.Clone(dims), NoDecay: noDecay, T: t}
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

// Normal returns n draws from N(0, std²).
func (p *Params) Normal(n int64, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(p.rng.NormFloat64() * std)
	}
	return out
}

// XavierUniform is torch.nn.init.xavier_uniform_ for an out x in matrix.
func (p *Params) XavierUniform(out, in int64, gain float64) []float32 {
	b := gain * math.Sqrt(6/float64(in+out))
	return p.Uniform(out*in, -b, b)
}

// Tensors copies every parameter whose name starts with prefix into
// safetensors form, keyed by the full name.
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

// Load copies tensors[prefix+name] into every parameter. A missing tensor
// or a shape mismatch is an error naming src; tensors the set does not
// know are ignored.
func (p *Params) Load(src string, tensors map[string]train.STensor, prefix string) (err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	for _, q := range p.list {
		s, ok := tensors[prefix+q.Name]
		if !ok {
			return fmt.Errorf("transformer: %s: no tensor %s", src, prefix+q.Name)
		}
		if !slices.Equal(s.Shape, q.Shape) || s.F32 == nil {
			return fmt.Errorf("transformer: %s: tensor %s has shape %v (float32: %v), want float32 %v", src, prefix+q.Name, s.Shape, s.F32 != nil, q.Shape)
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
