//go:build amd64 && !purego

package augment

// addSymSSE is addSymGeneric in SSE2 (baseline on amd64): four lanes,
// the same add, multiply, add order, so results are bit-identical.
//
//go:noescape
func addSymSSE(out, a, b *float32, n int, k float32)

func addSym(out, a, b []float32, k float32) {
	if len(out) == 0 {
		return
	}
	a, b = a[:len(out)], b[:len(out)]
	addSymSSE(&out[0], &a[0], &b[0], len(out), k)
}
