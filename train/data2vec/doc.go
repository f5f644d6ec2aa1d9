// Package data2vec pretrains data2vec (Baevski et al. 2022) on text,
// images and speech with one objective: a student Transformer sees a
// masked input and regresses, at the masked positions, the average of the
// top-K blocks' outputs of an EMA teacher that sees the unmasked input.
// It registers the method "data2vec" with package train: `sslpipe train
// --method data2vec --data SPEC` trains it on the shared loop, and
// `sslpipe eval` / `sslpipe embed` use its encoder.
//
// # Model
//
// Front-ends per modality feed the shared Transformer encoder
// (train/transformer):
//
//   - text: token and learned position embeddings with a layer norm;
//     span masking (text.Masker.Span: 0.35 x length 4, 80/10/10) or BERT
//     masking (15%);
//   - image: ViT patch embedding (patch and image size configurable, 4x4
//     patches of 28x28 Fashion-MNIST in the CPU preset, 16x16 of 224 in
//     the base preset) and learned position embeddings; block-wise masking
//     of ~60% of the patch grid (augment.MaskSpec), masked patches replaced
//     by a learned embedding;
//   - audio: the wav2vec 2.0 CNN encoder (train/wavenc), layer norm and
//     projection; span masking over frames (audio.SpanMaskBatch, 0.65 x 10).
//
// The teacher is an EMA of the student's encoder (EMAConfig.TauAt: linear
// from Start to End over AnnealSteps, then End) and reads the student's
// front-end output on the unmasked input (fairseq's ema_transformer_only).
// Targets (ModelConfig.TopK) average the teacher's top-K blocks'
// feed-forward outputs, taken before each block's last residual
// connection (transformer.Output.FFN), each instance-normalized over time
// (speech) or layer-normalized (text, vision) first. A regression head (1
// or 2 layers) maps the student's output to the targets; the loss is
// Smooth L1 (beta) or squared error summed over dimensions, on masked
// positions only, scaled by 1/sqrt(D) and averaged over masked positions
// (fairseq).
//
// # Configuration
//
// The model block (config key model:) is ModelConfig; data2vec's own block
// (key data2vec:) is Settings: the EMA schedule, the collapse monitor and
// the image flip and normalization. The optimizer (AdamW in every preset)
// and the learning-rate schedule (linear warm-up, cosine decay to 0) are
// the shared optim: and schedule: blocks. Presets: <modality>-base (the
// paper's base models, for a GPU), <modality>-cpu (`make demo`),
// <modality>-reproduce (`make reproduce`: the CPU runs three times longer)
// and smoke-<modality> (20 steps in seconds, to check a set-up); the
// default for a dataset is its modality's -cpu preset. A run shorter than
// its preset also shortens the EMA anneal and the collapse monitor's
// start (Method.Scale).
//
// # Data
//
// Text trains on the token ids of `sslpipe preprocess --modality text`
// shards with the dataset's own tokenizer (model.vocab is set from it, its
// [MASK] and special ids drive the masking); images and audio on their
// shards (or raw folders, or fashion-mnist:train). Per-sample work runs on
// the pipeline's workers and every draw comes from the sample's key (see
// Trainer.Batches in package train): images are converted to the model's
// channels and size, mirrored with probability Settings.FlipP, normalized,
// cut into patches and masked; a text or audio batch is cut to its
// shortest example (at most model.seq_len tokens or model.max_samples
// samples) at a random offset in each, then masked.
//
// # Collapse monitor
//
// Every step computes fairseq's target and prediction variance (Variance:
// mean per-dimension standard deviation over the masked positions); below
// Collapse.MinTargetVar (0.1) or MinPredVar (0.01) after Collapse.After
// steps a warning is printed and the step counted (metric collapse: the
// fraction of a log window's steps), or with Collapse.Stop the run ends
// with a checkpoint and an error wrapping ErrCollapse. metrics.jsonl
// records target_var, pred_var, tau, grad_norm, masked_frac and
// min_target_var (the window's smallest).
//
// # Run folder
//
// Besides the shared files (config.yaml, metrics.jsonl, checkpoints/ with
// the student, the teacher "teacher.encoder.*" and the AdamW moments
// "optim.*"), a run writes:
//
//	RUN/model.safetensors  student and teacher, metadata "sslpipe" = {method, modality, step, config}
//	RUN/tokenizer.json     text runs: the dataset's tokenizer (for eval/embed of raw text)
//
// # Threads and tensors
//
// Functions that touch tensors lock their goroutine to its OS thread,
// free every tensor they make (op.Tape) and return libtorch errors as Go
// errors; nothing calls gotch's Must* functions. A Model is not safe for
// concurrent use.
package data2vec
