package shim

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// distCpp is appended to extrasCpp: libtorch's c10d process groups (Gloo,
// and NCCL on CUDA builds) for package train/dist.
//
// The builder compiles it with -DSSLPIPE_DIST (c10d's headers found),
// -DSSLPIPE_GLOO (c10d's ProcessGroupGloo.hpp and Gloo's headers found
// beside the same libtorch) and -DSSLPIPE_NCCL (a CUDA libtorch with
// ProcessGroupNCCL.hpp, nccl.h and the CUDA runtime headers) as detected by
// distFeatures; where the headers are found but do not compile, the
// features are dropped one by one (NCCL, then Gloo, then c10d) so that the
// shim still builds. Every function returns 1 when it ran, 0 where its
// feature is missing (its body compiled out, or the builder's silent stub)
// and -1 on an error, with *err set to a malloc'ed message the caller
// frees. Nothing here aborts: C++ exceptions become error messages.
//
// Only declarations that compile on every libtorch from 1.13 on sit outside
// functions (the structs hold c10d::Store and the process group's base
// class: ProcessGroup in 1.x, Backend from 2.0); version differences are
// inside function bodies, where a failure stubs only that function.
const distCpp = `
#if defined(SSLPIPE_DIST)
#if defined(SSLPIPE_GLOO)
#define USE_C10D_GLOO 1
#endif
#if defined(SSLPIPE_NCCL)
#define USE_C10D_NCCL 1
#endif
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#define SSLPIPE_PG_T c10d::Backend
#else
#define SSLPIPE_PG_T c10d::ProcessGroup
#endif
#if defined(SSLPIPE_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(SSLPIPE_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <c10/cuda/CUDAFunctions.h>
#endif
#include <torch/csrc/autograd/custom_function.h>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

struct sslpipe_dist_store {
  c10::intrusive_ptr<c10d::Store> store;
};

struct sslpipe_dist_group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<SSLPIPE_PG_T> pg;
  int rank = 0;
  int world = 1;
  std::mutex mu;
  std::atomic<bool> failed{false};
  std::string failure;
};

#define SSLPIPE_DIST_CATCH(err)                                   \
  catch (const c10::Error &e) {                                   \
    sslpipe_dist_ops::seterr(err, e.what_without_backtrace());    \
    return -1;                                                    \
  }                                                               \
  catch (const std::exception &e) {                               \
    sslpipe_dist_ops::seterr(err, e.what());                      \
    return -1;                                                    \
  }                                                               \
  catch (...) {                                                   \
    sslpipe_dist_ops::seterr(err, "unknown C++ exception");       \
    return -1;                                                    \
  }

// The helpers are static members of a struct rather than top-level
// functions so that the builder never stubs one of them alone: a failure
// here drops the whole distributed feature.
struct sslpipe_dist_ops {
  static void seterr(char **err, const char *msg) {
    if (err)
      *err = strdup(msg);
  }

  // fail records the first failure of a group's collective (a failing
  // collective leaves a c10d group unusable).
  static void fail(sslpipe_dist_group *g, const std::string &msg) {
    std::lock_guard<std::mutex> lock(g->mu);
    if (!g->failed.load()) {
      g->failure = msg;
      g->failed.store(true);
    }
  }

  // wait waits for every work item, all of them even when one fails, then
  // throws the first failure after recording it on the group.
  static void wait(sslpipe_dist_group *g, std::vector<c10::intrusive_ptr<c10d::Work>> &works) {
    std::string first;
    for (auto &w : works) {
      try {
        w->wait();
      } catch (const c10::Error &e) {
        if (first.empty())
          first = e.what_without_backtrace();
      } catch (const std::exception &e) {
        if (first.empty())
          first = e.what();
      }
    }
    if (!first.empty()) {
      fail(g, first);
      throw std::runtime_error(first);
    }
  }

  // allgather gathers x (the same shape on every rank) into
  // outs[0..world), one fresh tensor per rank.
  static void allgather(sslpipe_dist_group *g, const at::Tensor &x, std::vector<at::Tensor> &outs) {
    at::Tensor in = x.contiguous();
    std::vector<std::vector<at::Tensor>> o(1);
    for (int r = 0; r < g->world; r++)
      o[0].push_back(at::empty_like(in));
    std::vector<at::Tensor> i{in};
    std::vector<c10::intrusive_ptr<c10d::Work>> works{g->pg->allgather(o, i)};
    wait(g, works);
    outs = o[0];
  }

  // sum sums t (contiguous) over the ranks in place.
  static void sum(sslpipe_dist_group *g, at::Tensor &t) {
    std::vector<at::Tensor> v{t};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    std::vector<c10::intrusive_ptr<c10d::Work>> works{g->pg->allreduce(v, o)};
    wait(g, works);
  }
};

// SslpipeGatherGrad is all_gather with a gradient (solo-learn's and
// SimCLR's GatherLayer): the forward pass concatenates every rank's x along
// dim 0; the backward pass sums the incoming gradient over the ranks and
// returns this rank's slice, so x's gradient on each rank is the gradient
// of the sum of every rank's loss with respect to that rank's x.
struct SslpipeGatherGrad : public torch::autograd::Function<SslpipeGatherGrad> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, at::Tensor x, int64_t gp) {
    auto *g = reinterpret_cast<sslpipe_dist_group *>(gp);
    ctx->saved_data["g"] = gp;
    ctx->saved_data["n"] = x.size(0);
    std::vector<at::Tensor> outs;
    sslpipe_dist_ops::allgather(g, x, outs);
    return at::cat(outs, 0);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx, torch::autograd::variable_list grads) {
    auto *g = reinterpret_cast<sslpipe_dist_group *>(ctx->saved_data["g"].toInt());
    int64_t n = ctx->saved_data["n"].toInt();
    // Every rank takes part even when its own loss did not use the
    // gathered tensor (a zero gradient), so the collectives stay aligned.
    at::Tensor sum = grads[0].contiguous().clone();
    try {
      sslpipe_dist_ops::sum(g, sum);
    } catch (const std::exception &e) {
      throw std::runtime_error(std::string("sslpipe dist: all_gather backward: ") + e.what());
    }
    return {sum.narrow(0, g->rank * n, n), at::Tensor()};
  }
};
#endif

extern "C" {

// sslpipe_dist_backends: a bit mask of the process groups compiled in:
// 1 Gloo, 2 NCCL.
int sslpipe_dist_backends() {
  int m = 0;
#if defined(SSLPIPE_DIST) && defined(SSLPIPE_GLOO)
  m |= 1;
#endif
#if defined(SSLPIPE_DIST) && defined(SSLPIPE_NCCL)
  m |= 2;
#endif
  return m;
}

// sslpipe_dist_store_fd_supported: 1 when a TCPStore server can take over
// a socket bound by the caller (TCPStoreOptions::masterListenFd, libtorch
// 2.1 on); libtorch 1.13's server listens on every interface.
int sslpipe_dist_store_fd_supported() {
#if defined(SSLPIPE_DIST) && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1))
  return 1;
#else
  return 0;
#endif
}

// sslpipe_dist_store_tcp connects to the TCPStore at host:port, or hosts
// it (is_server; on listen_fd when >= 0), with keys under prefix.
int sslpipe_dist_store_tcp(const char *host, int port, int is_server, int world, int listen_fd, int64_t timeout_ms, const char *prefix, void **out, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    c10d::TCPStoreOptions o;
    o.port = (uint16_t)port;
    o.isServer = is_server != 0;
    o.numWorkers = (size_t)world;
    o.waitWorkers = false;
    o.timeout = std::chrono::milliseconds(timeout_ms);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    if (listen_fd >= 0)
      o.masterListenFd = listen_fd;
#else
    if (listen_fd >= 0) {
      sslpipe_dist_ops::seterr(err, "this libtorch's TCPStore cannot take a bound socket (needs libtorch 2.1)");
      return -1;
    }
#endif
    c10::intrusive_ptr<c10d::Store> base = c10::make_intrusive<c10d::TCPStore>(std::string(host), o);
    auto *s = new sslpipe_dist_store();
    s->store = c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), base);
    *out = s;
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_store_file opens the FileStore at path (world users), with
// keys under prefix.
int sslpipe_dist_store_file(const char *path, int world, int64_t timeout_ms, const char *prefix, void **out, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    c10::intrusive_ptr<c10d::Store> base = c10::make_intrusive<c10d::FileStore>(std::string(path), world);
    base->setTimeout(std::chrono::milliseconds(timeout_ms));
    auto *s = new sslpipe_dist_store();
    s->store = c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), base);
    *out = s;
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_store_add adds delta to the counter key (created at 0) and
// stores the new value in *value.
int sslpipe_dist_store_add(void *sp, const char *key, int64_t delta, int64_t *value, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    auto *s = static_cast<sslpipe_dist_store *>(sp);
    *value = s->store->add(std::string(key), delta);
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

void sslpipe_dist_store_free(void *sp) {
#if defined(SSLPIPE_DIST)
  try {
    delete static_cast<sslpipe_dist_store *>(sp);
  } catch (...) {
  }
#endif
}

// sslpipe_dist_new_gloo creates a Gloo process group on store's "pg/"
// keys; Gloo listens on the address of host (or of network interface
// iface when set).
int sslpipe_dist_new_gloo(void *sp, int rank, int world, const char *host, const char *iface, int64_t timeout_ms, int threads, void **out, char **err) {
#if defined(SSLPIPE_DIST) && defined(SSLPIPE_GLOO)
  try {
    auto *s = static_cast<sslpipe_dist_store *>(sp);
    auto o = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(timeout_ms));
    if (iface != nullptr && iface[0] != 0)
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(std::string(iface)));
    else
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(std::string(host)));
    if (threads > 0)
      o->threads = threads;
    c10::intrusive_ptr<c10d::Store> st = c10::make_intrusive<c10d::PrefixStore>("pg/", s->store);
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(st, rank, world, o);
    auto *g = new sslpipe_dist_group();
    g->store = s->store;
    g->pg = pg;
    g->rank = rank;
    g->world = world;
    *out = g;
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_new_nccl creates an NCCL process group on store's "pg/"
// keys for CUDA device dev (made the current device).
int sslpipe_dist_new_nccl(void *sp, int rank, int world, int dev, int64_t timeout_ms, void **out, char **err) {
#if defined(SSLPIPE_DIST) && defined(SSLPIPE_NCCL)
  try {
    auto *s = static_cast<sslpipe_dist_store *>(sp);
    c10::cuda::set_device((c10::DeviceIndex)dev);
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = std::chrono::milliseconds(timeout_ms);
    c10::intrusive_ptr<c10d::Store> st = c10::make_intrusive<c10d::PrefixStore>("pg/", s->store);
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(st, rank, world, o);
    auto *g = new sslpipe_dist_group();
    g->store = s->store;
    g->pg = pg;
    g->rank = rank;
    g->world = world;
    *out = g;
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

void sslpipe_dist_free(void *gp) {
#if defined(SSLPIPE_DIST)
  try {
    delete static_cast<sslpipe_dist_group *>(gp);
  } catch (...) {
  }
#endif
}

// sslpipe_dist_failure: 1 with *msg set when one of the group's
// collectives has failed (also those run by autograd), else 0.
int sslpipe_dist_failure(void *gp, char **msg) {
#if defined(SSLPIPE_DIST)
  auto *g = static_cast<sslpipe_dist_group *>(gp);
  if (!g->failed.load())
    return 0;
  std::lock_guard<std::mutex> lock(g->mu);
  sslpipe_dist_ops::seterr(msg, g->failure.c_str());
  return 1;
#else
  return 0;
#endif
}

// sslpipe_dist_allreduce sums (avg: then divides by the world size) each
// tensor over the ranks in place; the tensors' collectives run
// concurrently.
int sslpipe_dist_allreduce(void *gp, tensor *ts, int n, int avg, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    auto *g = static_cast<sslpipe_dist_group *>(gp);
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> bufs;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (int i = 0; i < n; i++) {
      at::Tensor t = *ts[i];
      if (avg && !at::isFloatingType(t.scalar_type()))
        throw std::invalid_argument("average of a non-floating tensor");
      bufs.push_back(t.is_contiguous() ? t : t.contiguous());
    }
    for (int i = 0; i < n; i++) {
      std::vector<at::Tensor> v{bufs[i]};
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp::SUM;
      works.push_back(g->pg->allreduce(v, o));
    }
    sslpipe_dist_ops::wait(g, works);
    for (int i = 0; i < n; i++) {
      if (avg)
        bufs[i].div_((double)g->world);
      if (!bufs[i].is_same(*ts[i]))
        ts[i]->copy_(bufs[i]);
    }
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_allgather sets outs[r] to a new tensor holding rank r's x
// (x has the same shape and dtype on every rank).
int sslpipe_dist_allgather(void *gp, tensor x, tensor *outs, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    auto *g = static_cast<sslpipe_dist_group *>(gp);
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> o;
    sslpipe_dist_ops::allgather(g, x->detach(), o);
    for (int r = 0; r < g->world; r++)
      outs[r] = new torch::Tensor(o[r]);
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_reduce_scatter sets out to the sum (avg: mean) over the
// ranks of each rank's ins[rank] (ins has world tensors shaped like out).
int sslpipe_dist_reduce_scatter(void *gp, tensor out, tensor *ins, int avg, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    auto *g = static_cast<sslpipe_dist_group *>(gp);
    torch::NoGradGuard no_grad;
    at::Tensor o = out->is_contiguous() ? *out : out->contiguous();
    std::vector<at::Tensor> outs{o};
    std::vector<std::vector<at::Tensor>> in(1);
    for (int r = 0; r < g->world; r++)
      in[0].push_back(ins[r]->contiguous());
    c10d::ReduceScatterOptions opt;
    opt.reduceOp = c10d::ReduceOp::SUM;
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = g->pg->reduce_scatter(outs, in, opt);
    } catch (const c10::Error &e) {
      // libtorch 1.13's Gloo has no reduce_scatter (it says so before
      // any communication): all-reduce every rank's inputs, keep ours.
    }
    if (work) {
      std::vector<c10::intrusive_ptr<c10d::Work>> works{work};
      sslpipe_dist_ops::wait(g, works);
    } else {
      at::Tensor all = at::stack(in[0], 0);
      sslpipe_dist_ops::sum(g, all);
      o.copy_(all[g->rank]);
    }
    if (avg)
      o.div_((double)g->world);
    if (!o.is_same(*out))
      out->copy_(o);
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_barrier returns when every rank has entered it.
int sslpipe_dist_barrier(void *gp, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    auto *g = static_cast<sslpipe_dist_group *>(gp);
    std::vector<c10::intrusive_ptr<c10d::Work>> works{g->pg->barrier()};
    sslpipe_dist_ops::wait(g, works);
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_gather_grad sets *out to the concatenation along dim 0 of
// every rank's x, differentiable: see SslpipeGatherGrad.
int sslpipe_dist_gather_grad(void *gp, tensor x, tensor *out, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    auto *g = static_cast<sslpipe_dist_group *>(gp);
    if (x->dim() < 1)
      throw std::invalid_argument("all_gather with gradient of a 0-dim tensor");
    *out = new torch::Tensor(SslpipeGatherGrad::apply(*x, (int64_t)reinterpret_cast<intptr_t>(g)));
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_reduce_grads averages the gradients of the parameters ps
// over the ranks, bucket by bucket: bucket b holds ps[ends[b-1]..ends[b])
// (one dtype and device), flattened into one tensor (the gradients divided
// by the world size, then one "has a gradient" flag per parameter) that is
// summed over the ranks and copied back. The
// buckets' collectives run concurrently. A parameter without a gradient
// here takes part with zeros; it gets the average when another rank had a
// gradient for it and stays without one when no rank had.
int sslpipe_dist_reduce_grads(void *gp, tensor *ps, int n, const int64_t *ends, int nb, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    auto *g = static_cast<sslpipe_dist_group *>(gp);
    torch::NoGradGuard no_grad;
    // Check every bucket before the first collective starts.
    int64_t start = 0;
    for (int b = 0; b < nb; b++) {
      if (ends[b] <= start || ends[b] > n)
        throw std::invalid_argument("bad bucket bounds");
      for (int64_t i = start; i < ends[b]; i++)
        if (ps[i]->scalar_type() != ps[start]->scalar_type() || ps[i]->device() != ps[start]->device())
          throw std::invalid_argument("a bucket mixes dtypes or devices");
      start = ends[b];
    }
    std::vector<at::Tensor> flats;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    start = 0;
    for (int b = 0; b < nb; b++) {
      int64_t end = ends[b];
      std::vector<at::Tensor> parts;
      std::vector<double> has;
      auto opts = ps[start]->options();
      for (int64_t i = start; i < end; i++) {
        const at::Tensor &p = *ps[i];
        at::Tensor gr = p.grad();
        if (gr.defined()) {
          parts.push_back(gr.reshape({-1}));
          has.push_back(1);
        } else {
          parts.push_back(at::zeros({p.numel()}, opts));
          has.push_back(0);
        }
      }
      int64_t total = 0;
      for (auto &t : parts)
        total += t.numel();
      parts.push_back(torch::tensor(has, at::TensorOptions().dtype(at::kDouble)).to(opts.device(), opts.dtype().toScalarType()));
      at::Tensor flat = at::cat(parts, 0);
      // Divided before the sum, as DDP's default hook does.
      flat.narrow(0, 0, total).div_((double)g->world);
      flats.push_back(flat);
      std::vector<at::Tensor> v{flat};
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp::SUM;
      works.push_back(g->pg->allreduce(v, o));
      start = end;
    }
    sslpipe_dist_ops::wait(g, works);
    start = 0;
    for (int b = 0; b < nb; b++) {
      int64_t end = ends[b];
      at::Tensor flat = flats[b];
      int64_t total = flat.numel() - (end - start);
      at::Tensor flags;
      int64_t off = 0;
      for (int64_t i = start; i < end; i++) {
        at::Tensor &p = *ps[i];
        int64_t k = p.numel();
        at::Tensor avg = flat.narrow(0, off, k).view(p.sizes());
        at::Tensor gr = p.grad();
        if (gr.defined()) {
          gr.copy_(avg);
        } else {
          // Read the flags only here: on a GPU that waits for the device.
          if (!flags.defined())
            flags = flat.narrow(0, total, end - start).to(at::kCPU, at::kDouble);
          if (flags[i - start].item<double>() > 0.5)
            p.mutable_grad() = avg.clone();
        }
        off += k;
      }
      start = end;
    }
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

// sslpipe_dist_broadcast_coalesced copies rank root's tensors ts into
// every other rank's, bucket by bucket (bounds as in
// sslpipe_dist_reduce_grads): one broadcast of a flattened bucket each.
int sslpipe_dist_broadcast_coalesced(void *gp, tensor *ts, int n, const int64_t *ends, int nb, int root, char **err) {
#if defined(SSLPIPE_DIST)
  try {
    auto *g = static_cast<sslpipe_dist_group *>(gp);
    torch::NoGradGuard no_grad;
    int64_t start = 0;
    for (int b = 0; b < nb; b++) {
      if (ends[b] <= start || ends[b] > n)
        throw std::invalid_argument("bad bucket bounds");
      for (int64_t i = start; i < ends[b]; i++)
        if (ts[i]->scalar_type() != ts[start]->scalar_type() || ts[i]->device() != ts[start]->device())
          throw std::invalid_argument("a bucket mixes dtypes or devices");
      start = ends[b];
    }
    std::vector<at::Tensor> flats;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    start = 0;
    for (int b = 0; b < nb; b++) {
      int64_t end = ends[b];
      std::vector<at::Tensor> parts;
      for (int64_t i = start; i < end; i++)
        parts.push_back(ts[i]->reshape({-1}));
      at::Tensor flat = at::cat(parts, 0);
      flats.push_back(flat);
      std::vector<at::Tensor> v{flat};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      works.push_back(g->pg->broadcast(v, o));
      start = end;
    }
    sslpipe_dist_ops::wait(g, works);
    if (g->rank == root)
      return 1;
    start = 0;
    for (int b = 0; b < nb; b++) {
      int64_t off = 0;
      for (int64_t i = start; i < ends[b]; i++) {
        int64_t k = ts[i]->numel();
        ts[i]->copy_(flats[b].narrow(0, off, k).view(ts[i]->sizes()));
        off += k;
      }
      start = ends[b];
    }
    return 1;
  }
  SSLPIPE_DIST_CATCH(err)
#else
  return 0;
#endif
}

} // extern "C"
`

// extrasSource is the extras unit: extrasCpp then distCpp.
func extrasSource() string { return extrasCpp + distCpp }

// distMacro maps a distributed feature to the macro that compiles it in.
var distMacro = map[string]string{"c10d": "SSLPIPE_DIST", "gloo": "SSLPIPE_GLOO", "nccl": "SSLPIPE_NCCL"}

// distFound is what detectDist found: the features in build order and
// the extra include folders they need.
type distFound struct {
	features []string
	includes []string
}

// detectDist looks for c10d's headers beside libtorch's, Gloo's headers
// from the same installation (Debian's libgloo-dev for the system
// libtorch; a PyTorch wheel's own include/gloo), and on a CUDA libtorch
// ProcessGroupNCCL.hpp with nccl.h and the CUDA runtime headers (a wheel's
// nvidia/*/include packages, the CUDA toolkit).
func detectDist(lt *Libtorch) distFound {
	var d distFound
	roots := append([]string{}, lt.IncludeDirs...)
	if lt.Source == "system" {
		roots = append(roots, systemInclude)
	}
	c10d := filepath.Join("torch", "csrc", "distributed", "c10d")
	if findIn(roots, filepath.Join(c10d, "TCPStore.hpp")) == "" {
		return d
	}
	d.features = append(d.features, "c10d")
	if findIn(roots, filepath.Join(c10d, "ProcessGroupGloo.hpp")) != "" && findIn(roots, filepath.Join("gloo", "algorithm.h")) != "" {
		d.features = append(d.features, "gloo")
	}
	if !lt.CUDA || findIn(roots, filepath.Join(c10d, "ProcessGroupNCCL.hpp")) == "" {
		return d
	}
	extra := []string{}
	if lt.Root != "" {
		// A wheel's torch/ sits beside nvidia/<package>/include.
		m, _ := filepath.Glob(filepath.Join(filepath.Dir(lt.Root), "nvidia", "*", "include"))
		sort.Strings(m)
		extra = append(extra, m...)
	}
	if h := os.Getenv("CUDA_HOME"); h != "" {
		extra = append(extra, filepath.Join(h, "include"))
	}
	extra = append(extra, "/usr/local/cuda/include", systemInclude)
	all := append(append([]string{}, roots...), extra...)
	nccl, cudart := findIn(all, "nccl.h"), findIn(all, "cuda_runtime_api.h")
	if nccl == "" || cudart == "" {
		return d
	}
	d.features = append(d.features, "nccl")
	for _, dir := range extra {
		if dir == systemInclude {
			continue // the compiler's default
		}
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			d.includes = append(d.includes, dir)
		}
	}
	return d
}

// findIn returns the first folder of dirs holding rel, or "".
func findIn(dirs []string, rel string) string {
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return dir
		}
	}
	return ""
}

// failingFeature picks the feature to drop after a compiler failure that
// no function accounts for: the one the messages name, else the last.
func failingFeature(features []string, stderr string) int {
	low := strings.ToLower(stderr)
	for i := len(features) - 1; i >= 0; i-- {
		switch features[i] {
		case "nccl":
			if strings.Contains(low, "nccl") || strings.Contains(low, "cuda") {
				return i
			}
		case "gloo":
			if strings.Contains(low, "gloo") {
				return i
			}
		}
	}
	return len(features) - 1
}

// distGo is written into the generated gotch copy's libtch package: Go
// bindings for distCpp. Each returns the C function's result (1 ran, 0 not
// available in this shim, -1 failed) and the error message.
const distGo = `package libtch

// Code generated by sslpipe's shim builder. DO NOT EDIT.

/*
#include <stdlib.h>
#include <stdint.h>
int sslpipe_dist_backends();
int sslpipe_dist_store_fd_supported();
int sslpipe_dist_store_tcp(const char *host, int port, int is_server, int world, int listen_fd, int64_t timeout_ms, const char *prefix, void **out, char **err);
int sslpipe_dist_store_file(const char *path, int world, int64_t timeout_ms, const char *prefix, void **out, char **err);
int sslpipe_dist_store_add(void *s, const char *key, int64_t delta, int64_t *value, char **err);
void sslpipe_dist_store_free(void *s);
int sslpipe_dist_new_gloo(void *s, int rank, int world, const char *host, const char *iface, int64_t timeout_ms, int threads, void **out, char **err);
int sslpipe_dist_new_nccl(void *s, int rank, int world, int dev, int64_t timeout_ms, void **out, char **err);
void sslpipe_dist_free(void *g);
int sslpipe_dist_failure(void *g, char **msg);
int sslpipe_dist_allreduce(void *g, void **ts, int n, int avg, char **err);
int sslpipe_dist_allgather(void *g, void *x, void **outs, char **err);
int sslpipe_dist_reduce_scatter(void *g, void *out, void **ins, int avg, char **err);
int sslpipe_dist_barrier(void *g, char **err);
int sslpipe_dist_gather_grad(void *g, void *x, void **out, char **err);
int sslpipe_dist_reduce_grads(void *g, void **ps, int n, const int64_t *ends, int nb, char **err);
int sslpipe_dist_broadcast_coalesced(void *g, void **ts, int n, const int64_t *ends, int nb, int root, char **err);
*/
import "C"

import "unsafe"

// SslpipeDistBackends returns a bit mask of the process groups compiled
// into the shim: 1 Gloo, 2 NCCL.
func SslpipeDistBackends() int { return int(C.sslpipe_dist_backends()) }

// SslpipeDistStoreFdSupported reports whether a TCPStore server can take
// over a bound socket (libtorch 2.1 on).
func SslpipeDistStoreFdSupported() bool { return C.sslpipe_dist_store_fd_supported() == 1 }

func distTensors(ts []Ctensor) *unsafe.Pointer {
	if len(ts) == 0 {
		return nil
	}
	return (*unsafe.Pointer)(unsafe.Pointer(&ts[0]))
}

// SslpipeDistStoreTCP connects to (isServer: hosts) a TCPStore.
func SslpipeDistStoreTCP(host string, port int, isServer bool, world, listenFd int, timeoutMs int64, prefix string) (unsafe.Pointer, int, string) {
	ch, cp := C.CString(host), C.CString(prefix)
	defer C.free(unsafe.Pointer(ch))
	defer C.free(unsafe.Pointer(cp))
	srv := C.int(0)
	if isServer {
		srv = 1
	}
	var out unsafe.Pointer
	var msg *C.char
	rc := C.sslpipe_dist_store_tcp(ch, C.int(port), srv, C.int(world), C.int(listenFd), C.int64_t(timeoutMs), cp, &out, &msg)
	return out, int(rc), takeCString(msg)
}

// SslpipeDistStoreFile opens a FileStore.
func SslpipeDistStoreFile(path string, world int, timeoutMs int64, prefix string) (unsafe.Pointer, int, string) {
	cpath, cp := C.CString(path), C.CString(prefix)
	defer C.free(unsafe.Pointer(cpath))
	defer C.free(unsafe.Pointer(cp))
	var out unsafe.Pointer
	var msg *C.char
	rc := C.sslpipe_dist_store_file(cpath, C.int(world), C.int64_t(timeoutMs), cp, &out, &msg)
	return out, int(rc), takeCString(msg)
}

// SslpipeDistStoreAdd adds delta to a store counter and returns its value.
func SslpipeDistStoreAdd(s unsafe.Pointer, key string, delta int64) (int64, int, string) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	var v C.int64_t
	var msg *C.char
	rc := C.sslpipe_dist_store_add(s, ck, C.int64_t(delta), &v, &msg)
	return int64(v), int(rc), takeCString(msg)
}

// SslpipeDistStoreFree releases a store handle.
func SslpipeDistStoreFree(s unsafe.Pointer) { C.sslpipe_dist_store_free(s) }

// SslpipeDistNewGloo creates a Gloo process group.
func SslpipeDistNewGloo(s unsafe.Pointer, rank, world int, host, iface string, timeoutMs int64, threads int) (unsafe.Pointer, int, string) {
	ch, ci := C.CString(host), C.CString(iface)
	defer C.free(unsafe.Pointer(ch))
	defer C.free(unsafe.Pointer(ci))
	var out unsafe.Pointer
	var msg *C.char
	rc := C.sslpipe_dist_new_gloo(s, C.int(rank), C.int(world), ch, ci, C.int64_t(timeoutMs), C.int(threads), &out, &msg)
	return out, int(rc), takeCString(msg)
}

// SslpipeDistNewNCCL creates an NCCL process group on CUDA device dev.
func SslpipeDistNewNCCL(s unsafe.Pointer, rank, world, dev int, timeoutMs int64) (unsafe.Pointer, int, string) {
	var out unsafe.Pointer
	var msg *C.char
	rc := C.sslpipe_dist_new_nccl(s, C.int(rank), C.int(world), C.int(dev), C.int64_t(timeoutMs), &out, &msg)
	return out, int(rc), takeCString(msg)
}

// SslpipeDistFree releases a process group.
func SslpipeDistFree(g unsafe.Pointer) { C.sslpipe_dist_free(g) }

// SslpipeDistFailure returns the first failure of the group's collectives
// (also those autograd ran), or "".
func SslpipeDistFailure(g unsafe.Pointer) string {
	var msg *C.char
	if C.sslpipe_dist_failure(g, &msg) != 1 {
		return ""
	}
	return takeCString(msg)
}

// SslpipeDistAllReduce sums (avg: averages) each tensor over the ranks.
func SslpipeDistAllReduce(g unsafe.Pointer, ts []Ctensor, avg bool) (int, string) {
	a := C.int(0)
	if avg {
		a = 1
	}
	var msg *C.char
	rc := C.sslpipe_dist_allreduce(g, distTensors(ts), C.int(len(ts)), a, &msg)
	return int(rc), takeCString(msg)
}

// SslpipeDistAllGather fills outs (one per rank) with every rank's x.
func SslpipeDistAllGather(g unsafe.Pointer, x Ctensor, outs []Ctensor) (int, string) {
	var msg *C.char
	rc := C.sslpipe_dist_allgather(g, unsafe.Pointer(x), distTensors(outs), &msg)
	return int(rc), takeCString(msg)
}

// SslpipeDistReduceScatter sets out to the reduction of every rank's ins[rank].
func SslpipeDistReduceScatter(g unsafe.Pointer, out Ctensor, ins []Ctensor, avg bool) (int, string) {
	a := C.int(0)
	if avg {
		a = 1
	}
	var msg *C.char
	rc := C.sslpipe_dist_reduce_scatter(g, unsafe.Pointer(out), distTensors(ins), a, &msg)
	return int(rc), takeCString(msg)
}

// SslpipeDistBarrier waits for every rank.
func SslpipeDistBarrier(g unsafe.Pointer) (int, string) {
	var msg *C.char
	rc := C.sslpipe_dist_barrier(g, &msg)
	return int(rc), takeCString(msg)
}

// SslpipeDistGatherGrad sets *out to every rank's x concatenated along
// dim 0, with a gradient (summed over the ranks, this rank's slice).
func SslpipeDistGatherGrad(g unsafe.Pointer, x Ctensor, out *Ctensor) (int, string) {
	var msg *C.char
	rc := C.sslpipe_dist_gather_grad(g, unsafe.Pointer(x), (*unsafe.Pointer)(unsafe.Pointer(out)), &msg)
	return int(rc), takeCString(msg)
}

// SslpipeDistReduceGrads averages the parameters' gradients bucket by
// bucket (ends: each bucket's end index into ps).
func SslpipeDistReduceGrads(g unsafe.Pointer, ps []Ctensor, ends []int64) (int, string) {
	if len(ends) == 0 {
		return 1, ""
	}
	var msg *C.char
	rc := C.sslpipe_dist_reduce_grads(g, distTensors(ps), C.int(len(ps)), (*C.int64_t)(unsafe.Pointer(&ends[0])), C.int(len(ends)), &msg)
	return int(rc), takeCString(msg)
}

// SslpipeDistBroadcastCoalesced copies root's tensors to every rank,
// bucket by bucket.
func SslpipeDistBroadcastCoalesced(g unsafe.Pointer, ts []Ctensor, ends []int64, root int) (int, string) {
	if len(ends) == 0 {
		return 1, ""
	}
	var msg *C.char
	rc := C.sslpipe_dist_broadcast_coalesced(g, distTensors(ts), C.int(len(ts)), (*C.int64_t)(unsafe.Pointer(&ends[0])), C.int(len(ends)), C.int(root), &msg)
	return int(rc), takeCString(msg)
}
`
