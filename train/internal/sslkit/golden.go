package sslkit

import (
	"fmt"
	"math"
	"os"

	"github.com/sslpipe/sslpipe/train"
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

// RelDiff is max |a - b| / max |b| (+Inf for different lengths; 0 when
// both are all zero).
func RelDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, m float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	if d == 0 {
		return 0
	}
	return d / m
}
