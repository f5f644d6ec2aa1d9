// Package data2vec pretrains data2vec (Baevski et al. 2022) on text,
// images and speech with one objective: a student Transformer sees a
// masked input and regresses, at the masked positions, the average of the
// top-K blocks' outputs of an EMA teacher that sees the unmasked input.
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
// Targets (Model.Targets) average the teacher's top-K blocks' feed-forward
// outputs, taken before each block's last residual connection
// (transformer.Output.FFN), each instance-normalized over time (speech) or
// layer-normalized (text, vision) first. A regression head (1 or 2
// layers) maps the student's output to the targets; the loss is Smooth L1
// (beta) or squared error summed over dimensions, on masked positions
// only, scaled by 1/sqrt(D) and averaged over masked positions (fairseq).
//
// # Collapse monitor
//
// Every step computes fairseq's target and prediction variance (Variance:
// mean per-dimension standard deviation over the masked positions); below
// Collapse.MinTargetVar (0.1) or MinPredVar (0.01) after Collapse.After
// steps a warning is printed and counted, or with Collapse.Stop the run ends
// with ErrCollapse. metrics.jsonl records target_var, pred_var and
// min_target_var (the window's smallest) on every logged line.
//
// # Run folder
//
//	RUN_DIR/config.yaml        the resolved Config (LoadConfig reads it back)
//	RUN_DIR/metrics.jsonl      one Metrics object per logged step
//	RUN_DIR/model.safetensors  student ("encoder.*", front-end, head) and teacher ("teacher.encoder.*")
//	RUN_DIR/tokenizer.json     text runs: the WordPiece tokenizer trained on the data
//
// # Threads and tensors
//
// Functions that touch tensors lock their goroutine to its OS thread,
// free every tensor they make (transformer.Tape) and return libtorch errors
// as Go errors; nothing calls gotch's Must* functions. A Model is not safe
// for concurrent use.
package data2vec
