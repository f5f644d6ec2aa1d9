package audio_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/pipeline"
)

// HuBERT's MFCC targets: torchaudio.compliance.kaldi.mfcc defaults
// (use_energy false) plus deltas and delta-deltas.
func ExampleExtractor() {
	wave, info, err := audio.ReadWAV("testdata/utt3.wav", nil)
	if err != nil {
		panic(err)
	}
	ex, err := audio.NewExtractor(audio.DefaultOptions(audio.MFCC))
	if err != nil {
		panic(err)
	}
	mfcc, _ := ex.Compute(audio.Matrix{}, wave, nil) // rng only needed with Dither > 0
	feats := audio.Deltas(audio.Matrix{}, mfcc, 2, 2)
	audio.CMVN(feats, false)
	fmt.Printf("%d Hz, %.2f s -> %d frames x %d\n", info.SampleRate, info.Duration(), feats.Rows, feats.Cols)
	// Output: 16000 Hz, 1.24 s -> 122 frames x 39
}

func ExampleDecodeConfig() {
	info, err := audio.DecodeConfig("testdata/utt2.wav")
	if err != nil {
		panic(err)
	}
	fmt.Println(info.Channels, info.SampleRate, info.BitsPerSample, info.Frames)
	// Output: 1 16000 16 38841
}

func ExampleResample() {
	x := make([]float32, 44100) // one second at 44.1 kHz
	y, _ := audio.Resample(x, 44100, 16000)
	fmt.Println(len(y))
	// Output: 16000
}

func ExampleAlignLabels() {
	// 100 Hz k-means labels for 1 s of audio, mapped to the 50 Hz encoder.
	labels := make([]int32, 98)
	enc, err := audio.AlignLabels(labels, 100, 16000, 16000, audio.Wav2Vec2Conv, 100)
	fmt.Println(len(enc), err)
	// Output: 49 <nil>
}

// Streaming decode: a long file is read in fixed-size blocks; nothing but
// the block is held in memory.
func ExampleNewDecoder() {
	f, err := os.Open("testdata/utt1.wav")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	d, err := audio.NewDecoder(f, st.Size(), "utt1.wav")
	if err != nil {
		panic(err)
	}
	block := make([]float32, 4096)
	var n int
	var peak float32
	for {
		k, err := d.Read(block)
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		for _, v := range block[:k] {
			peak = max(peak, v, -v)
		}
		n += k
	}
	fmt.Println(n == int(d.Info().Frames), peak > 0.1)
	// Output: true true
}

// A padded batch of three waveforms cropped to at most 4 samples, each row
// with its own random stream.
func ExampleCollateWaves() {
	waves := [][]float32{{1, 2, 3, 4, 5, 6}, {7, 8}, {9, 10, 11}}
	rngs := []*rand.Rand{pipeline.SampleRand(1, 0, 0, 0), pipeline.SampleRand(1, 0, 1, 0), pipeline.SampleRand(1, 0, 2, 0)}
	b, _ := audio.CollateWaves(rngs, waves, audio.CollateOptions{Pad: true, MaxLen: 4})
	fmt.Println(b.B, b.T, b.Lengths, b.Padding[4:8])
	// Output: 3 4 [4 2 3] [false false true true]
}

// HuBERT masks for a padded batch: every row gets the same number of masked
// frames, padding is never masked.
func ExampleSpanMaskBatch() {
	lengths := []int{100, 80}
	rngs := []*rand.Rand{pipeline.SampleRand(7, 0, 0, 0), pipeline.SampleRand(7, 0, 1, 0)}
	masks, _ := audio.SpanMaskBatch(rngs, lengths, 100, audio.MaskConfig{Prob: 0.8, Length: 10, RequireSameMasks: true})
	count := func(m []bool) (n int) {
		for _, v := range m {
			if v {
				n++
			}
		}
		return n
	}
	fmt.Println(count(masks[0]) == count(masks[1]), masks[1][85])
	// Output: true false
}

func ExampleSpecAugment_Apply() {
	m := audio.Matrix{Data: make([]float32, 100*80), Rows: 100, Cols: 80}
	s := audio.SpecAugment{TimeMasks: 2, TimeMaxWidth: 20, FreqMasks: 2, FreqMaxWidth: 10}
	times, freqs := s.Apply(rand.New(rand.NewPCG(1, 2)), m)
	fmt.Println(len(times), len(freqs))
	// Output: 2 2
}

// Codebooks carry their metadata; LoadKMeans checks it against the
// centroids.
func ExampleLoadKMeans() {
	dir, _ := os.MkdirTemp("", "km")
	defer os.RemoveAll(dir)
	frames := audio.Matrix{Data: []float32{0, 0, 0.1, 0, 5, 5, 5.1, 5}, Rows: 4, Cols: 2}
	km, _ := audio.FitKMeans(rand.New(rand.NewPCG(1, 1)), frames, audio.KMeansConfig{K: 2, BatchSize: 4, NInit: 1, MaxEpochs: 2},
		audio.KMeansMeta{FeatureType: "toy", LabelRate: 100, SourceHash: audio.SourceHash([]string{"a.wav:4"})})
	path := filepath.Join(dir, "km.bin")
	if err := km.Save(path); err != nil {
		panic(err)
	}
	back, err := audio.LoadKMeans(path)
	if err != nil {
		panic(err)
	}
	labels, _ := back.Assign(frames, nil)
	fmt.Println(back.Meta.FeatureType, back.Meta.K, back.Meta.Dim, labels[0] == labels[1], labels[1] != labels[2])
	// Output: toy 2 2 true true
}
