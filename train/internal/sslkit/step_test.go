package sslkit

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

func sgd(t *testing.T, momentum float64) *nn.Optimizer {
	t.Helper()
	opt, err := nn.NewOptimizer(train.OptimConfig{Name: "sgd", LR: 0.1, Momentum: momentum, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Eta: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

func near(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

// TrainStep on loss = sum(w * x) (gradient x, norm |x|) is plain SGD:
// w - lr * x, scaled by clip / (|x| + 1e-6) when clipped; a NaN loss
// with SkipNonFinite leaves w as it was.
func TestTrainStep(t *testing.T) {
	defer op.LockThread()()
	w0 := []float32{1, 2, 3}
	x := []float32{0.5, -1, 2}
	xnorm := math.Sqrt(0.25 + 1 + 4)
	for _, c := range []struct {
		name  string
		o     StepOptions
		scale float64 // on the loss
		want  []float32
		skip  bool
	}{
		{"plain", StepOptions{LR: 0.1}, 1, []float32{0.95, 2.1, 2.8}, false},
		{"clipped", StepOptions{LR: 0.1, Clip: 1}, 1, nil, false},
		{"nan skipped", StepOptions{LR: 0.1, SkipNonFinite: true}, math.NaN(), w0, true},
	} {
		if c.want == nil {
			f := 1 / (xnorm + 1e-6)
			for i := range w0 {
				c.want = append(c.want, w0[i]-float32(0.1*f*float64(x[i])))
			}
		}
		p := nn.NewParams(1, gotch.CPU)
		var w op.Tensor
		if err := func() (err error) {
			defer op.Catch(&err)
			w = p.New("w", false, slices.Clone(w0), 3)
			return nil
		}(); err != nil {
			t.Fatal(err)
		}
		opt := sgd(t, 0)
		r, err := TrainStep(p, opt, c.o, func(tp *op.Tape) []op.Tensor {
			loss := tp.MulScalar(tp.Sum(tp.Mul(w, tp.Float32(x, gotch.CPU, 3))), c.scale)
			return []op.Tensor{loss, tp.MulScalar(loss, 2)}
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.Skipped != c.skip {
			t.Errorf("%s: skipped %v, want %v", c.name, r.Skipped, c.skip)
		}
		if !c.skip {
			if len(r.Vals) != 2 || math.Abs(r.Vals[0]-4.5) > 1e-6 || math.Abs(r.Vals[1]-9) > 1e-6 {
				t.Errorf("%s: vals %v, want [4.5 9]", c.name, r.Vals)
			}
			if math.Abs(r.GradNorm-xnorm) > 1e-5 {
				t.Errorf("%s: grad norm %v, want %v", c.name, r.GradNorm, xnorm)
			}
		}
		if got := op.ToFloat32(w); !near(got, c.want, 1e-6) {
			t.Errorf("%s: w %v, want %v", c.name, got, c.want)
		}
		opt.Free()
		p.Free()
	}
}

// ClassifierStep's loss is the mean cross-entropy and its accuracy the
// fraction of rows whose argmax is the label, before the update.
func TestClassifierStep(t *testing.T) {
	defer op.LockThread()()
	logits := []float32{2, 0, 0, 1, 3, 1, 0.5, 0.5, 0} // 3 rows, 3 classes
	labels := []int64{0, 2, 1}
	var want float64
	for i, y := range labels {
		row := logits[i*3 : i*3+3]
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v))
		}
		want += (math.Log(z) - float64(row[y])) / 3
	}
	p := nn.NewParams(1, gotch.CPU)
	defer p.Free()
	opt := sgd(t, 0.9)
	defer opt.Free()
	var b op.Tensor
	if err := func() (err error) {
		defer op.Catch(&err)
		b = p.New("b", false, slices.Clone(logits), 3, 3)
		return nil
	}(); err != nil {
		t.Fatal(err)
	}
	inputs := []float32{1, 2, 3, 4, 5, 6}
	x, y, err := LabeledToDevice(inputs, [4]int{3, 2, 1, 1}, labels, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Free(x)
	defer op.Free(y)
	if got, shape := op.ToFloat32(x), op.Shape(x); !slices.Equal(got, inputs) || !slices.Equal(shape, []int64{3, 2, 1, 1}) {
		t.Fatalf("inputs on the device %v of shape %v", got, shape)
	}
	if got := op.ToInt64(y); !slices.Equal(got, labels) {
		t.Fatalf("labels on the device %v, want %v", got, labels)
	}
	loss, acc, norm, skipped, err := ClassifierStep(p, opt, StepOptions{LR: 0.1}, y, func(tp *op.Tape) op.Tensor { return tp.MulScalar(b, 1) })
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-want) > 1e-6 || math.Abs(acc-1.0/3) > 1e-9 || skipped || !(norm > 0) {
		t.Errorf("loss %v acc %v norm %v skipped %v, want loss %v acc 1/3", loss, acc, norm, skipped, want)
	}
	if got := op.ToFloat32(b); near(got, logits, 1e-6) {
		t.Errorf("no update: %v", got)
	}
}

// NetState names the network, the teacher and the optimizer state by
// their prefixes, restores them exactly, and replicates the network's
// tensors before the teacher's.
func TestNetState(t *testing.T) {
	defer op.LockThread()()
	build := func(v float32) (p, q *nn.Params, err error) {
		p, q = nn.NewParams(1, gotch.CPU), nn.NewParams(1, gotch.CPU)
		defer op.Catch(&err)
		p.New("w", false, []float32{v, v + 1}, 2)
		q.New("w", false, []float32{v + 2, v + 3}, 2)
		return p, q, nil
	}
	for _, c := range []struct{ prefix, teacher, want string }{
		{"", "", "net.w optim.w.momentum_buffer"},
		{"student.", "teacher.", "optim.w.momentum_buffer student.w teacher.w"},
	} {
		p, q, err := build(1)
		if err != nil {
			t.Fatal(err)
		}
		s := NetState{Params: p, Opt: sgd(t, 0.9), Prefix: c.prefix}
		if c.teacher != "" {
			s.Teacher, s.TeacherPrefix = q, c.teacher
		} else {
			q.Free()
		}
		w := p.Get("w").T
		if _, err := TrainStep(p, s.Opt, StepOptions{LR: 0.1}, func(tp *op.Tape) []op.Tensor { return []op.Tensor{tp.Sum(tp.Mul(w, w))} }); err != nil {
			t.Fatal(err)
		}
		ts, steps, err := s.State()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for n := range ts {
			names = append(names, n)
		}
		slices.Sort(names)
		if got := strings.Join(names, " "); got != c.want || steps != 1 {
			t.Errorf("prefix %q: state %q at %d steps, want %q at 1", c.prefix, got, steps, c.want)
		}
		if n := len(s.ReplicatedTensors()); n != len(names)-1 {
			t.Errorf("prefix %q: %d replicated tensors, want %d", c.prefix, n, len(names)-1)
		}
		p2, q2, err := build(7)
		if err != nil {
			t.Fatal(err)
		}
		s2 := NetState{Params: p2, Opt: sgd(t, 0.9), Prefix: c.prefix}
		if c.teacher != "" {
			s2.Teacher, s2.TeacherPrefix = q2, c.teacher
		} else {
			q2.Free()
		}
		if err := s2.Load("state", ts, &train.State{OptSteps: steps}); err != nil {
			t.Fatal(err)
		}
		ts2, steps2, err := s2.State()
		if err != nil {
			t.Fatal(err)
		}
		for n, v := range ts {
			if !slices.Equal(v.F32, ts2[n].F32) || !slices.Equal(v.Shape, ts2[n].Shape) {
				t.Errorf("prefix %q: %s loaded %v, saved %v", c.prefix, n, ts2[n].F32, v.F32)
			}
		}
		if steps2 != steps {
			t.Errorf("prefix %q: %d steps after load, want %d", c.prefix, steps2, steps)
		}
		if c.teacher != "" {
			if r := s2.ReplicatedTensors(); len(r) != 2 || r[0] != p2.Get("w").T || r[1] != q2.Get("w").T {
				t.Errorf("replicated tensors not the network's then the teacher's")
			}
		}
		s.Close()
		s2.Close()
	}
}

// Input.Check keeps the pretext validators' messages.
func TestInputCheck(t *testing.T) {
	arch := nn.Arch{Name: "convnet", InChannels: 1}
	for _, c := range []struct {
		in   Input
		want string
	}{
		{Input{Size: 28, Channels: 1}, ""},
		{Input{Size: 4, Channels: 1}, "rotation: input size 4 must be in [8, 4096] and channels 1 1 or 3"},
		{Input{Size: 28, Channels: 2}, "rotation: input size 28 must be in [8, 4096] and channels 2 1 or 3"},
		{Input{Size: 28, Channels: 3}, "rotation: input has 3 channels but model.arch.in_channels is 1"},
	} {
		err := c.in.Check("rotation", arch)
		if got := ""; err != nil {
			got = err.Error()
			if got != c.want {
				t.Errorf("%+v: %q, want %q", c.in, got, c.want)
			}
		} else if c.want != "" {
			t.Errorf("%+v: no error, want %q", c.in, c.want)
		}
	}
}

// NewNet builds the backbone first under BackbonePrefix, then the heads;
// a heads error comes back.
func TestNewNet(t *testing.T) {
	arch := nn.Arch{Name: "convnet", InChannels: 1, Widths: []int64{4, 8}, Pool: 2}
	type net struct {
		p  *nn.Params
		bb nn.Backbone
	}
	n, err := NewNet(3, gotch.CPU, arch, func(p *nn.Params, bb nn.Backbone) (*net, error) {
		nn.NewLinear(p, "head", bb.Dim(), 2)
		return &net{p, bb}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { defer op.LockThread()(); n.p.Free() }()
	list := n.p.List()
	if last := list[len(list)-1].Name; !strings.HasPrefix(last, "head.") {
		t.Errorf("last tensor %s, want the head's", last)
	}
	for _, q := range list[:len(list)-2] {
		if !IsBackbone(q) {
			t.Errorf("%s before the head is not under %s", q.Name, BackbonePrefix)
		}
	}
	// The same weights as building the backbone by hand from NewParams.
	func() {
		defer op.LockThread()()
		p := NewParams(3, gotch.CPU)
		defer p.Free()
		if _, err := nn.NewBackbone(p, BackbonePrefix, arch); err != nil {
			t.Fatal(err)
		}
		for _, q := range p.List() {
			if got, want := op.ToFloat32(n.p.Get(q.Name).T), op.ToFloat32(q.T); !slices.Equal(got, want) {
				t.Errorf("%s differs from a backbone built by hand", q.Name)
			}
		}
	}()
	want := "heads failed"
	if _, err := NewNet(3, gotch.CPU, arch, func(p *nn.Params, bb nn.Backbone) (*net, error) {
		op.Fail(errorString(want))
		return nil, nil
	}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("heads error: %v, want %q", err, want)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
