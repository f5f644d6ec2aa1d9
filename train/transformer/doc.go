// Package transformer is the Transformer encoder shared by sslpipe's speech
// (and data2vec) models, and the small libtorch op layer they are built on.
//
// # Op layer
//
// A Tape records the tensors made during one computation and frees them
// all in Drop; its ops (Conv1d, Linear, LayerNorm, GroupNorm, Gelu,
// Softmax, Matmul, CrossEntropy, ...) call gotch's C API directly and raise
// libtorch errors as panics that Catch, deferred at every exported entry
// point, turns back into errors. Nothing here calls gotch's Must*
// functions. Params holds named parameters with deterministic Go-side
// initialization and safetensors import/export (train.STensor).
//
// libtorch reports errors through a C thread-local: run a Tape's ops on one
// locked OS thread (LockThread). Tapes, Params and Encoders are not safe
// for concurrent use.
//
// Debian's libtorch 1.13.1 computes a wrong CPU GELU gradient when the
// incoming gradient is not contiguous; Gelu checks for that once
// (NativeGELUBackwardOK) and then uses the erf formula on the CPU.
//
// # Encoder
//
//	p := transformer.NewParams(seed, gotch.CPU)
//	enc, err := transformer.New(p, "encoder.", transformer.Config{Dim: 256, Layers: 4, Heads: 4, FFN: 1024,
//		PosConvKernel: 32, PosConvGroups: 16})
//	var tp transformer.Tape
//	defer tp.Drop()
//	out := enc.Forward(&tp, x, transformer.Options{Train: true, Keep: true}) // x: B x T x 256
//	// out.Final, out.Blocks[i] (each block's output), out.FFN[i] (feed-forward
//	// output before the block's last residual: data2vec's targets)
//
// Blocks are post-LN (HuBERT/wav2vec 2.0 base) or pre-LN (LayerNormFirst);
// the convolutional relative positional embedding is wav2vec 2.0's.
// Parameter names follow torchaudio 0.13.
package transformer
