//go:build amd64 && !purego

package eval

// dotTileAVX2 is dotTileGo with AVX2 and FMA (gemm_amd64.s).
//
//go:noescape
func dotTileAVX2(a, b *float32, ld, n int, out *float32, ldo int)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// hasAVX2FMA reports whether the CPU and OS support AVX2 and FMA.
func hasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

var useAVX2 = hasAVX2FMA()

func init() {
	if useAVX2 {
		dotTile = func(a, b []float32, ld, n int, out []float32, ldo int) {
			if n <= 0 || n%8 != 0 || n > ld {
				panic("eval: dotTile: bad length")
			}
			_ = a[2*ld+n-1]
			_ = b[3*ld+n-1]
			_ = out[2*ldo+3]
			dotTileAVX2(&a[0], &b[0], ld, n, &out[0], ldo)
		}
	}
}
