package audio

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// blobs draws n points around k well-separated centres in d dims.
func blobs(rng *rand.Rand, k, n, d int) (Matrix, Matrix, []int) {
	centres := Matrix{Data: make([]float32, k*d), Rows: k, Cols: d}
	for i := range centres.Data {
		centres.Data[i] = float32(rng.NormFloat64() * 20)
	}
	m := Matrix{Data: make([]float32, n*d), Rows: n, Cols: d}
	truth := make([]int, n)
	for i := 0; i < n; i++ {
		c := rng.IntN(k)
		truth[i] = c
		for j := 0; j < d; j++ {
			m.Data[i*d+j] = centres.Data[c*d+j] + float32(rng.NormFloat64())
		}
	}
	return m, centres, truth
}

// On separated Gaussian blobs mini-batch k-means recovers the clustering
// exactly (up to relabelling) and the inertia approaches the noise variance
// times the dimension.
func TestKMeansRecoversBlobs(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	k, d := 8, 5
	data, _, truth := blobs(rng, k, 4000, d)
	km, err := FitKMeans(rng, data, KMeansConfig{K: k, BatchSize: 500, NInit: 3, MaxEpochs: 20}, KMeansMeta{FeatureType: "test"})
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := km.Assign(data, nil)
	mapTo := map[int]int32{}
	for i, l := range labels {
		if want, ok := mapTo[truth[i]]; ok && want != l {
			t.Fatalf("point %d: cluster %d split across labels %d and %d", i, truth[i], want, l)
		}
		mapTo[truth[i]] = l
	}
	if len(mapTo) != k {
		t.Fatalf("%d clusters found", len(mapTo))
	}
	if in := km.Meta.Inertia; math.Abs(in-float64(d)) > 0.5 {
		t.Fatalf("inertia %.3f, want about %d", in, d)
	}
	if km.Meta.K != k || km.Meta.Dim != d || km.Meta.Frames == 0 {
		t.Fatalf("meta %+v", km.Meta)
	}
}

// k-means++ spreads the seeds: on blobs it almost always puts one seed in
// each cluster, which uniform seeding rarely does.
func TestKMeansPlusPlusSeeding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	k := 10
	data, _, truth := blobs(rng, k, 2000, 3)
	hits := 0
	for trial := 0; trial < 20; trial++ {
		c := kmeansPP(rng, data, k)
		km := &KMeans{Centroids: c}
		seen := map[int]bool{}
		for i := 0; i < c.Rows; i++ {
			// The seed is a data point: find which cluster it came from.
			for j := 0; j < data.Rows; j++ {
				if km.Centroids.Row(i)[0] == data.Row(j)[0] && km.Centroids.Row(i)[1] == data.Row(j)[1] {
					seen[truth[j]] = true
					break
				}
			}
		}
		if len(seen) == k {
			hits++
		}
	}
	if hits < 18 {
		t.Fatalf("k-means++ covered every cluster in only %d of 20 trials", hits)
	}
}

func TestKMeansSaveLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	data, _, _ := blobs(rng, 4, 500, 39)
	meta := KMeansMeta{FeatureType: "mfcc+deltas", LabelRate: 100, SourceHash: SourceHash([]string{"b.wav:10", "a.wav:20"}), Fraction: 0.1, Seed: 7}
	km, err := FitKMeans(rng, data, KMeansConfig{K: 4, BatchSize: 100, NInit: 2, MaxEpochs: 3}, meta)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "km.bin")
	if err := km.Save(p); err != nil {
		t.Fatal(err)
	}
	got, err := LoadKMeans(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta != km.Meta {
		t.Fatalf("meta %+v != %+v", got.Meta, km.Meta)
	}
	a, _ := km.Assign(data, nil)
	b, _ := got.Assign(data, nil)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("labels differ after reload")
		}
	}
	if SourceHash([]string{"a.wav:20", "b.wav:10"}) != meta.SourceHash {
		t.Fatal("source hash depends on order")
	}
	// Corrupt metadata: k disagrees with the array.
	raw, _ := os.ReadFile(p)
	bad := []byte(string(raw[:len(kmeansMagic)]) + `{"k":5,"dim":39}` + "\n" + string(raw[len(kmeansMagic)+len(mustJSON(km.Meta))+1:]))
	os.WriteFile(p, bad, 0o644)
	if _, err := LoadKMeans(p); !errors.Is(err, ErrKMeans) {
		t.Fatalf("mismatched k accepted: %v", err)
	}
	if _, err := km.Assign(Matrix{Data: make([]float32, 13), Rows: 1, Cols: 13}, nil); err == nil {
		t.Fatal("wrong dims accepted")
	}
}

func TestFrameSampler(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := NewFrameSampler(rng, 0.1, 0)
	m := Matrix{Data: make([]float32, 1000*2), Rows: 1000, Cols: 2}
	for i := 0; i < m.Rows; i++ {
		m.Data[2*i] = float32(i)
	}
	for u := 0; u < 20; u++ {
		s.Add(m)
	}
	n := s.Frames().Rows
	if math.Abs(float64(n)-2000) > 5*math.Sqrt(20000*0.1*0.9) {
		t.Fatalf("kept %d of 20000 at 10%%", n)
	}
	capped := NewFrameSampler(rng, 1, 50)
	capped.Add(m)
	f := capped.Frames()
	if f.Rows != 50 {
		t.Fatalf("reservoir holds %d", f.Rows)
	}
	late := 0
	for i := 0; i < f.Rows; i++ {
		if f.Row(i)[0] >= 500 {
			late++
		}
	}
	if late < 10 || late > 40 { // uniform over the stream: about half from the second half
		t.Fatalf("reservoir not uniform: %d of 50 from the second half", late)
	}
	if err := capped.Add(Matrix{Data: make([]float32, 3), Rows: 1, Cols: 3}); err == nil {
		t.Fatal("dim change accepted")
	}
}

func TestAlignLabels(t *testing.T) {
	// 1 s of 16 kHz audio: 98 MFCC frames (snip_edges), 49 encoder frames.
	ex, _ := NewExtractor(DefaultOptions(MFCC))
	n := 16000
	nl := ex.NumFrames(n)
	if nl != 98 || Wav2Vec2Conv.Frames(n) != 49 || Wav2Vec2Conv.Stride() != 320 {
		t.Fatalf("frames: mfcc %d, encoder %d", nl, Wav2Vec2Conv.Frames(n))
	}
	labels := make([]int32, nl)
	for i := range labels {
		labels[i] = int32(i % 100)
	}
	out, err := AlignLabels(labels, 100, n, 16000, Wav2Vec2Conv, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 49 {
		t.Fatalf("%d aligned labels", len(out))
	}
	for i, l := range out {
		if l != labels[2*i] {
			t.Fatalf("frame %d label %d, want labels[%d]=%d", i, l, 2*i, labels[2*i])
		}
	}
	// Labels running out first cut the frame count.
	out, _ = AlignLabels(labels[:91], 100, n, 16000, Wav2Vec2Conv, 100)
	if len(out) != 45 {
		t.Fatalf("short labels give %d frames, want 45", len(out))
	}
	// Wrong utterance: 0.5 s of labels for 1 s of audio.
	if _, err := AlignLabels(labels[:50], 100, n, 16000, Wav2Vec2Conv, 100); !errors.Is(err, ErrKMeans) {
		t.Fatalf("length mismatch accepted: %v", err)
	}
	// A label outside the codebook.
	bad := append([]int32(nil), labels...)
	bad[3] = 100
	if _, err := AlignLabels(bad, 100, n, 16000, Wav2Vec2Conv, 100); !errors.Is(err, ErrKMeans) {
		t.Fatalf("label 100 with k=100 accepted: %v", err)
	}
	if Wav2Vec2Conv.Frames(399) != 0 || Wav2Vec2Conv.Frames(400) != 1 {
		t.Fatal("receptive field is 400 samples")
	}
}

// ExampleFitKMeans is HuBERT's first-iteration target pipeline: MFCC with
// deltas, k-means, labels at the encoder's 50 Hz.
func ExampleFitKMeans() {
	wave, info, err := ReadWAV("testdata/utt1.wav", nil)
	if err != nil {
		panic(err)
	}
	ex, _ := NewExtractor(DefaultOptions(MFCC))
	mfcc, _ := ex.Compute(Matrix{}, wave, nil)
	feats := Deltas(Matrix{}, mfcc, 2, 2)
	rng := rand.New(rand.NewPCG(1, 0))
	km, _ := FitKMeans(rng, feats, KMeansConfig{K: 20, BatchSize: 100, NInit: 2, MaxEpochs: 5},
		KMeansMeta{FeatureType: "mfcc+deltas", LabelRate: 100})
	labels, _ := km.Assign(feats, nil)
	enc, _ := AlignLabels(labels, 100, len(wave), info.SampleRate, Wav2Vec2Conv, km.Meta.K)
	fmt.Println(feats.Cols, len(labels), len(enc))
	// Output: 39 219 109
}

func mustJSON(m KMeansMeta) []byte {
	b, _ := json.Marshal(m)
	return b
}

// Assign (distances through a float32 matrix product) picks the same
// centroid as an exact float64 search, except for near-ties.
func TestAssignMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	data, _, _ := blobs(rng, 30, 3000, 39)
	km := &KMeans{Centroids: kmeansPP(rng, data, 50)}
	got, err := km.Assign(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < data.Rows; i++ {
		x := data.Row(i)
		best, bd, second := -1, math.Inf(1), math.Inf(1)
		for k := 0; k < km.Centroids.Rows; k++ {
			var d float64
			for j, v := range km.Centroids.Row(k) {
				e := float64(x[j]) - float64(v)
				d += e * e
			}
			if d < bd {
				best, bd, second = k, d, bd
			} else if d < second {
				second = d
			}
		}
		if int(got[i]) != best && second-bd > 1e-3*(1+bd) {
			t.Fatalf("frame %d: label %d, exact nearest %d (d %.4f vs next %.4f)", i, got[i], best, bd, second)
		}
	}
	// Inertia agrees with the exact mean distance.
	var exact float64
	for i := 0; i < data.Rows; i++ {
		var d float64
		for j, v := range km.Centroids.Row(int(got[i])) {
			e := float64(data.Row(i)[j]) - float64(v)
			d += e * e
		}
		exact += d
	}
	exact /= float64(data.Rows)
	if in := km.Inertia(data); math.Abs(in-exact) > 1e-3*exact {
		t.Fatalf("inertia %.4f, exact %.4f", in, exact)
	}
}

// BenchmarkAssign measures label assignment in frames per second at the
// HuBERT scales: 39-dim MFCC with k=100 (iteration 1) and 768-dim layer-6
// features with k=500 (iteration 2).
func BenchmarkAssign(b *testing.B) {
	for _, c := range []struct{ k, d int }{{100, 39}, {500, 768}} {
		b.Run(fmt.Sprintf("k%d_d%d", c.k, c.d), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			n := 4096
			data := Matrix{Data: make([]float32, n*c.d), Rows: n, Cols: c.d}
			for i := range data.Data {
				data.Data[i] = float32(rng.NormFloat64())
			}
			cent := Matrix{Data: append([]float32(nil), data.Data[:c.k*c.d]...), Rows: c.k, Cols: c.d}
			km := &KMeans{Centroids: cent}
			labels := make([]int32, n)
			b.ReportAllocs()
			for b.Loop() {
				km.Assign(data, labels)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
