// Package data2vec2 is data2vec 2.0 (Baevski et al. 2022, "Efficient
// Self-supervised Learning with Contextualized Target Representations for
// Vision, Speech and Language") for images, audio and text, after
// fairseq's data2vec_multi model (examples/data2vec/models/data2vec2.py
// and modalities/).
//
// # Objective
//
// A front-end (patch embedding with fixed sin-cos positions, the wav2vec
// 2.0 CNN, or token embeddings) runs once on each whole sample. The EMA
// teacher encodes the unmasked sample once and its targets, the mean of
// the top-K blocks' feed-forward outputs each instance-normalized over
// time (images: layer-normalized again), serve CloneBatch copies of the
// sample, each masked differently (Masker: inverse block masks for
// images, spans for audio, a random subset for text; every copy of a
// batch masks the same number of positions). The student's Transformer
// encodes only the kept positions of each copy (MAE-style); a light
// convolutional decoder (2-D on the patch grid, 1-D otherwise) gets the
// encoder's outputs back at their places and noise at the masked ones, and
// predicts the targets there. The loss is the squared error summed over
// dimensions, scaled by 1/√D (text: 1), averaged over the masked positions;
// images add the CLS output's error against the targets' mean (Model.Loss
// gives the exact weighting).
//
// # Differences from fairseq
//
//   - The encoder is train/transformer's (post-LN blocks with a layer norm
//     before the first, as fairseq's image and audio context encoders;
//     text has that layer norm too, after its embedding layer norm). No
//     ALiBi attention bias for audio: positions come from the
//     convolutional positional encoder only.
//   - The image model's 2-block modality prenet and its shared blocks are
//     one encoder (12 blocks, targets from the top 10, as fairseq).
//   - Audio masks have a fixed count per sample, the expected union of
//     fairseq's spans (audio.ExpectedSpanCount), rather than the smallest
//     count in the batch, so a sample's mask does not depend on its batch.
//   - Only the squared error (fairseq's loss_beta 0 in all base models).
//
// # Training
//
// The package registers the method "data2vec2" with package train (link it
// with train/methods):
//
//	sslpipe train --method data2vec2 --data fashion-mnist:train            # preset image-cpu
//	sslpipe train --method data2vec2 --data SPEECH_DIR --preset audio-cpu
//	sslpipe train --method data2vec2 --data /usr/share/games/fortunes --tokenizer tok.json   # text-cpu
//	sslpipe train --method data2vec2 --preset smoke --data ANY             # 20 steps of a toy model
//
// The config's model block is ModelConfig (the encoder and objective, and
// one block per modality: the data's modality picks it) and its
// "data2vec2" block is Settings (teacher EMA schedule, collapse monitor).
// Presets: <modality>-base (fairseq's base models), <modality>-cpu (the
// sizes of train/data2vec's CPU presets) and smoke. Checkpoints hold the
// student under its parameter names, the teacher under teacher.* and
// AdamW's moments under optim.*; metrics.jsonl adds reg_loss, cls_loss
// (images), target_var, pred_var, grad_norm, tau, masked_frac and
// collapse_warnings. sslpipe eval and embed use the student's encoder
// output (or the teacher's, or block --layer's), averaged over positions.
//
// # Threads and tensors
//
// Functions that touch tensors lock nothing themselves: callers run them
// on one locked OS thread (op.LockThread). Every tensor made in a step is
// freed by its op.Tape; libtorch errors come back as Go errors. A Model is
// not safe for concurrent use; a Masker is.
package data2vec2
