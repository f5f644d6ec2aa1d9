package train

import (
	"runtime"
	"testing"
)

// TestSetNumThreadsSizesBLAS: SetNumThreads sizes OpenBLAS's own pool with
// libtorch's intra-op threads (where the process has an OpenBLAS: Debian's
// libtorch), so a --threads 1 run does not multiply its matrix products
// over every core.
func TestSetNumThreadsSizesBLAS(t *testing.T) {
	if BLASThreads() < 0 {
		t.Skip("no OpenBLAS in this process")
	}
	defer SetNumThreads(1)
	for _, n := range []int{1, 2, 1} {
		SetNumThreads(n)
		if got := BLASThreads(); got != n {
			t.Errorf("SetNumThreads(%d): OpenBLAS runs %d threads", n, got)
		}
	}
	SetNumThreads(0)
	if got, want := BLASThreads(), runtime.NumCPU(); got < 1 || got > want {
		t.Errorf("SetNumThreads(0): OpenBLAS runs %d threads, want %d", got, want)
	}
}
