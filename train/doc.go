// Package train is the trainer core every sslpipe method shares: the
// method registry, one configuration schema and loader, the run loop
// (metrics, progress, checkpoints, exact resume, bad-sample reports,
// plots, the online kNN monitor, data-parallel hooks), schedules and run
// folders. Methods live in their own packages (train/byol, train/hubert,
// train/data2vec, ...) and register themselves; the core and the command
// line know them only through the registry (Register, Lookup, Methods).
//
// # Threads and tensors
//
// libtorch reports errors through a C thread-local, so every function in
// this package that touches tensors locks its goroutine to its OS thread
// for the duration of the call (runtime.LockOSThread). Tensors are freed
// deterministically each step; nothing relies on finalizers, and nothing
// calls gotch's Must* functions (they log.Fatal and skip deferred
// checkpoint writes).
//
// # Training from Go
//
//	import _ "github.com/sslpipe/sslpipe/train/methods" // every built-in method
//
//	cfg, err := train.PresetConfig("byol", "fmnist-quick") // or train.LoadConfig(path)
//	cfg.Data.Spec, cfg.Out = "data/fmnist-train", "runs/byol"
//	res, err := train.Run(ctx, cfg, train.RunOptions{Progress: os.Stderr})
//
// Run opens the data spec (package train/data: a preprocess output folder,
// a shard glob, a raw folder or a built-in set), builds the method's
// trainer, streams its batches through the pipeline (decoding and
// augmentation on workers, prefetched so they overlap the step) and trains
// until cfg.Schedule.Steps. RunOptions.Data takes a dataset built in Go
// (data.New) and RunOptions.Stages adds the caller's own pipeline stages
// in front of the method's. When ctx is cancelled (Ctrl-C, SIGTERM) it
// writes a checkpoint and returns ctx's error; RunOptions.Resume continues
// a run exactly (same batches, schedules, optimizer state and RNG).
//
// # Run folder
//
//	RUN/config.yaml                     the resolved Config (reload with LoadConfig)
//	RUN/metrics.jsonl                   one JSON object per logged step
//	RUN/errors.jsonl                    one line per skipped bad sample: step, epoch, shard, key, stage, error
//	RUN/checkpoints/step-00001000.ckpt  checkpoints; the newest checkpoint.keep are kept
//	RUN/plots/*.png                     loss, schedules, throughput, kNN and every method metric
//	RUN/...                             the method's own files (exported weights)
//
// metrics.jsonl lines hold step, epoch, loss (the window's mean), lr,
// samples_per_s, data_wait_fraction (time the step waited for its batch
// over the window's wall time), step_ms, elapsed_s, nan_skipped,
// bad_samples, rss_mb, knn_top1 on monitor steps, <unit>_per_s for methods
// that count audio seconds or tokens, and the method's own metrics (its
// StepResult.Metrics, averaged over the window).
//
// A checkpoint is a safetensors file (readable by the safetensors Python
// package) whose "__metadata__" entry "sslpipe" holds a JSON State: format
// version, method, batch, seed, world size, step, optimizer updates, the
// data position (pipeline.State), the skipped-sample count, the
// configuration's fingerprint and a SHA-256 of the tensor bytes. It is
// written to a temp file in the same folder, fsynced and renamed, then the
// folder is fsynced. A truncated, corrupt or mismatched checkpoint (another
// method, or a configuration whose fingerprint differs: another learning
// rate, schedule or model) is rejected with an error wrapping
// ErrBadCheckpoint that lists the differing lines.
package train
