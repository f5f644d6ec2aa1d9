// Package simclr is SimCLR (Chen et al., 2020, "A Simple Framework for
// Contrastive Learning of Visual Representations"): two augmented views of
// each image go through a backbone and a projector (Linear -> BatchNorm1d
// -> ReLU -> Linear), and the NT-Xent loss makes the two views of a sample
// agree against the 2N-2 other views of the batch at a temperature.
//
// NTXent takes this process's embeddings and every process's embeddings
// gathered (the same tensor on one process), so that with data-parallel
// training the negatives come from every rank, as SimCLR's and
// solo-learn's gather with gradient do.
//
// The optimizer is LARS in the published recipes (sslkit.SGD with LARS
// set: biases and normalization parameters excluded from weight decay and
// adaptation). Defaults follow solo-learn's CIFAR recipe
// (scripts/pretrain/cifar/simclr.yaml): projector 2048 -> 256,
// temperature 0.2, LARS lr 0.4·batch/256, weight decay 1e-5, eta 0.02.
package simclr
