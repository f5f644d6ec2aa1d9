//go:build linux && cgo

package train

/*
#include <malloc.h>

// sslpipe_tune_malloc keeps freed tensor memory in glibc's heap instead of
// returning it to the kernel after every step (see TuneAllocator); 1 when
// every setting took.
static int sslpipe_tune_malloc(void) {
#ifdef __GLIBC__
	int ok = mallopt(M_MMAP_THRESHOLD, 32 << 20);
	ok &= mallopt(M_TRIM_THRESHOLD, 1 << 30);
	ok &= mallopt(M_TOP_PAD, 256 << 20);
	return ok;
#else
	return 0;
#endif
}
*/
import "C"

func tuneMalloc() bool { return C.sslpipe_tune_malloc() == 1 }
