// Package audio turns WAV files into the inputs and targets of speech
// self-supervised learning (HuBERT, data2vec audio): a streaming WAV decoder
// that validates headers before allocating, a band-limited resampler,
// Kaldi-compatible filterbank and MFCC features that match
// torchaudio.compliance.kaldi to within 1e-3, deltas and CMVN, fairseq-style
// span masks and SpecAugment masks, crops and padded batches, and mini-batch
// k-means targets with labels downsampled to the encoder frame rate.
//
// Concurrency: decoders, Extractors and KMeans values are not safe for
// concurrent use; make one per goroutine (an Extractor is cheap to copy with
// Clone). Package-level functions are pure and safe for concurrent use.
// Randomness comes only from an explicit *rand.Rand (math/rand/v2); derive it
// per sample with pipeline.SampleRand so results do not depend on scheduling.
//
// Buffers: functions that return slices allocate them unless they take a dst
// argument; no function retains a caller's slice after it returns.
package audio
