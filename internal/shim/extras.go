package shim

// extrasCpp is appended to the core unit: introspection that gotch's C API
// lacks, used by `sslpipe doctor`. Each returned string is malloc'ed; the
// caller frees it.
const extrasCpp = `#include "torch_api.h"
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <cmath>
#include <dlfcn.h>
using namespace std;

static std::vector<at::Tensor> sslpipe_tensors(tensor *ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int i = 0; i < n; i++)
    v.push_back(*ts[i]);
  return v;
}

extern "C" {

// Multi-tensor ("foreach") updates for the optimizers, the gradient clip
// and the EMA teachers: a few kernel launches per group of tensors instead
// of several per tensor (on a GPU a step of a 100-tensor model otherwise
// spends its time launching kernels). Each returns 1 when it ran, 0 where
// this libtorch lacks an op it uses (the silent stub: the caller falls back
// to per-tensor ops) and -1 on a libtorch error (torch_last_err is set).
// Only ops libtorch 1.13 already has are used, so CPU tests run this code.

// x_i *= s for every tensor.
int sslpipe_foreach_mul_scalar(tensor *ts, int n, double s) {
  try {
    auto v = sslpipe_tensors(ts, n);
    at::_foreach_mul_(v, s);
    return 1;
  } catch (const std::exception &e) {
    torch_last_err = strdup(e.what());
    return -1;
  }
}

// dst_i = tau*dst_i + (1-tau)*src_i: the EMA teacher update.
int sslpipe_foreach_ema(tensor *dst, tensor *src, int n, double tau) {
  try {
    auto d = sslpipe_tensors(dst, n);
    auto s = sslpipe_tensors(src, n);
    at::_foreach_mul_(d, tau);
    at::_foreach_add_(d, s, 1 - tau);
    return 1;
  } catch (const std::exception &e) {
    torch_last_err = strdup(e.what());
    return -1;
  }
}

// One AdamW update of params p with gradients g and moments m, v (the
// multi-tensor form of torch.optim.AdamW): p *= 1-lr*wd;
// m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g*g;
// p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
int sslpipe_foreach_adamw(tensor *p, tensor *g, tensor *m, tensor *v, int n, double lr, double beta1, double beta2, double eps, double wd, double bc1, double bc2) {
  try {
    auto P = sslpipe_tensors(p, n);
    auto G = sslpipe_tensors(g, n);
    auto M = sslpipe_tensors(m, n);
    auto V = sslpipe_tensors(v, n);
    if (wd != 0)
      at::_foreach_mul_(P, 1 - lr * wd);
    at::_foreach_mul_(M, beta1);
    at::_foreach_add_(M, G, 1 - beta1);
    at::_foreach_mul_(V, beta2);
    at::_foreach_addcmul_(V, G, G, 1 - beta2);
    if (lr == 0)
      return 1;
    auto denom = at::_foreach_sqrt(V);
    at::_foreach_div_(denom, std::sqrt(bc2));
    at::_foreach_add_(denom, eps);
    at::_foreach_addcdiv_(P, M, denom, -lr / bc1);
    return 1;
  } catch (const std::exception &e) {
    torch_last_err = strdup(e.what());
    return -1;
  }
}

// One SGD step with momentum (torch.optim.SGD's multi-tensor form, the
// buffer starting at zero): d = g + wd*p; buf = momentum*buf + d;
// p -= lr*buf (momentum 0: p -= lr*d; buf unused).
int sslpipe_foreach_sgd(tensor *p, tensor *g, tensor *buf, int n, double lr, double momentum, double wd) {
  try {
    auto P = sslpipe_tensors(p, n);
    auto G = sslpipe_tensors(g, n);
    std::vector<at::Tensor> D = wd != 0 ? at::_foreach_add(G, P, wd) : G;
    if (momentum == 0) {
      at::_foreach_add_(P, D, -lr);
      return 1;
    }
    auto B = sslpipe_tensors(buf, n);
    at::_foreach_mul_(B, momentum);
    at::_foreach_add_(B, D);
    at::_foreach_add_(P, B, -lr);
    return 1;
  } catch (const std::exception &e) {
    torch_last_err = strdup(e.what());
    return -1;
  }
}

// Sets every tensor's gradient to undefined (PyTorch's
// zero_grad(set_to_none=True)): no kernel launches; the next backward
// allocates fresh gradients.
int sslpipe_clear_grads(tensor *ts, int n) {
  try {
    for (int i = 0; i < n; i++)
      ts[i]->mutable_grad().reset();
    return 1;
  } catch (const std::exception &e) {
    torch_last_err = strdup(e.what());
    return -1;
  }
}

// *out = the 2-norm of all the tensors together, a one-element float32
// tensor on their device (computed there: no host synchronization).
int sslpipe_total_norm(tensor *ts, int n, tensor *out) {
  try {
    auto v = sslpipe_tensors(ts, n);
    auto norms = at::_foreach_norm(v, 2);
    *out = new torch::Tensor(at::stack(norms).to(at::kFloat).norm(2).reshape({1}));
    return 1;
  } catch (const std::exception &e) {
    torch_last_err = strdup(e.what());
    return -1;
  }
}

char *sslpipe_show_config() {
  try {
    return strdup(at::show_config().c_str());
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

char *sslpipe_parallel_info() {
  try {
    return strdup(at::get_parallel_info().c_str());
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

// sslpipe_cudnn_version returns cuDNN's version number, or -1 when CUDA or
// cuDNN is unavailable (0 when this libtorch cannot tell).
long sslpipe_cudnn_version() {
  try {
    auto &hooks = at::detail::getCUDAHooks();
    if (!hooks.hasCUDA() || !hooks.hasCuDNN())
      return -1;
    return hooks.versionCuDNN();
  } catch (const std::exception &) {
    return -1;
  }
}

// sslpipe_cuda_device_name asks the CUDA driver (libcuda.so.1, loaded at
// run time so CPU machines need none) for device i's name; NULL on failure.
char *sslpipe_cuda_device_name(int i) {
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return nullptr;
  typedef int (*init_t)(unsigned int);
  typedef int (*get_t)(int *, int);
  typedef int (*name_t)(char *, int, int);
  auto cu_init = (init_t)dlsym(h, "cuInit");
  auto cu_get = (get_t)dlsym(h, "cuDeviceGet");
  auto cu_name = (name_t)dlsym(h, "cuDeviceGetName");
  char buf[256] = {0};
  int dev = 0;
  char *out = nullptr;
  if (cu_init && cu_get && cu_name && cu_init(0) == 0 && cu_get(&dev, i) == 0 &&
      cu_name(buf, sizeof(buf) - 1, dev) == 0)
    out = strdup(buf);
  dlclose(h);
  return out;
}

} // extern "C"
`

// extrasGo is written into the generated gotch copy's libtch package: Go
// bindings for extrasCpp.
const extrasGo = `package libtch

// Code generated by sslpipe's shim builder. DO NOT EDIT.

/*
#include <stdlib.h>
#include <stdint.h>
char *sslpipe_show_config();
char *sslpipe_parallel_info();
long sslpipe_cudnn_version();
char *sslpipe_cuda_device_name(int i);
int sslpipe_foreach_mul_scalar(void **ts, int n, double s);
int sslpipe_foreach_ema(void **dst, void **src, int n, double tau);
int sslpipe_foreach_adamw(void **p, void **g, void **m, void **v, int n, double lr, double beta1, double beta2, double eps, double wd, double bc1, double bc2);
int sslpipe_total_norm(void **ts, int n, void **out);
int sslpipe_clear_grads(void **ts, int n);
int sslpipe_foreach_sgd(void **p, void **g, void **buf, int n, double lr, double momentum, double wd);
void at_manual_seed(int64_t);
void at_set_num_threads(int n_threads);
int at_get_num_threads();
void at_set_num_interop_threads(int n_threads);
int at_get_num_interop_threads();
*/
import "C"

import "unsafe"

func takeCString(p *C.char) string {
	if p == nil {
		return ""
	}
	s := C.GoString(p)
	C.free(unsafe.Pointer(p))
	return s
}

// SslpipeShowConfig returns at::show_config(): how libtorch was built.
func SslpipeShowConfig() string { return takeCString(C.sslpipe_show_config()) }

// SslpipeParallelInfo returns at::get_parallel_info().
func SslpipeParallelInfo() string { return takeCString(C.sslpipe_parallel_info()) }

// SslpipeCudnnVersion returns cuDNN's version, -1 when unavailable, 0 when unknown.
func SslpipeCudnnVersion() int64 { return int64(C.sslpipe_cudnn_version()) }

// SslpipeCudaDeviceName returns CUDA device i's name, or "" when unknown.
func SslpipeCudaDeviceName(i int) string { return takeCString(C.sslpipe_cuda_device_name(C.int(i))) }

// The Sslpipe* foreach functions return 1 when they ran, 0 when this
// libtorch lacks an op they use (fall back to per-tensor ops), -1 on a
// libtorch error (gotch's last error is set).

// SslpipeForeachMulScalar is x_i *= s for every tensor.
func SslpipeForeachMulScalar(ts []Ctensor, s float64) int {
	if len(ts) == 0 {
		return 1
	}
	return int(C.sslpipe_foreach_mul_scalar((*unsafe.Pointer)(unsafe.Pointer(&ts[0])), C.int(len(ts)), C.double(s)))
}

// SslpipeForeachEMA is dst_i = tau·dst_i + (1-tau)·src_i.
func SslpipeForeachEMA(dst, src []Ctensor, tau float64) int {
	if len(dst) == 0 {
		return 1
	}
	return int(C.sslpipe_foreach_ema((*unsafe.Pointer)(unsafe.Pointer(&dst[0])), (*unsafe.Pointer)(unsafe.Pointer(&src[0])), C.int(len(dst)), C.double(tau)))
}

// SslpipeForeachAdamW applies one AdamW update (bias corrections bc1, bc2).
func SslpipeForeachAdamW(p, g, m, v []Ctensor, lr, beta1, beta2, eps, wd, bc1, bc2 float64) int {
	if len(p) == 0 {
		return 1
	}
	ptr := func(ts []Ctensor) *unsafe.Pointer { return (*unsafe.Pointer)(unsafe.Pointer(&ts[0])) }
	return int(C.sslpipe_foreach_adamw(ptr(p), ptr(g), ptr(m), ptr(v), C.int(len(p)), C.double(lr), C.double(beta1), C.double(beta2),
		C.double(eps), C.double(wd), C.double(bc1), C.double(bc2)))
}

// SslpipeForeachSGD applies one SGD-with-momentum update (buf unused and
// may be nil when momentum is 0).
func SslpipeForeachSGD(p, g, buf []Ctensor, lr, momentum, wd float64) int {
	if len(p) == 0 {
		return 1
	}
	ptr := func(ts []Ctensor) *unsafe.Pointer {
		if len(ts) == 0 {
			return nil
		}
		return (*unsafe.Pointer)(unsafe.Pointer(&ts[0]))
	}
	return int(C.sslpipe_foreach_sgd(ptr(p), ptr(g), ptr(buf), C.int(len(p)), C.double(lr), C.double(momentum), C.double(wd)))
}

// SslpipeClearGrads sets the gradients of ts to undefined.
func SslpipeClearGrads(ts []Ctensor) int {
	if len(ts) == 0 {
		return 1
	}
	return int(C.sslpipe_clear_grads((*unsafe.Pointer)(unsafe.Pointer(&ts[0])), C.int(len(ts))))
}

// SslpipeTotalNorm sets *out to the 2-norm of all ts together (a
// one-element tensor on their device).
func SslpipeTotalNorm(ts []Ctensor, out *Ctensor) int {
	if len(ts) == 0 {
		return 0
	}
	return int(C.sslpipe_total_norm((*unsafe.Pointer)(unsafe.Pointer(&ts[0])), C.int(len(ts)), (*unsafe.Pointer)(unsafe.Pointer(out))))
}

// AtManualSeed seeds libtorch's default generators (CPU and CUDA).
func AtManualSeed(seed int64) { C.at_manual_seed(C.int64_t(seed)) }

// AtSetNumThreads sets libtorch's intra-op thread count.
func AtSetNumThreads(n int) { C.at_set_num_threads(C.int(n)) }

// AtGetNumThreads returns libtorch's intra-op thread count.
func AtGetNumThreads() int { return int(C.at_get_num_threads()) }

// AtSetNumInteropThreads sets libtorch's inter-op thread count (once, before any inter-op work).
func AtSetNumInteropThreads(n int) { C.at_set_num_interop_threads(C.int(n)) }

// AtGetNumInteropThreads returns libtorch's inter-op thread count.
func AtGetNumInteropThreads() int { return int(C.at_get_num_interop_threads()) }
`
