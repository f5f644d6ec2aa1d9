package sslkit

import (
	"fmt"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
	"github.com/sslpipe/sslpipe/train/transformer"
)

// Params is a set of trainable tensors (the embedded transformer.Params:
// its List is what optimizers update) plus Buffers, state that is not
// trained (BatchNorm running statistics). Names are unique across both.
type Params struct {
	*transformer.Params
	Buffers *transformer.Params
}

// NewParams returns an empty set whose initializers draw from seed.
func NewParams(seed uint64, dev gotch.Device) *Params {
	return &Params{Params: transformer.NewParams(seed, dev), Buffers: transformer.NewParams(seed, dev)}
}

// NewBuffer adds a tensor that is state but not trained; it raises a
// libtorch error (op.Catch) on failure and panics on a duplicate name.
func (p *Params) NewBuffer(name string, vals []float32, dims ...int64) op.Tensor {
	if p.Params.Get(name) != nil {
		panic(fmt.Sprintf("sslkit: duplicate tensor %q", name))
	}
	t := p.Buffers.New(name, true, vals, dims...)
	op.RequiresGrad(t, false)
	return t
}

// Trainable returns the trainable parameters in construction order.
func (p *Params) Trainable() []*transformer.Param { return p.Params.List() }

// Free releases every tensor.
func (p *Params) Free() {
	p.Params.Free()
	p.Buffers.Free()
}

// Tensors copies every tensor (parameters and buffers) into safetensors
// form, keyed by name.
func (p *Params) Tensors() (map[string]train.STensor, error) {
	out, err := p.Params.Tensors("")
	if err != nil {
		return nil, err
	}
	b, err := p.Buffers.Tensors("")
	if err != nil {
		return nil, err
	}
	for k, v := range b {
		out[k] = v
	}
	return out, nil
}

// Load copies tensors[prefix+name] into every parameter and buffer (see
// transformer.Params.Load).
func (p *Params) Load(src string, tensors map[string]train.STensor, prefix string) error {
	if err := p.Params.Load(src, tensors, prefix); err != nil {
		return err
	}
	return p.Buffers.Load(src, tensors, prefix)
}

// CopyFrom sets every tensor of p to the same-named tensor of src (a
// teacher's initialization from its student); names src lacks are an
// error, names p lacks are ignored.
func (p *Params) CopyFrom(src *Params) (err error) {
	defer op.Catch(&err)
	restore := op.NoGrad()
	defer restore()
	for _, set := range [][2]*transformer.Params{{p.Params, src.Params}, {p.Buffers, src.Buffers}} {
		for _, q := range set[0].List() {
			s := set[1].Get(q.Name)
			if s == nil {
				return fmt.Errorf("sslkit: copy: source has no %q", q.Name)
			}
			op.CopyInPlace(q.T, s.T)
		}
	}
	return nil
}
