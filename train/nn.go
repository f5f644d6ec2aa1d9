package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/op"
)

// Var is one named tensor of a Module: a trainable parameter or a buffer
// (BatchNorm running statistics).
type Var struct {
	Name   string
	Shape  []int64
	Buffer bool
	// NoDecay marks biases and normalization parameters: LARS excludes
	// them from weight decay and trust-ratio adaptation (and so do SGD
	// and AdamW when Optim.ExcludeBiasNorm is set).
	NoDecay bool
	t       tensor
}

// Module is an ordered set of named tensors on one device plus the layers
// that use them. The zero value is not usable; modules are built by the
// architecture constructors.
type Module struct {
	vars   []*Var
	byName map[string]*Var
	dev    gotch.Device
	rng    *rand.Rand
}

func newModule(seed uint64, dev gotch.Device) *Module {
	return &Module{byName: map[string]*Var{}, dev: dev, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

// Vars returns the module's tensors in construction order.
func (m *Module) Vars() []*Var { return m.vars }

// Params returns the trainable parameters in construction order.
func (m *Module) Params() []*Var {
	var ps []*Var
	for _, v := range m.vars {
		if !v.Buffer {
			ps = append(ps, v)
		}
	}
	return ps
}

// Names returns every tensor name, sorted.
func (m *Module) Names() []string {
	ns := make([]string, 0, len(m.vars))
	for _, v := range m.vars {
		ns = append(ns, v.Name)
	}
	sort.Strings(ns)
	return ns
}

// Free releases every tensor of the module.
func (m *Module) Free() {
	for _, v := range m.vars {
		op.Free(v.t)
		v.t = nil
	}
}

// newVar creates a tensor from init values (made on the CPU by the Go RNG,
// so the same seed gives the same weights on any device).
func (m *Module) newVar(name string, buffer, noDecay bool, vals []float32, dims ...int64) tensor {
	if _, dup := m.byName[name]; dup {
		panic(fmt.Sprintf("train: duplicate tensor name %q", name))
	}
	c, err := fromFloat32CPU(vals, dims...)
	if err != nil {
		op.Fail(err)
	}
	t := c
	if m.dev != gotch.CPU {
		var out tensor
		libTo(&out, c, m.dev)
		op.Free(c)
		t = out
	}
	if !buffer {
		op.RequiresGrad(t, true)
	}
	v := &Var{Name: name, Shape: dims, Buffer: buffer, NoDecay: noDecay, t: t}
	m.vars = append(m.vars, v)
	m.byName[name] = v
	return t
}

func fill(n int64, x float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = x
	}
	return v
}

func (m *Module) uniform(n int64, bound float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((m.rng.Float64()*2 - 1) * bound)
	}
	return v
}

func (m *Module) normal(n int64, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(m.rng.NormFloat64() * std)
	}
	return v
}

// conv is a 2-D convolution (square kernel, no dilation, one group).
type conv struct {
	w, b        tensor
	stride, pad int64
}

// newConv makes name.weight (and name.bias) with PyTorch's default init
// (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias) or, with
// kaimingOut, torchvision ResNet's kaiming_normal_(fan_out, relu).
func (m *Module) newConv(name string, in, out, k, stride, pad int64, bias, kaimingOut bool) *conv {
	n := out * in * k * k
	var w []float32
	if kaimingOut {
		w = m.normal(n, math.Sqrt(2/float64(out*k*k)))
	} else {
		w = m.uniform(n, 1/math.Sqrt(float64(in*k*k)))
	}
	c := &conv{stride: stride, pad: pad}
	c.w = m.newVar(name+".weight", false, false, w, out, in, k, k)
	if bias {
		c.b = m.newVar(name+".bias", false, true, m.uniform(out, 1/math.Sqrt(float64(in*k*k))), out)
	}
	return c
}

func (c *conv) forward(tp *tape, x tensor) tensor { return conv2d(tp, x, c.w, c.b, c.stride, c.pad) }

// bn is BatchNorm (1-d or 2-d) with PyTorch's defaults: momentum 0.1,
// eps 1e-5, weight 1, bias 0.
type bn struct{ w, b, rm, rv tensor }

func (m *Module) newBN(name string, c int64) *bn {
	return &bn{
		w:  m.newVar(name+".weight", false, true, fill(c, 1), c),
		b:  m.newVar(name+".bias", false, true, fill(c, 0), c),
		rm: m.newVar(name+".running_mean", true, true, fill(c, 0), c),
		rv: m.newVar(name+".running_var", true, true, fill(c, 1), c),
	}
}

func (b *bn) forward(tp *tape, x tensor, train bool) tensor {
	return tp.BatchNorm(x, b.w, b.b, b.rm, b.rv, train, 0.1, 1e-5)
}

// linear is torch.nn.Linear with its default init.
type linear struct{ w, b tensor }

func (m *Module) newLinear(name string, in, out int64) *linear {
	bound := 1 / math.Sqrt(float64(in))
	return &linear{
		w: m.newVar(name+".weight", false, false, m.uniform(out*in, bound), out, in),
		b: m.newVar(name+".bias", false, true, m.uniform(out, bound), out),
	}
}

func (l *linear) forward(tp *tape, x tensor) tensor { return linearOp(tp, x, l.w, l.b) }

// mlp is Linear -> BatchNorm1d -> ReLU -> Linear, BYOL's projector and
// predictor (names prefix.0, prefix.1, prefix.3 as in nn.Sequential).
type mlp struct {
	l1  *linear
	bn  *bn
	l2  *linear
	out int64
}

func (m *Module) newMLP(prefix string, in, hidden, out int64) *mlp {
	return &mlp{
		l1:  m.newLinear(prefix+".0", in, hidden),
		bn:  m.newBN(prefix+".1", hidden),
		l2:  m.newLinear(prefix+".3", hidden, out),
		out: out,
	}
}

func (h *mlp) forward(tp *tape, x tensor, train bool) tensor {
	y := h.l2.forward(tp, tp.Relu(h.bn.forward(tp, h.l1.forward(tp, x), train)))
	if tp.BF16 {
		y = tp.ToDtype(y, gotch.Float)
	}
	return y
}
