// Package hubert pretrains HuBERT (Hsu et al. 2021) on speech: a wav2vec
// 2.0 CNN feature encoder (train/wavenc), layer norm and projection, span
// masking with a learned mask embedding (audio.SpanMaskBatch, prob 0.8,
// length 10), the Transformer encoder (train/transformer), a final
// projection to 256 and learned label embeddings; cosine logits / 0.1 and
// cross-entropy on masked frames, plus the CNN feature penalty (weight 10),
// with the CNN's gradients scaled by 0.1.
//
// It registers the method "hubert" (audio) with package train, so that
// `sslpipe train --method hubert --data DS` trains it on the shared loop
// (checkpoints, exact resume, metrics, errors.jsonl). Its config blocks
// are the model (ModelConfig, under model:) and Settings (under hubert:);
// the optimizer is the shared optim block (AdamW with fairseq's betas (0.9,
// 0.98), eps 1e-6, weight decay 0.01, clipping at 10; Settings.CNNLRScale
// slows the CNN) and the schedule the shared one (kind linear: fairseq's
// polynomial decay after a linear warm-up).
//
// # Targets
//
// The targets are k-means cluster ids of frames at 50 Hz, one per CNN
// frame. Iteration 1 reads the km.npy members of `sslpipe preprocess
// --modality audio --features mfcc --deltas --kmeans 100`; iteration 2
// clusters a trained run's transformer block (LayerLabels, `sslpipe hubert
// labels`) into a label set that the data joins by sample (config
// data.labels, flag --labels). The dataset's k becomes model.num_classes,
// so the model's dictionary is the labels' by construction. Each example
// is checked before it is batched (Check: labels present, as many as the
// CNN makes frames within 0.1 s, each below k); a bad one is a per-sample
// error naming it, which the run skips and reports or, under max_errors,
// stops on. Crops and masks come from each sample's own random stream
// (seed, epoch, index) and layer drop from the step, so batches do not
// depend on worker counts and a resumed run takes the same steps.
//
// # Parity
//
// The model's forward pass, loss and AdamW update equal torchaudio 0.13's
// HuBERTPretrainModel on a toy model (TestParityTorchaudio; goldens from
// testdata/make_parity.py). Parameter names are torchaudio's, so
// RUN/model.safetensors loads into torchaudio.models.hubert_pretrain_model.
//
// All functions that touch tensors lock their goroutine to its OS thread
// and free every tensor they make; none calls gotch's Must* functions.
package hubert
