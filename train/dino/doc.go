// Package dino is DINO (Caron et al., 2021, "Emerging Properties in
// Self-Supervised Vision Transformers"): self-distillation with no labels.
// A student (backbone and DINO head) sees every crop of an image (two
// global crops and N local ones, the multi-crop of augment.DINO); a
// teacher, the exponential moving average of the student, sees only the
// global crops. The loss is the cross-entropy between the teacher's
// centred and sharpened distribution of each global crop and the
// student's distribution of every other crop:
//
//	P_t = softmax((g_t(x) - C)/τ_t),  P_s = softmax(g_s(x')/τ_s)
//	L = mean over pairs (x global, x' any crop ≠ x) of -Σ P_t log P_s
//
// with the center C an EMA (momentum 0.9) of the teacher's batch mean,
// τ_s = 0.1 and τ_t warmed up linearly from 0.04 to 0.07 over the first
// epochs. The head is a 3-layer GELU MLP to a 256-d bottleneck, L2
// normalization and a weight-normalized linear layer to K prototypes
// whose norm is fixed to 1 (norm_last_layer); that last layer is frozen
// for the first epoch. Gradients are clipped per parameter at 3.0; the
// teacher's momentum follows a cosine from 0.996 to 1 and the weight decay
// a cosine from 0.04 to 0.4 (DINO's ViT recipe, main_dino.py defaults).
//
// The package registers the method "dino" with the shared trainer
// (`sslpipe train --method dino`): model block arch (a ViT's drop_path
// applies to the student only) and head, own block temperatures, center
// momentum, schedules and the multi-crop recipe; presets default (the
// ViT-S/16 recipe), cifar (solo-learn), fmnist-quick, fmnist-reproduce (the
// Fashion-MNIST comparison) and
// smoke. The teacher-temperature warm-up and the last-layer freeze are
// counted in epochs of the training data, fractions allowed; a run shorter
// than its preset scales them with its length. With data-parallel
// training the center is averaged over ranks (train.StepInfo.AllReduceMean).
// eval and embed use the teacher's backbone (as DINO's eval_knn.py),
// --which student the student's.
package dino
