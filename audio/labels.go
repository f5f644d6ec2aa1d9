package audio

import (
	"fmt"
	"math"
)

// ConvStack describes a strided 1-D convolutional feature encoder by its
// kernel sizes and strides (no padding), to count its output frames.
type ConvStack struct {
	Kernels, Strides []int
}

// Wav2Vec2Conv is the wav2vec 2.0 / HuBERT CNN encoder: 320 samples per
// frame (50 Hz at 16 kHz), receptive field 400 samples.
var Wav2Vec2Conv = ConvStack{
	Kernels: []int{10, 3, 3, 3, 3, 2, 2},
	Strides: []int{5, 2, 2, 2, 2, 2, 2},
}

// Frames is the number of output frames for n input samples: each layer
// maps L to floor((L - kernel)/stride) + 1 (0 once L < kernel).
func (c ConvStack) Frames(n int) int {
	for i, k := range c.Kernels {
		if n < k {
			return 0
		}
		n = (n-k)/c.Strides[i] + 1
	}
	return n
}

// Stride is the product of the strides (samples per output frame).
func (c ConvStack) Stride() int {
	s := 1
	for _, v := range c.Strides {
		s *= v
	}
	return s
}

// LabelTolerance is the largest difference, in seconds, between the audio
// duration and the label duration (len/rate) that AlignLabels accepts; it is
// fairseq's HubertDataset tolerance.
const LabelTolerance = 0.1

// AlignLabels maps frame labels at labelRate (Hz; 100 for MFCC k-means
// labels) onto the output frames of enc for numSamples samples at
// sampleRate, like fairseq's HuBERT forward_targets: with
// r = labelRate·stride/sampleRate (2 for 100 Hz labels and a 320-sample
// encoder), encoder frame i takes label floor(i·r), and the frame count is
// cut to int(len(labels)/r) when the labels run out first.
//
// It first checks that the labels describe this audio: a duration mismatch
// over LabelTolerance seconds wraps ErrKMeans and names the numbers. Every
// label must lie in [0, k) (k <= 0 skips that check).
func AlignLabels(labels []int32, labelRate float64, numSamples, sampleRate int, enc ConvStack, k int) ([]int32, error) {
	if labelRate <= 0 || sampleRate <= 0 {
		return nil, fmt.Errorf("%w: label rate %v, sample rate %d", ErrKMeans, labelRate, sampleRate)
	}
	audioDur := float64(numSamples) / float64(sampleRate)
	labelDur := float64(len(labels)) / labelRate
	if math.Abs(audioDur-labelDur) > LabelTolerance {
		return nil, fmt.Errorf("%w: %d labels at %g Hz last %.3f s but the audio lasts %.3f s", ErrKMeans, len(labels), labelRate, labelDur, audioDur)
	}
	for i, l := range labels {
		if k > 0 && (l < 0 || int(l) >= k) {
			return nil, fmt.Errorf("%w: label %d at frame %d outside [0, %d)", ErrKMeans, l, i, k)
		}
	}
	r := labelRate * float64(enc.Stride()) / float64(sampleRate)
	n := enc.Frames(numSamples)
	if r*float64(n) > float64(len(labels)) {
		n = int(float64(len(labels)) / r)
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = labels[int(float64(i)*r)]
	}
	return out, nil
}
