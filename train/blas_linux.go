//go:build linux && cgo

package train

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>

typedef void (*sslpipe_blas_set)(int);
typedef int (*sslpipe_blas_get)(void);

// sslpipe_blas_threads sets the thread pool of the OpenBLAS loaded with
// libtorch (n > 0) and returns its size, or -1 when no OpenBLAS is loaded.
static int sslpipe_blas_threads(int n) {
	sslpipe_blas_set set = (sslpipe_blas_set)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
	sslpipe_blas_get get = (sslpipe_blas_get)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
	if (set == NULL || get == NULL)
		return -1;
	if (n > 0)
		set(n);
	return get();
}
*/
import "C"

// blasThreads sets OpenBLAS's own thread pool to n threads (n > 0; n <= 0
// leaves it) and returns its size, or -1 when the process has no OpenBLAS
// (libtorch built with MKL or without a BLAS).
func blasThreads(n int) int { return int(C.sslpipe_blas_threads(C.int(n))) }
