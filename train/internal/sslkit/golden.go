package sslkit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/op"
)

// ReadSafetensors reads a safetensors file (the methods' parity goldens).
func ReadSafetensors(path string) (map[string]train.STensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ts, _, err := train.ParseSafetensors(data)
	if err != nil {
		return nil, fmt.Errorf("sslkit: %s: %w", path, err)
	}
	return ts, nil
}

// RelDiff is max |a - b| / max(max |b|, 1e-3): relative to the tensor's
// scale, absolute (at a thousandth of the tolerance) for tensors that are
// zero up to rounding, such as the running mean of a bias-free linear
// layer after BatchNorm. +Inf for different lengths.
func RelDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / math.Max(m, 1e-3)
}

// NoisyPair returns two noisy copies (noise·N(0, 1) added) of n random
// images of c x h x w, as float32 NCHW tensors the caller frees: a fixed
// batch on which a method must learn (tests).
func NoisyPair(seed uint64, n, c, h, w int64, noise float64) (v1, v2 op.Tensor, err error) {
	rng := rand.New(rand.NewPCG(seed, 2))
	base := make([]float32, n*c*h*w)
	for i := range base {
		base[i] = float32(rng.NormFloat64())
	}
	var out [2]op.Tensor
	for k := range out {
		x := make([]float32, len(base))
		for i := range x {
			x[i] = base[i] + float32(noise*rng.NormFloat64())
		}
		if out[k], err = op.FromFloat32(x, gotch.CPU, n, c, h, w); err != nil {
			op.Free(out[0])
			return nil, nil, err
		}
	}
	return out[0], out[1], nil
}

// Compare checks every tensor of got against gold[goldPrefix+name] and
// returns the largest RelDiff and its tensor's name. Tensors whose true
// gradient is zero are compared apart, their largest absolute difference
// returned as noise: the key part (the middle third) of ViT attention
// biases (*.attn.qkv.bias; softmax over keys ignores a constant) and the
// tensors named in zeroGrad (such as a backbone's last bias before a
// bias-free Linear and train-mode BatchNorm, which cancel a constant
// shift). Their gradient is rounding noise that Adam scales to steps of
// about the learning rate, in PyTorch as here; parity tests bound them by
// the sum of the learning rates. A tensor gold lacks is an error.
func Compare(got, gold map[string]train.STensor, goldPrefix string, zeroGrad ...string) (worst float64, name string, noise float64, err error) {
	for n, g := range got {
		w, ok := gold[goldPrefix+n]
		if !ok {
			return 0, "", 0, fmt.Errorf("sslkit: golden lacks %s%s", goldPrefix, n)
		}
		a, b := g.F32, w.F32
		lo, hi := 0, 0
		switch {
		case len(a) != len(b):
		case slices.Contains(zeroGrad, n):
			lo, hi = 0, len(a)
		case strings.HasSuffix(n, "attn.qkv.bias") && len(a)%3 == 0:
			lo, hi = len(a)/3, 2*len(a)/3
		}
		for i := lo; i < hi; i++ {
			noise = math.Max(noise, math.Abs(float64(a[i])-float64(b[i])))
		}
		if hi > lo {
			if hi-lo == len(a) {
				continue
			}
			a = append(slices.Clone(a[:lo]), a[hi:]...)
			b = append(slices.Clone(b[:lo]), b[hi:]...)
		}
		if r := RelDiff(a, b); r > worst || name == "" {
			worst, name = r, n
		}
	}
	return worst, name, noise, nil
}
