package dist

import (
	"reflect"
	"testing"

	"github.com/sugarme/gotch"
)

func f32(n int64) tensorInfo {
	return tensorInfo{dtype: gotch.Float, device: -1, numel: n, shape: []int64{n}}
}

func rev(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = n - 1 - i
	}
	return o
}

func TestPlan(t *testing.T) {
	// Bytes: 400, 800, 600, 4000, 100; reverse order; first bucket 1000 B,
	// then 2000 B.
	ts := []tensorInfo{f32(100), f32(200), f32(150), f32(1000), f32(25)}
	perm, ends := plan(ts, rev(len(ts)), [2]int64{1000, 2000})
	if want := []int{4, 3, 2, 1, 0}; !reflect.DeepEqual(perm, want) {
		t.Errorf("perm = %v, want %v", perm, want)
	}
	if want := []int64{2, 5}; !reflect.DeepEqual(ends, want) {
		t.Errorf("ends = %v, want %v", ends, want)
	}

	// Tensors of another dtype or device get their own buckets; buckets
	// left open close in the order their kinds first appeared.
	f64 := tensorInfo{dtype: gotch.Double, device: -1, numel: 10, shape: []int64{2, 5}}
	cuda := tensorInfo{dtype: gotch.Float, device: 0, numel: 10, shape: []int64{10}}
	ts = []tensorInfo{f32(10), f64, f32(300), cuda, f64}
	perm, ends = plan(ts, []int{0, 1, 2, 3, 4}, [2]int64{1000, 1 << 20})
	// float32 CPU: 40 B + 1200 B closes the first bucket [0 2]; float64:
	// [1 4] left open; CUDA: [3] left open.
	if want := []int{0, 2, 1, 4, 3}; !reflect.DeepEqual(perm, want) {
		t.Errorf("mixed perm = %v, want %v", perm, want)
	}
	if want := []int64{2, 4, 5}; !reflect.DeepEqual(ends, want) {
		t.Errorf("mixed ends = %v, want %v", ends, want)
	}

	// DDP's defaults on a small model: one bucket per kind.
	perm, ends = plan([]tensorInfo{f32(10), f32(20), f32(30)}, rev(3), [2]int64{FirstBucketBytes, BucketBytes})
	if !reflect.DeepEqual(perm, []int{2, 1, 0}) || !reflect.DeepEqual(ends, []int64{3}) {
		t.Errorf("small model: %v %v", perm, ends)
	}
	// A tensor past the limit is a bucket of its own.
	perm, ends = plan([]tensorInfo{f32(1 << 20), f32(1), f32(1 << 19)}, []int{0, 1, 2}, [2]int64{FirstBucketBytes, 1 << 20})
	if !reflect.DeepEqual(perm, []int{0, 1, 2}) || !reflect.DeepEqual(ends, []int64{1, 3}) {
		t.Errorf("large tensors: %v %v", perm, ends)
	}
	if perm, ends := plan(nil, nil, [2]int64{1, 1}); perm != nil || ends != nil {
		t.Errorf("empty: %v %v", perm, ends)
	}
}

func TestFingerprint(t *testing.T) {
	a := []tensorInfo{f32(3), {dtype: gotch.Float, device: -1, numel: 6, shape: []int64{2, 3}}}
	same := []tensorInfo{f32(3), {dtype: gotch.Float, device: -1, numel: 6, shape: []int64{2, 3}}}
	if fingerprint(a) != fingerprint(same) {
		t.Error("equal layouts hash differently")
	}
	for name, b := range map[string][]tensorInfo{
		"shape":  {f32(3), {dtype: gotch.Float, device: -1, numel: 6, shape: []int64{3, 2}}},
		"dtype":  {f32(3), {dtype: gotch.Double, device: -1, numel: 6, shape: []int64{2, 3}}},
		"device": {f32(3), {dtype: gotch.Float, device: 0, numel: 6, shape: []int64{2, 3}}},
		"order":  {{dtype: gotch.Float, device: -1, numel: 6, shape: []int64{2, 3}}, f32(3)},
	} {
		if fingerprint(a) == fingerprint(b) {
			t.Errorf("%s change not seen", name)
		}
	}
}
