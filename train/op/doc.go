// Package op is sslpipe's libtorch op layer, shared by every model
// package (train's CNNs and BYOL, train/transformer and the speech and
// data2vec models built on it).
//
// A Tape records the tensors made during one computation and frees them
// all in Drop; its ops (Linear, Conv1d, BatchNorm, LayerNorm, Gelu,
// Softmax, Matmul, CrossEntropy, ...) call gotch's C API directly and raise
// libtorch errors as panics that Catch, deferred at every exported entry
// point, turns back into errors. Nothing here calls gotch's Must*
// functions. The multi-tensor updates (ForeachAdamW, ForeachEMA,
// ForeachMulScalar, TotalNorm, ClearGrads) run sslpipe's foreach
// functions compiled into the shim, with a per-tensor fallback.
//
// libtorch reports errors through a C thread-local: run a Tape's ops on one
// locked OS thread (LockThread). A Tape is not safe for concurrent use.
//
// Debian's libtorch 1.13.1 computes a wrong CPU GELU gradient when the
// incoming gradient is not contiguous; Gelu checks for that once
// (NativeGELUBackwardOK) and then uses the erf formula on the CPU.
package op
