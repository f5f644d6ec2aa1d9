package hubert

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/sslpipe/sslpipe/audio"
	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/data"
)

// SampleRate is the only rate the models take.
const SampleRate = 16000

// ErrData is wrapped by every error about one utterance or its labels (a
// wave shorter than the receptive field, labels missing, of the wrong
// length or outside the dictionary); the message names the sample.
var ErrData = errors.New("hubert: bad data")

// LabelTolerance is how many frames the label count may differ from the
// CNN's frame count for the wave: fairseq's HubertDataset tolerance of
// 0.1 s (audio.LabelTolerance) at the label rate, 5 frames at 50 Hz.
// Labels beyond the frames are dropped; frames beyond the labels are cut
// from the wave.
func LabelTolerance(labelRate float64) int { return int(audio.LabelTolerance*labelRate + 1e-9) }

// Utterance is one checked training example: a 16 kHz wave and one label
// per CNN frame of it.
type Utterance struct {
	Key    string
	Wave   []float32 // cut to the samples the labels cover
	Labels []int32   // len = the CNN's frame count for Wave
}

// Check validates one example against the model: 16 kHz audio at least
// the CNN's receptive field long, frame labels present (km.npy or a joined
// label set), as many of them as the CNN makes frames for the wave
// (within LabelTolerance) and each in [0, num_classes). Errors wrap
// ErrData and name the sample's key, so that a run skips the sample and
// reports it in RUN/errors.jsonl.
func Check(ex data.Example, mc ModelConfig) (Utterance, error) {
	bad := func(format string, a ...any) (Utterance, error) {
		return Utterance{}, fmt.Errorf("%w: sample %s: %s", ErrData, ex.Key, fmt.Sprintf(format, a...))
	}
	if ex.Rate != SampleRate {
		return bad("audio at %d Hz, the model takes %d Hz", ex.Rate, SampleRate)
	}
	rf, stride := mc.CNN.ReceptiveField(), mc.CNN.Stack().Stride()
	frames := mc.CNN.Frames(len(ex.Wave))
	if frames == 0 {
		return bad("%d samples is shorter than the CNN's receptive field of %d", len(ex.Wave), rf)
	}
	if ex.Labels == nil {
		return bad("no frame labels (no km.npy member, and no label set joined)")
	}
	rate := mc.LabelRate()
	if d, tol := len(ex.Labels)-frames, LabelTolerance(rate); d > tol || -d > tol {
		return bad("%d labels at %g Hz for %d samples (%.3f s), which make %d CNN frames (tolerance %d frames, %.1f s): labels made for other audio?",
			len(ex.Labels), rate, len(ex.Wave), float64(len(ex.Wave))/SampleRate, frames, tol, audio.LabelTolerance)
	}
	k := int32(mc.NumClasses)
	for i, l := range ex.Labels {
		if l < 0 || l >= k {
			return bad("label %d at frame %d is outside the dictionary [0, %d) (model.num_classes)", l, i, k)
		}
	}
	n := min(frames, len(ex.Labels))
	return Utterance{Key: ex.Key, Wave: ex.Wave[:min(len(ex.Wave), stride*(n-1)+rf)], Labels: ex.Labels[:n]}, nil
}

// Collate crops utts to one frame-aligned length (the shortest
// utterance, at most maxSamples) at random frame-aligned offsets and
// draws span masks (audio.SpanMaskBatch); utterance i's offset and mask
// come from rngs[i], so that a batch is a function of its samples alone.
// The labels must come from Check.
func Collate(utts []Utterance, rngs []*rand.Rand, maxSamples int, mc ModelConfig) (*Batch, error) {
	if len(utts) == 0 || len(rngs) != len(utts) {
		return nil, fmt.Errorf("hubert: collate: %d utterances and %d random streams", len(utts), len(rngs))
	}
	stack := mc.CNN.Stack()
	stride := stack.Stride()
	L := maxSamples
	for i := range utts {
		L = min(L, len(utts[i].Wave))
	}
	T := stack.Frames(L)
	if T <= 0 {
		return nil, fmt.Errorf("%w: a batch crop of %d samples gives no frames", ErrData, L)
	}
	b := &Batch{B: len(utts), L: L, Wave: make([]float32, 0, len(utts)*L), Labels: make([]int64, 0, len(utts)*T), Train: true}
	lengths := make([]int, len(utts))
	for i := range utts {
		u := &utts[i]
		lengths[i] = T
		j := 0
		if jmax := (len(u.Wave) - L) / stride; jmax > 0 {
			j = rngs[i].IntN(jmax + 1)
		}
		b.Wave = append(b.Wave, u.Wave[j*stride:j*stride+L]...)
		for _, l := range u.Labels[j : j+T] {
			b.Labels = append(b.Labels, int64(l))
		}
	}
	masks, err := audio.SpanMaskBatch(rngs, lengths, T, mc.Mask)
	if err != nil {
		return nil, err
	}
	b.Mask = make([]bool, 0, len(utts)*T)
	for _, mk := range masks {
		b.Mask = append(b.Mask, mk...)
	}
	return b, nil
}

// Random stream views of a sample (pipeline.Sample.Rand).
const (
	viewCrop  = 0 // crop offset, then mask
	viewValid = 7 // validation crops and masks (keyed by the utterance's place in the held-out set)
)

// batches is HuBERT's data path: Check on the pipeline's workers (a bad
// sample becomes a per-sample error naming it), batches of batch
// utterances, and Collate keyed by each sample's (seed, epoch, index).
func batches(examples *pipeline.Stream[data.Example], mc ModelConfig, maxSamples, batch, workers int) *pipeline.Stream[any] {
	checked := pipeline.Map(examples, func(_ context.Context, s pipeline.Sample[data.Example]) (Utterance, error) {
		return Check(s.Value, mc)
	}, pipeline.MapOptions{Name: "hubert-labels", Workers: workers})
	bs := pipeline.Batches(checked, pipeline.BatchOptions{Size: batch, DropLast: true})
	return pipeline.Map(bs, func(_ context.Context, s pipeline.Sample[pipeline.Batch[Utterance]]) (any, error) {
		utts := make([]Utterance, len(s.Value.Samples))
		rngs := make([]*rand.Rand, len(utts))
		for i, x := range s.Value.Samples {
			utts[i], rngs[i] = x.Value, x.Rand(viewCrop)
		}
		return Collate(utts, rngs, maxSamples, mc)
	}, pipeline.MapOptions{Name: "collate", Workers: 1})
}
