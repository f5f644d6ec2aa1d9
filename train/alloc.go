package train

import (
	"os"
	"strings"
	"sync"
)

var (
	tuneOnce sync.Once
	tuned    bool
)

// TuneAllocator sets glibc's malloc for tensor work, once per process:
// allocations up to 32 MiB come from the heap rather than fresh mmaps,
// and the heap is trimmed only past 1 GiB free (extended 256 MiB at a
// time). libtorch's CPU allocator frees and reallocates every activation
// each step; with glibc's defaults each of them is a new mapping the
// kernel must zero, which cost about half of a one-thread Fashion-MNIST
// step's CPU time (benchmarks/RESULTS.md, "CPU allocator"). The price is
// a resident set that stays at its peak (about 15% more in that run).
//
// It does nothing where the process's environment already sets glibc's
// MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or MALLOC_TOP_PAD_, or
// sets SSLPIPE_MALLOC=default, and on systems without glibc. Run and
// Loop.Run call it; it reports whether the settings took.
func TuneAllocator() bool {
	tuneOnce.Do(func() {
		if os.Getenv("SSLPIPE_MALLOC") == "default" {
			return
		}
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "MALLOC_MMAP_THRESHOLD_=") || strings.HasPrefix(kv, "MALLOC_TRIM_THRESHOLD_=") ||
				strings.HasPrefix(kv, "MALLOC_TOP_PAD_=") {
				return
			}
		}
		tuned = tuneMalloc()
	})
	return tuned
}
