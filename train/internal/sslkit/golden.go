package sslkit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"

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
