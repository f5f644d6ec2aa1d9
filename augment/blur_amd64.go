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

//go:noescape
func scaleSSE(out, a *float32, n int, k float32)

//go:noescape
func roundRowSSE(out *uint8, a *float32, n int)

//go:noescape
func u8ToF32SSE(out *float32, in *uint8, n int)

// scale sets out[i] = k*a[i].
func scale(out, a []float32, k float32) {
	a = a[:len(out)]
	done := len(out) &^ 3
	if done > 0 {
		scaleSSE(&out[0], &a[0], done, k)
	}
	scaleGeneric(out[done:], a[done:], k)
}

// roundRow stores round-half-even(a[i]) clamped to [0, 255].
func roundRow(out []uint8, a []float32) {
	a = a[:len(out)]
	done := len(out) &^ 15
	if done > 0 {
		roundRowSSE(&out[0], &a[0], done)
	}
	roundRowGeneric(out[done:], a[done:])
}

// toFloat sets out[i] = float32(in[i]).
func toFloat(out []float32, in []uint8) {
	in = in[:len(out)]
	done := len(out) &^ 15
	if done > 0 {
		u8ToF32SSE(&out[0], &in[0], done)
	}
	for i := done; i < len(out); i++ {
		out[i] = float32(in[i])
	}
}
