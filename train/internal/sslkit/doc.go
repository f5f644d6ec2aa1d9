// Package sslkit holds what the image methods of train/simclr,
// train/simsiam, train/dino and train/mocov3 share beyond train/nn: the
// projection and prediction heads of those papers built from one MLPSpec
// (nn.Sequential naming, so state dicts convert name for name), and the
// helpers their parity tests use (safetensors goldens, relative
// differences, a fixed noisy batch). The pretext methods (train/rotation,
// train/jigsaw, train/inpainting, train/colorization) share with them the
// network's construction (NewNet), the encoder that eval and embed open
// (OpenEncoder, Encoder), the image input (Input), the gradient
// reduction (ReduceGrads), the presets' Fashion-MNIST pieces (PretextCPU,
// Smoke, FashionMNISTMonitor) and a trainer's checkpoint state
// (NetState: one optimized network, optionally a teacher; SOP's trainer
// embeds it too). The one-network methods (the pretext ones, SOP) share
// their optimization step (TrainStep, ClassifierStep).
//
// Heads are built into an nn.Params and run on the op layer (train/op):
// tensors belong to the Params, temporaries to the op.Tape given, and
// nothing is safe for concurrent use (run on one locked OS thread).
package sslkit
