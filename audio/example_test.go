package audio_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/audio"
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
