// Package sslkit holds what the image methods of train/simclr,
// train/simsiam, train/dino and train/mocov3 share while the unified
// train/nn package (issue 15) is being built: a parameter set with
// buffers, Linear/BatchNorm layers and the MLP heads in nn.Sequential
// naming, SGD and LARS on transformer.Params, the EMA update, cosine
// schedules, the backbone interface and a tiny MLP backbone for tests.
//
// Its API mirrors train/nn's (NewLinear, NewBatchNorm, Backbone, EMA,
// an optimizer Step(tp, params, grads, lr) with an LRScale hook) so that
// moving the methods onto nn is a change of import. Everything runs on
// the op layer (train/op): tensors belong to their Params, temporaries to
// the op.Tape given, and nothing is safe for concurrent use (run on one
// locked OS thread).
package sslkit
