package audio

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

func runs(m []bool) (spans [][2]int) {
	for i := 0; i < len(m); i++ {
		if m[i] {
			j := i
			for j < len(m) && m[j] {
				j++
			}
			spans = append(spans, [2]int{i, j})
			i = j
		}
	}
	return spans
}

func count(m []bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// The number of spans is int(p·T/L + U): its mean is exactly p·T/L. With
// NoOverlap every span is exactly L frames, so masked/L estimates it.
func TestSpanMaskMeanSpanCount(t *testing.T) {
	c := MaskConfig{Prob: 0.3, Length: 10, NoOverlap: true}
	T := 487
	draws := 3000
	if testing.Short() {
		draws = 500
	}
	sum := 0.0
	for i := 0; i < draws; i++ {
		m, err := SpanMask(pipeline.SampleRand(1, 0, uint64(i), 0), T, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range runs(m) {
			if (s[1]-s[0])%10 != 0 {
				t.Fatalf("run %v is not a multiple of the span length", s)
			}
		}
		sum += float64(count(m)) / 10
	}
	mean, want := sum/float64(draws), 0.3*float64(T)/10
	// The count is floor(x+U): two values, stddev <= 0.5, so the mean's
	// stddev is <= 0.5/sqrt(draws).
	if math.Abs(mean-want) > 5*0.5/math.Sqrt(float64(draws)) {
		t.Fatalf("mean span count %.3f, want %.3f", mean, want)
	}
}

// HuBERT's setting: overlapping spans, masked fraction close to the
// analytic value for starts drawn without replacement.
func TestSpanMaskHuBERTFraction(t *testing.T) {
	c := MaskConfig{Prob: 0.8, Length: 10}
	T := 500
	var frac float64
	n := 400
	for i := 0; i < n; i++ {
		m, _ := SpanMask(pipeline.SampleRand(7, 0, uint64(i), 0), T, c)
		frac += float64(count(m)) / float64(T)
	}
	frac /= float64(n)
	// 40 distinct starts out of 490: a frame t >= 10 is unmasked iff none of
	// the 10 starts covering it is chosen: C(480,40)/C(490,40).
	p := 1.0
	for k := 0; k < 40; k++ {
		p *= float64(480-k) / float64(490-k)
	}
	if want := 1 - p; math.Abs(frac-want) > 0.02 {
		t.Fatalf("masked fraction %.3f, want about %.3f", frac, want)
	}
}

func TestSpanMaskNoOverlapMinSpace(t *testing.T) {
	c := MaskConfig{Prob: 0.5, Length: 5, NoOverlap: true, MinSpace: 3}
	for i := 0; i < 300; i++ {
		m, _ := SpanMask(pipeline.SampleRand(3, 1, uint64(i), 0), 200, c)
		rs := runs(m)
		for j, r := range rs {
			if r[1]-r[0] != 5 {
				t.Fatalf("span %v has length %d", r, r[1]-r[0])
			}
			if j > 0 && r[0]-rs[j-1][1] < 3 {
				t.Fatalf("spans %v and %v closer than min_space", rs[j-1], r)
			}
		}
	}
}

func TestSpanMaskEdgeCases(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	// min_masks on a short sequence; never past the end.
	m, err := SpanMask(rng, 12, MaskConfig{Prob: 0.01, Length: 10, MinMasks: 2})
	if err != nil || count(m) < 10 || len(m) != 12 {
		t.Fatalf("min_masks: %v %v", m, err)
	}
	if m, _ := SpanMask(rng, 0, MaskConfig{Prob: 0.8, Length: 10}); len(m) != 0 {
		t.Fatal("T=0 gives a mask")
	}
	for _, typ := range []SpanLength{Uniform, Normal, Poisson} {
		m, err := SpanMask(rng, 300, MaskConfig{Prob: 0.5, Length: 6, Type: typ, Other: 2})
		if err != nil || count(m) == 0 {
			t.Fatalf("type %d: %d masked, %v", typ, count(m), err)
		}
	}
	for _, bad := range []MaskConfig{{Prob: 1.5, Length: 1}, {Prob: 0.5}, {Prob: 0.5, Length: 2, Dropout: 1}} {
		if _, err := SpanMask(rng, 10, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestSpanMaskBatch(t *testing.T) {
	c := MaskConfig{Prob: 0.65, Length: 10, RequireSameMasks: true}
	lengths := []int{400, 123, 399, 250}
	rngs := func() []*rand.Rand {
		r := make([]*rand.Rand, len(lengths))
		for i := range r {
			r[i] = pipeline.SampleRand(9, 2, uint64(100+i), 0)
		}
		return r
	}
	a, err := SpanMaskBatch(rngs(), lengths, 400, c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SpanMaskBatch(rngs(), lengths, 400, c)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seeds gave different masks")
	}
	n0 := count(a[0])
	for i, m := range a {
		if count(m) != n0 {
			t.Fatalf("row %d has %d masked frames, row 0 has %d", i, count(m), n0)
		}
		for j := lengths[i]; j < 400; j++ {
			if m[j] {
				t.Fatalf("row %d: padded frame %d masked", i, j)
			}
		}
	}
	// Without equalisation a row's mask is independent of its batch mates.
	c.RequireSameMasks = false
	x, _ := SpanMaskBatch(rngs(), lengths, 400, c)
	y, _ := SpanMask(pipeline.SampleRand(9, 2, 101, 0), 123, c)
	if !reflect.DeepEqual(x[1][:123], y) {
		t.Fatal("row mask depends on the batch")
	}
	// Dropout removes about that fraction.
	c.Dropout = 0.5
	d, _ := SpanMaskBatch(rngs(), lengths, 400, c)
	if got, full := count(d[0]), count(x[0]); got != full-int(math.RoundToEven(float64(full)*0.5)) {
		t.Fatalf("dropout kept %d of %d", got, full)
	}
}

func TestSpecAugment(t *testing.T) {
	m := Matrix{Data: make([]float32, 100*40), Rows: 100, Cols: 40}
	for i := range m.Data {
		m.Data[i] = 1
	}
	s := SpecAugment{TimeMasks: 2, TimeMaxWidth: 30, TimeMaxFrac: 0.2, FreqMasks: 2, FreqMaxWidth: 8, Value: 0}
	times, freqs := s.Apply(rand.New(rand.NewPCG(5, 5)), m)
	if len(times) != 2 || len(freqs) != 2 {
		t.Fatal("mask count")
	}
	masked := make([]bool, len(m.Data))
	for _, iv := range times {
		if iv[1]-iv[0] >= 20 || iv[0] < 0 || iv[1] > 100 {
			t.Fatalf("time mask %v", iv)
		}
		for r := iv[0]; r < iv[1]; r++ {
			for c := 0; c < 40; c++ {
				masked[r*40+c] = true
			}
		}
	}
	for _, iv := range freqs {
		if iv[1]-iv[0] >= 8 || iv[1] > 40 {
			t.Fatalf("freq mask %v", iv)
		}
		for r := 0; r < 100; r++ {
			for c := iv[0]; c < iv[1]; c++ {
				masked[r*40+c] = true
			}
		}
	}
	for i, v := range m.Data {
		if (v == 0) != masked[i] {
			t.Fatalf("cell %d: value %v, masked %v", i, v, masked[i])
		}
	}
}

func TestCollate(t *testing.T) {
	waves := [][]float32{{1, 2, 3, 4, 5}, {6, 7}, {8, 9, 10}}
	rngs := []*rand.Rand{rand.New(rand.NewPCG(1, 0)), nil, nil}
	b, err := CollateWaves(rngs, waves, CollateOptions{Pad: true, MaxLen: 4, PadValue: -1})
	if err != nil {
		t.Fatal(err)
	}
	if b.T != 4 || !reflect.DeepEqual(b.Lengths, []int{4, 2, 3}) {
		t.Fatalf("T %d lengths %v", b.T, b.Lengths)
	}
	if s := b.Data[:4]; !(s[0] == 1 || s[0] == 2) || s[3] != s[0]+3 {
		t.Fatalf("row 0 is not a contiguous crop: %v", s)
	}
	if !reflect.DeepEqual(b.Data[4:], []float32{6, 7, -1, -1, 8, 9, 10, -1}) {
		t.Fatalf("padding: %v", b.Data[4:])
	}
	wantPad := []bool{false, false, false, false, false, false, true, true, false, false, false, true}
	if !reflect.DeepEqual(b.Padding, wantPad) {
		t.Fatalf("padding mask %v", b.Padding)
	}
	// pad=false crops everything to the shortest and needs rngs to do so.
	if _, err := CollateWaves(rngs, waves, CollateOptions{}); err == nil {
		t.Fatal("crop without rng accepted")
	}
	r3 := []*rand.Rand{rand.New(rand.NewPCG(1, 0)), rand.New(rand.NewPCG(2, 0)), rand.New(rand.NewPCG(3, 0))}
	b, _ = CollateWaves(r3, waves, CollateOptions{})
	if b.T != 2 || !reflect.DeepEqual(b.Lengths, []int{2, 2, 2}) {
		t.Fatalf("pad=false: %+v", b)
	}
	// Feature matrices.
	ms := []Matrix{{Data: make([]float32, 3*39), Rows: 3, Cols: 39}, {Data: make([]float32, 39), Rows: 1, Cols: 39}}
	fb, err := CollateFrames([]*rand.Rand{nil, nil}, ms, CollateOptions{Pad: true})
	if err != nil || fb.T != 3 || fb.Dim != 39 || len(fb.Data) != 2*3*39 {
		t.Fatalf("frames: %+v %v", fb.Lengths, err)
	}
}

func ExampleSpanMask() {
	// HuBERT masking for sample 12 of epoch 3 of run seed 1.
	rng := pipeline.SampleRand(1, 3, 12, 0)
	mask, _ := SpanMask(rng, 50, MaskConfig{Prob: 0.8, Length: 10})
	fmt.Println(len(mask), count(mask) > 0)
	// Output: 50 true
}
