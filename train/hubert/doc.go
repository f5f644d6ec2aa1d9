// Package hubert pretrains HuBERT (Hsu et al. 2021) on speech: a wav2vec
// 2.0 CNN feature encoder (train/wavenc), layer norm and projection, span
// masking with a learned mask embedding (audio.SpanMaskBatch, prob 0.8,
// length 10), the Transformer encoder (train/transformer), a final
// projection to 256 and learned label embeddings; cosine logits / 0.1 and
// cross-entropy on masked frames, plus the CNN feature penalty (weight 10),
// with the CNN's gradients scaled by 0.1. Targets are k-means cluster ids
// of frames: MFCC + deltas for iteration 1, a trained model's layer for
// iteration 2 (Labels, Targets).
//
// The model's forward pass, loss and AdamW update equal torchaudio 0.13's
// HuBERTPretrainModel on a toy model (TestParityTorchaudio; goldens from
// testdata/make_parity.py). Parameter names are torchaudio's, so exported
// weights load into torchaudio.models.hubert_pretrain_model.
//
// All functions that touch tensors lock their goroutine to its OS thread
// and free every tensor they make; none calls gotch's Must* functions.
package hubert
