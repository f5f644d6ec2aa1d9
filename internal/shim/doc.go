// Package shim builds gotch's C API as a shared library against whatever
// libtorch a machine has, and generates the copy of gotch that links it.
//
// gotch's libtch package compiles its C++ wrappers through cgo with flags
// fixed for one libtorch release. sslpipe instead:
//
//  1. locates a libtorch (LIBTORCH, then python3's torch package, then the
//     Debian system libtorch; see Locate);
//  2. compiles torch_api.cpp and the generated op wrappers in parallel
//     chunks against it; every wrapper that fails to compile gets a body
//     that records gotch's error "<op> is not supported by libtorch <v>";
//  3. links libsslpipe_tch.so with --no-as-needed to torch, torch_cpu, c10
//     (and torch_cuda, c10_cuda when present, so CUDA kernels register);
//  4. caches the result under $XDG_CACHE_HOME/sslpipe/shim/<key>, keyed by
//     libtorch version and path, gotch version, this package's version and
//     the text of sslpipe's own C++ functions (extras.go: introspection for
//     `sslpipe doctor`, the multi-tensor optimizer/EMA updates and c10d's
//     process groups for train/dist, each stubbed silently to "not
//     available" where a libtorch lacks an op; dist.go detects which
//     distributed features, Gloo and NCCL, this libtorch's headers allow);
//  5. writes a copy of the gotch module whose libtch links that library
//     instead of compiling C++ (go.mod replaces gotch with it).
//
// Nothing here uses cgo: the builder runs g++ as a child process.
package shim

// BuilderVersion changes whenever the build recipe changes, which
// invalidates cached libraries (a change to extrasCpp alone needs no bump:
// its text is part of the key; copyVersion in gotchcopy.go covers the Go
// bindings of the generated gotch copy).
const BuilderVersion = "7"

// LibName is the shared library's file name (and soname).
const LibName = "libsslpipe_tch.so"
