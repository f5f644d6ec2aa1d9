//go:build amd64 && !purego

package augment

func cpuHasSSE41() bool

//go:noescape
func vertRowSSE41(dst, src *uint8, stride, n int, k *int32, taps int) int

//go:noescape
func horizRow3SSE41(dst, src *uint8, w int, bounds *int, k *int32, ksize int)

var useSSE41 = cpuHasSSE41()

// vertRowFast does the 16-byte blocks of one output row of the vertical
// pass and returns how many bytes it did.
func vertRowFast(dst, src []uint8, stride int, k []int32) int {
	if !useSSE41 || len(dst) < 16 || len(k) == 0 {
		return 0
	}
	// The last tap's row must hold len(dst) bytes.
	_ = src[(len(k)-1)*stride+len(dst)-1]
	return vertRowSSE41(&dst[0], &src[0], stride, len(dst), &k[0], len(k))
}

// horizRowFast runs the RGB horizontal pass of one row when SSE4.1 is
// present and one byte past the row is readable (the 4-byte loads).
func horizRowFast(out, row []uint8, cf *coeffs) bool {
	if !useSSE41 || len(out) == 0 {
		return false
	}
	w := len(out) / 3
	last := 2*w - 2
	if end := 3 * (cf.bounds[last] + cf.bounds[last+1]); end >= len(row) {
		return false
	}
	if len(cf.k4) != 4*len(cf.k) {
		cf.k4 = cf.k4[:0]
		for _, v := range cf.k {
			cf.k4 = append(cf.k4, v, v, v, v)
		}
	}
	horizRow3SSE41(&out[0], &row[0], w, &cf.bounds[0], &cf.k4[0], cf.ksize)
	return true
}
