package audio_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/pipeline"
)

// Kaldi log-mel filterbank with torchaudio.compliance.kaldi.fbank's
// defaults (23 bins, 25 ms windows every 10 ms), then per-utterance mean
// and variance normalisation.
func ExampleDefaultOptions_fbank() {
	wave, _, err := audio.ReadWAV("testdata/utt3.wav", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	opt := audio.DefaultOptions(audio.Fbank)
	ex, err := audio.NewExtractor(opt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fb, err := ex.Compute(audio.Matrix{}, wave, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	audio.CMVN(fb, true)
	var mean float64
	for i := range fb.Rows {
		mean += float64(fb.Row(i)[0])
	}
	fmt.Printf("%d frames x %d bins, bin 0 mean after CMVN %.3f\n", fb.Rows, fb.Cols, math.Abs(mean/float64(fb.Rows)))
	// Output: 122 frames x 23 bins, bin 0 mean after CMVN 0.000
}

// A Resampler is made once per rate pair and reused; its output length is
// known before resampling.
func ExampleNewResampler() {
	r, err := audio.NewResampler(22050, 16000)
	if err != nil {
		fmt.Println(err)
		return
	}
	x := make([]float32, 22050) // one second of espeak-ng's 22.05 kHz output
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/22050))
	}
	y := r.Resample(x)
	fmt.Println(r.OutLen(len(x)), len(y))
	// Output: 16000 16000
}

// HuBERT's "fit k-means on a fraction of the frames" without holding the
// data set: each frame is kept with probability Fraction (here every
// frame), at most Max in all, then the codebook labels every utterance.
func ExampleNewFrameSampler() {
	ex, _ := audio.NewExtractor(audio.DefaultOptions(audio.MFCC))
	sampler := audio.NewFrameSampler(rand.New(rand.NewPCG(1, 0)), 1, 1000)
	var feats []audio.Matrix
	for _, f := range []string{"testdata/utt1.wav", "testdata/utt2.wav"} {
		wave, _, err := audio.ReadWAV(f, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		m, _ := ex.Compute(audio.Matrix{}, wave, nil)
		feats = append(feats, m)
		if err := sampler.Add(m); err != nil {
			fmt.Println(err)
			return
		}
	}
	sample := sampler.Frames()
	km, err := audio.FitKMeans(rand.New(rand.NewPCG(2, 0)), sample,
		audio.KMeansConfig{K: 8, BatchSize: 100, NInit: 2, MaxEpochs: 5}, audio.KMeansMeta{FeatureType: "mfcc", LabelRate: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, m := range feats {
		labels, _ := km.Assign(m, nil)
		used := map[int32]bool{}
		for _, l := range labels {
			used[l] = true
		}
		fmt.Printf("utterance %d: %d frames labelled with %d of the %d clusters\n", i+1, len(labels), len(used), km.Meta.K)
	}
	fmt.Println("sampled frames:", sample.Rows)
	// Output:
	// utterance 1: 219 frames labelled with 7 of the 8 clusters
	// utterance 2: 241 frames labelled with 8 of the 8 clusters
	// sampled frames: 460
}

// Frame matrices of different lengths become one padded batch with a
// padding mask (true = padded), fairseq's padding_mask; the random crop
// of an over-long row comes from that row's own stream.
func ExampleCollateFrames() {
	a := audio.Matrix{Rows: 5, Cols: 2, Data: make([]float32, 10)}
	b := audio.Matrix{Rows: 3, Cols: 2, Data: make([]float32, 6)}
	rngs := []*rand.Rand{pipeline.SampleRand(1, 0, 0, 0), pipeline.SampleRand(1, 0, 1, 0)}
	batch, err := audio.CollateFrames(rngs, []audio.Matrix{a, b}, audio.CollateOptions{Pad: true, MaxLen: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(batch.B, batch.T, batch.Dim, batch.Lengths)
	fmt.Println(batch.Padding[batch.T:]) // row 1
	// Output:
	// 2 4 2 [4 3]
	// [false false false true]
}

// RandomCrop is fairseq's crop_to_max_size: a window of at most maxLen
// samples at a uniformly drawn offset (an alias of the input, no copy).
func ExampleRandomCrop() {
	x := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	c := audio.RandomCrop(pipeline.SampleRand(7, 0, 3, 0), x, 4)
	fmt.Println(len(c), c[1]-c[0] == 1, c[0] >= 0 && c[3] <= 9)
	fmt.Println(len(audio.RandomCrop(nil, x[:3], 4))) // shorter than maxLen: unchanged
	// Output:
	// 4 true true
	// 3
}
