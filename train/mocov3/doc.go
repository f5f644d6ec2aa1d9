// Package mocov3 is MoCo v3 (Chen, Xie and He, 2021, "An Empirical Study
// of Training Self-Supervised Vision Transformers"): a query encoder
// (backbone, projector and predictor) and a momentum (key) encoder
// (backbone and projector, an exponential moving average of the query
// encoder's) embed two views, and a symmetric InfoNCE loss makes each
// view's query pick the other view's key among the batch's keys:
//
//	ctr(q, k) = 2τ · CE(q·kᵀ/τ, diagonal),  L = ctr(q1, k2) + ctr(q2, k1)
//
// with q and k L2-normalized. The projector has 3 layers for ViTs and 2
// for ResNets, every layer but the last followed by BatchNorm and ReLU
// and the last by BatchNorm without affine parameters; the predictor has
// 2 layers and no final BatchNorm; linear layers have no bias. The
// momentum rises along a cosine from 0.99 to 1. τ is 0.2 for ViTs and 1.0
// for ResNets in the paper (solo-learn's CIFAR recipe uses 0.2 with a
// ResNet-18). The ViT recipe trains with AdamW (lr 1.5e-4·batch/256,
// weight decay 0.1 on every parameter), the ResNet one with LARS (lr 0.3,
// weight decay 1e-6; solo-learn CIFAR).
//
// The package registers the method "mocov3" with the shared trainer
// (`sslpipe train --method mocov3`): model block arch and heads, own block
// temperature, momentum schedule and augment; presets default (the
// paper's ViT-S/16 recipe), resnet, cifar (solo-learn), fmnist-quick,
// fmnist-reproduce (the Fashion-MNIST comparison) and smoke. With data-parallel training the keys come
// from every rank through train.StepInfo.AllGather. eval and embed use the
// query encoder's backbone (as MoCo v3's main_lincls.py), --which teacher
// the momentum encoder's.
package mocov3
