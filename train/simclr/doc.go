// Package simclr is SimCLR (Chen et al., 2020, "A Simple Framework for
// Contrastive Learning of Visual Representations"): two augmented views of
// each image go through a backbone and a projector (Linear -> BatchNorm1d
// -> ReLU -> Linear), and the NT-Xent loss makes the two views of a sample
// agree against the 2N-2 other views of the batch at a temperature.
//
// With more than two views (multi-crop: local crops of another size as a
// recipe view with a count), NTXentViews makes every view an anchor whose
// positives are the other views of its image (SupCon's L_out with the image
// as its class); with two views it is NTXent.
//
// NTXent takes this process's embeddings and every process's embeddings
// gathered (the same tensor on one process), so that with data-parallel
// training the negatives come from every rank, as SimCLR's and
// solo-learn's gather with gradient do.
//
// The optimizer is LARS in the published recipes (nn.Optimizer "lars":
// biases and normalization parameters excluded from weight decay and
// adaptation). DefaultConfig is solo-learn's CIFAR head and temperature
// (scripts/pretrain/cifar/simclr.yaml: projector 2048 -> 256, temperature
// 0.2; LARS lr 0.4·batch/256, weight decay 1e-4, eta 0.02 in its preset).
//
// The package registers the method "simclr" with the shared trainer
// (`sslpipe train --method simclr`): model block arch and heads, own block
// temperature and augment; presets default (the paper's ImageNet recipe on
// ResNet-18), cifar (solo-learn), vit-s16, fmnist-quick, fmnist-reproduce (the
// Fashion-MNIST comparison), fmnist-multicrop (the 7x7 grid with two local
// crops) and smoke. With data-parallel training the negatives come from every
// rank through train.StepInfo.AllGather. eval and embed use the backbone.
package simclr
