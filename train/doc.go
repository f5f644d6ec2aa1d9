// Package train trains self-supervised models on libtorch through gotch:
// the trainer core every method shares (loop with hooks, optimizers,
// schedules, EMA teachers, checkpoints, run folders, metrics) and the
// first method, BYOL on images.
//
// # Threads and tensors
//
// libtorch reports errors through a C thread-local, so every function in
// this package that touches tensors locks its goroutine to its OS thread
// for the duration of the call (runtime.LockOSThread). Tensors are freed
// deterministically (Drop) each step; nothing relies on finalizers.
// Functions return errors; nothing in this package calls gotch's Must*
// functions (they log.Fatal and skip deferred checkpoint writes).
//
// # Run folder
//
// A training run writes everything into one folder, RUN_DIR:
//
//	RUN_DIR/config.yaml                  the resolved Config (every option; reload with LoadConfig)
//	RUN_DIR/metrics.jsonl                one JSON object per logged step (see Metrics)
//	RUN_DIR/checkpoints/step-00001000.ckpt  checkpoints; the last Config.Checkpoint.Keep are kept
//	RUN_DIR/export/backbone-teacher.safetensors  backbone weights for PyTorch (ExportSafetensors)
//	RUN_DIR/plots/*.png                  loss / lr / tau / kNN curves (when the plot hook ran)
//
// A checkpoint is a safetensors file (readable by the safetensors Python
// package) whose "__metadata__" entry "sslpipe" holds a JSON State: format
// version, method, architecture, step, schedule position, optimizer step,
// pipeline state (pipeline.State), RNG state, NaN-skip count and a SHA-256
// of the tensor bytes. Its tensors are the online network ("online."),
// the EMA teacher ("target.") and the optimizer state ("optim.<param>.<slot>").
// It is written to a temp file in the same folder, fsynced and renamed,
// then the folder is fsynced. A truncated, corrupt or mismatched checkpoint
// is rejected with an error wrapping ErrBadCheckpoint.
//
// metrics.jsonl lines hold at least: step, epoch, loss, lr, tau,
// samples_per_sec, step_ms, data_wait_frac (fraction of wall time the
// trainer waited for the pipeline), nan_skipped, emb_std (mean per-dim std of
// L2-normalized backbone embeddings of the batch: ~1/sqrt(dim) healthy,
// -> 0 on collapse), rss_mb, and, on evaluation steps, knn_top1.
//
// # Parameter names
//
// Backbone parameters use torchvision's ResNet names (conv1.weight,
// bn1.running_mean, layer1.0.conv1.weight, layer2.0.downsample.0.weight,
// ...), so an exported ResNet-18 backbone loads into
// torchvision.models.resnet18() with load_state_dict(..., strict=False)
// (fc is absent; for the CIFAR stem replace conv1 by a 3x3 stride-1 conv
// and maxpool by Identity first). The small ConvNet uses
// features.<i>.{weight,bias,running_mean,running_var} with the indices
// of the equivalent torch.nn.Sequential. Heads are
// projector.{0,1,3}.* and predictor.{0,1,3}.* (Linear, BatchNorm1d, ReLU,
// Linear).
//
// # Encoders for evaluation and embedding
//
// Evaluation code maps images to backbone embeddings without knowing the
// training method:
//
//	enc, err := train.OpenEncoder("runs/demo/byol", train.EncoderOptions{Network: "teacher"})
//	if err != nil { ... }
//	defer enc.Close()
//	in := enc.Input()                 // channels, size, mean, std the encoder expects
//	feats, err := enc.Embed(x, shape)  // x: float32 NCHW, already normalized; returns N x enc.Dim()
//	feats, err = enc.EmbedImages(imgs) // or 8-bit augment images: converted, resized, normalized
//
//	rnd, err := train.RandomEncoder("runs/demo/byol", train.EncoderOptions{}) // same architecture, random init, config's seed
//
// Network "teacher" (the EMA target, the default for BYOL) or "student"
// (the online network). An Encoder runs in evaluation mode (BatchNorm uses
// running statistics). Encoder methods may be called from any goroutine,
// one call at a time per Encoder.
//
// # Training
//
//	cfg, _ := train.Preset("byol", "fmnist-quick")   // or DefaultConfig("byol"), LoadConfig(path)
//	cfg.Dir = "runs/demo/byol"
//	res, err := train.Run(ctx, cfg, train.RunOptions{Hooks: ...})
//
// Run streams two-view batches from pipeline/ (prefetched, so augmentation
// overlaps the step), trains until cfg.Schedule.Steps, calls hooks every
// N steps, writes checkpoints every cfg.Checkpoint.Every steps and, when
// ctx is cancelled (Ctrl-C, SIGTERM), writes a final checkpoint and
// returns ctx's error. RunOptions.Resume continues a run folder exactly
// (same batches, schedules, optimizer state and RNG).
package train
