package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randPanel(r *rand.Rand, rows, cols, mult int) *panel {
	p := newPanel(rows, cols, mult)
	for i := range rows {
		for j := range cols {
			p.row(i)[j] = float32(r.NormFloat64())
		}
	}
	return p
}

// TestDotTileKernels checks both micro-kernels against float64 dot
// products, for widths that exercise one and many vector steps.
func TestDotTileKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	kernels := map[string]func(a, b []float32, ld, n int, out []float32, ldo int){"go": dotTileGo}
	if useAVX2 {
		kernels["avx2"] = dotTile
	} else {
		t.Log("AVX2/FMA not available (or purego): only the Go kernel is tested")
	}
	for name, k := range kernels {
		for _, cols := range []int{1, 7, 8, 9, 61, 512, 784} {
			a := randPanel(r, 3, cols, 3)
			b := randPanel(r, 4, cols, 4)
			const ldo = 6
			out := make([]float32, 3*ldo)
			for i := range out {
				out[i] = -99
			}
			k(a.data, b.data, a.ld, a.ld, out, ldo)
			for i := range 3 {
				for j := range ldo {
					got := out[i*ldo+j]
					if j >= 4 {
						if got != -99 {
							t.Fatalf("%s cols=%d: wrote outside the tile at (%d,%d)", name, cols, i, j)
						}
						continue
					}
					var want float64
					for c := range cols {
						want += float64(a.row(i)[c]) * float64(b.row(j)[c])
					}
					if math.Abs(float64(got)-want) > 1e-5*math.Sqrt(float64(cols))*4 {
						t.Errorf("%s cols=%d (%d,%d): got %v want %v", name, cols, i, j, got, want)
					}
				}
			}
		}
	}
}

// TestABTLong checks the chunked product (with a partial last chunk and a
// length shorter than the stride) against float64 sums.
func TestABTLong(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a := randPanel(r, 6, 2*kBlock+40, 3)
	b := randPanel(r, 8, 2*kBlock+40, 4)
	out := make([]float32, 6*8)
	for i := range out {
		out[i] = 7 // overwritten, not accumulated
	}
	abtLong(a, 0, 6, b, 0, 8, out, 8)
	small := make([]float32, 6*8)
	abt(a, 0, 6, b, 0, 8, small, 8)
	for i := range 6 {
		for j := range 8 {
			var want float64
			for c := range a.cols {
				want += float64(a.row(i)[c]) * float64(b.row(j)[c])
			}
			if math.Abs(float64(out[i*8+j])-want) > 1e-3 || math.Abs(float64(small[i*8+j])-want) > 1e-3 {
				t.Fatalf("(%d,%d): %v and %v, want %v", i, j, out[i*8+j], small[i*8+j], want)
			}
		}
	}
	// Stride larger than the summed length.
	tile := make([]float32, 12)
	dotTile(a.data, b.data, a.ld, 16, tile, 4)
	for i := range 3 {
		for j := range 4 {
			var want float64
			for c := range 16 {
				want += float64(a.row(i)[c]) * float64(b.row(j)[c])
			}
			if math.Abs(float64(tile[i*4+j])-want) > 1e-4 {
				t.Fatalf("n=16 (%d,%d): %v want %v", i, j, tile[i*4+j], want)
			}
		}
	}
}

func TestABT(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a := randPanel(r, 10, 13, 3) // 12 padded rows
	b := randPanel(r, 7, 13, 4)  // 8 padded rows
	out := make([]float32, 12*8)
	abt(a, 0, 12, b, 0, 8, out, 8)
	for i := range 12 {
		for j := range 8 {
			var want float64
			for c := range 13 {
				want += float64(a.row(i)[c]) * float64(b.row(j)[c])
			}
			if math.Abs(float64(out[i*8+j])-want) > 1e-4 {
				t.Fatalf("(%d,%d): %v want %v", i, j, out[i*8+j], want)
			}
		}
	}
}

func benchKernel(b *testing.B, k func(a, b []float32, ld, n int, out []float32, ldo int)) {
	r := rand.New(rand.NewPCG(5, 6))
	const d = 512
	pa := randPanel(r, 48, d, 3)
	pb := randPanel(r, 64, d, 4)
	out := make([]float32, 48*64)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for j := 0; j < 64; j += 4 {
			for i := 0; i < 48; i += 3 {
				k(pa.data[i*d:], pb.data[j*d:], d, d, out[i*64+j:], 64)
			}
		}
	}
	b.ReportMetric(float64(b.N)*2*48*64*d/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkDotTileGo(b *testing.B) { benchKernel(b, dotTileGo) }
func BenchmarkDotTile(b *testing.B)   { benchKernel(b, dotTile) }
