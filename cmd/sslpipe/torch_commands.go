package main

import "context"

// torchCommands are the commands that need libtorch: they are built only
// with cgo, and the pure-Go build hands them to sslpipe-torch. The cgo
// build's TestTorchCommandListComplete keeps this list in step with the
// cmd_*.go files that carry `//go:build cgo`.
var torchCommands = map[string]string{
	"doctor":   "check libtorch, CUDA, cuDNN and BLAS; --smoke trains a tiny MLP",
	"train":    "pretrain any method on any dataset into a run folder (--method byol|hubert|data2vec|...)",
	"eval":     "probe any run's encoder (kNN, linear) on labelled data against random init and a baseline",
	"embed":    "write a run's embeddings of any dataset to .npy with the sample keys",
	"hubert":   "HuBERT iteration-2 labels (k-means of a trained run's layer) and the step benchmark",
	"data2vec": "data2vec step benchmark vs PyTorch (bench); train with `sslpipe train --method data2vec`",
}

// torchBenchTargets are the `sslpipe bench` targets that need libtorch.
var torchBenchTargets = map[string]string{
	"train":    "time one BYOL training step on --device",
	"hubert":   "time one HuBERT training step (forward, backward, clip, AdamW) on random audio",
	"data2vec": "time one data2vec text training step on --device",
}

// benchFallback, set in the pure-Go build, runs a libtorch bench target
// in sslpipe-torch.
var benchFallback func(ctx context.Context, env *cmdEnv, args []string) error
