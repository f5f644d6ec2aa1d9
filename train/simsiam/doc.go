// Package simsiam is SimSiam (Chen and He, 2021, "Exploring Simple
// Siamese Representation Learning"): two views go through one encoder (a
// backbone and a 3-layer projector whose last BatchNorm has no affine
// parameters) and a bottleneck predictor, and the loss is the symmetric
// negative cosine similarity between each view's prediction and the other
// view's projection under stop-gradient:
//
//	L = -cos(p1, sg(z2))/2 - cos(p2, sg(z1))/2
//
// The optimizer is SGD with momentum; the predictor may keep a constant
// learning rate while the rest follows the schedule (the paper's fix_lr,
// which it reports to help). DefaultConfig follows solo-learn's CIFAR recipe
// (scripts/pretrain/cifar/simsiam.yaml): projector 2048-2048, predictor
// 2048 -> 512 -> 2048, SGD lr 0.5·batch/256, weight decay 1e-5.
//
// The package registers the method "simsiam" with the shared trainer
// (`sslpipe train --method simsiam`): model block arch and heads, own
// block fix_predictor_lr and augment; presets default (the paper's
// ImageNet recipe on ResNet-18), cifar (solo-learn), fmnist-quick,
// fmnist-reproduce (the Fashion-MNIST comparison) and smoke. eval and embed use the backbone.
package simsiam
