package eval

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/datasets"
)

func TestRawPixels(t *testing.T) {
	imgs := &datasets.Images{N: 2, H: 1, W: 3, C: 1, Pix: []uint8{0, 255, 51, 1, 2, 3}}
	m := RawPixels(imgs)
	if m.Rows != 2 || m.Cols != 3 || m.Data[1] != 1 || math.Abs(float64(m.Data[2])-0.2) > 1e-7 || m.Row(1)[2] != 3.0/255 {
		t.Errorf("raw pixels %+v", m)
	}
}

func TestMeanRows(t *testing.T) {
	got := MeanRows([]float32{1, 2, 3, 4, 5, 9}, 3, 2)
	if !slices.Equal(got, []float32{3, 5}) {
		t.Errorf("mean %v", got)
	}
	if got := MeanRows(nil, 0, 2); !slices.Equal(got, []float32{0, 0}) {
		t.Errorf("empty mean %v", got)
	}
}

func TestMeanMFCC(t *testing.T) {
	// A stationary tone: every frame has the same MFCCs up to edge effects,
	// so the std is tiny compared with the spread of a chirp's.
	tone := make([]float32, 16000)
	chirp := make([]float32, 16000)
	for i := range tone {
		s := float64(i) / 16000
		tone[i] = float32(0.5 * math.Sin(2*math.Pi*440*s))
		chirp[i] = float32(0.5 * math.Sin(2*math.Pi*(200+3000*s)*s))
	}
	m, err := MeanMFCC([][]float32{tone, chirp, tone}, MeanMFCCOptions{Std: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 3 || m.Cols != 26 {
		t.Fatalf("shape %dx%d", m.Rows, m.Cols)
	}
	if !slices.Equal(m.Row(0), m.Row(2)) {
		t.Error("same wave, different features")
	}
	// The mean equals the mean of the extractor's frames.
	ext, _ := audio.NewExtractor(audio.DefaultOptions(audio.MFCC))
	fr, _ := ext.Compute(audio.Matrix{}, chirp, nil)
	want := MeanRows(fr.Data, fr.Rows, fr.Cols)
	for c := range 13 {
		if math.Abs(float64(m.Row(1)[c]-want[c])) > 1e-4*math.Max(1, math.Abs(float64(want[c]))) {
			t.Errorf("coefficient %d: %v want %v", c, m.Row(1)[c], want[c])
		}
	}
	var toneStd, chirpStd float64
	for c := 1; c < 13; c++ {
		toneStd += float64(m.Row(0)[13+c])
		chirpStd += float64(m.Row(1)[13+c])
	}
	if toneStd*5 > chirpStd {
		t.Errorf("tone std %v not much below chirp std %v", toneStd, chirpStd)
	}
	if _, err := MeanMFCC([][]float32{tone, make([]float32, 100)}, MeanMFCCOptions{}); err == nil || !strings.Contains(err.Error(), "wave 1") {
		t.Errorf("short wave: %v", err)
	}
}

func TestTFIDF(t *testing.T) {
	docs := [][]string{
		Words("The cat sat. The cat!"),
		Words("the DOG sat"),
		Words("birds"),
	}
	if !slices.Equal(docs[0], []string{"the", "cat", "sat", "the", "cat"}) {
		t.Fatalf("words %v", docs[0])
	}
	v := FitTFIDF(docs, TFIDFOptions{})
	if !slices.Equal(v.Terms, []string{"birds", "cat", "dog", "sat", "the"}) {
		t.Fatalf("terms %v", v.Terms)
	}
	// idf = ln((1+3)/(1+df)) + 1
	idf1, idf2 := math.Log(4.0/2)+1, math.Log(4.0/3)+1
	if math.Abs(v.IDF[0]-idf1) > 1e-12 || math.Abs(v.IDF[4]-idf2) > 1e-12 {
		t.Errorf("idf %v", v.IDF)
	}
	m := v.Transform(append(docs, Words("unknown words only")))
	// Doc 0: cat 2*idf1, sat 1*idf2, the 2*idf2, then L2-normalized.
	raw := []float64{0, 2 * idf1, 0, idf2, 2 * idf2}
	norm := math.Sqrt(raw[1]*raw[1] + raw[3]*raw[3] + raw[4]*raw[4])
	for c, r := range raw {
		if math.Abs(float64(m.Row(0)[c])-r/norm) > 1e-6 {
			t.Errorf("doc 0 column %d: %v want %v", c, m.Row(0)[c], r/norm)
		}
	}
	for _, v := range m.Row(3) {
		if v != 0 {
			t.Errorf("out-of-vocabulary document: %v", m.Row(3))
		}
	}
	small := FitTFIDF(docs, TFIDFOptions{MinDF: 2})
	if !slices.Equal(small.Terms, []string{"sat", "the"}) {
		t.Errorf("min df terms %v", small.Terms)
	}
	top := FitTFIDF(docs, TFIDFOptions{MaxFeatures: 2})
	if !slices.Equal(top.Terms, []string{"cat", "the"}) {
		t.Errorf("max features terms %v", top.Terms)
	}
	sub := FitTFIDF(docs, TFIDFOptions{Sublinear: true}).Transform(docs[:1])
	if r := sub.Row(0)[1] / sub.Row(0)[3]; math.Abs(float64(r)-(1+math.Log(2))*idf1/idf2) > 1e-5 {
		t.Errorf("sublinear tf ratio %v", r)
	}
}

func ExampleKNN() {
	train := &Matrix{Rows: 4, Cols: 2, Data: []float32{1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9}}
	labels := []int{0, 0, 1, 1}
	query := &Matrix{Rows: 2, Cols: 2, Data: []float32{2, 0.5, 0.2, 3}}
	preds, _ := KNN(train, labels, query, KNNOptions{Settings: []KNNSetting{{K: 3, T: 0.1}}})
	fmt.Println(preds[0], Accuracy(preds[0], []int{0, 1}))
	// Output: [0 1] 1
}
