package eval

// Dense products on padded float32 panels: the one kernel behind kNN
// similarities and the linear probe's logits and gradients.
//
// A panel holds rows of width ld (a multiple of 8, the AVX2 vector width)
// with zero padding past the logical width, and a row count rounded up to a
// multiple of the micro-kernel tile (3 rows for the left operand, 4 for
// the right), padding rows zero. Zero padding does not change dot products.

// panel is a zero-padded row-major float32 matrix.
type panel struct {
	rows, cols int // logical size
	prow, ld   int // padded rows and row stride (floats)
	data       []float32
}

const (
	tileA = 3 // rows of the left operand per micro-kernel call
	tileB = 4 // rows of the right operand per micro-kernel call
)

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// newPanel allocates a zeroed panel for rows x cols with rows padded to a
// multiple of rowMult.
func newPanel(rows, cols, rowMult int) *panel {
	p := &panel{rows: rows, cols: cols, prow: roundUp(max(rows, 1), rowMult), ld: roundUp(max(cols, 1), 8)}
	p.data = make([]float32, p.prow*p.ld)
	return p
}

func (p *panel) row(i int) []float32 { return p.data[i*p.ld : i*p.ld+p.ld] }

// dotTile computes out[i*ldo+j] = dot(a row i, b row j) over the first n
// columns for the 3 x 4 tile whose first rows are at a and b; both have
// row stride ld, n is a positive multiple of 8 and at most ld.
var dotTile = dotTileGo

// dotTileGo is the portable micro-kernel.
func dotTileGo(a, b []float32, ld, n int, out []float32, ldo int) {
	a0, a1, a2 := a[:n], a[ld:ld+n], a[2*ld:2*ld+n]
	for j := range tileB {
		bj := b[j*ld : j*ld+n]
		var s0, s1, s2, t0, t1, t2 float32
		for k := 0; k < n; k += 2 {
			x, y := bj[k], bj[k+1]
			s0 += a0[k] * x
			s1 += a1[k] * x
			s2 += a2[k] * x
			t0 += a0[k+1] * y
			t1 += a1[k+1] * y
			t2 += a2[k+1] * y
		}
		out[j] = s0 + t0
		out[ldo+j] = s1 + t1
		out[2*ldo+j] = s2 + t2
	}
}

// abt computes out[i*ldo+j] = dot(a.row(ai0+i), b.row(bj0+j)) for
// i < na, j < nb, where na is a multiple of 3, nb a multiple of 4 and the
// rows exist in the (padded) panels. a and b must have the same ld.
//
// When b's rows fit in L2 (logits against a few weight rows) each tile of
// a is read once against all of b; otherwise (kNN) each tile of b stays
// in L1 while the rows of a stream past it.
func abt(a *panel, ai0, na int, b *panel, bj0, nb int, out []float32, ldo int) {
	ld := a.ld
	if nb*ld*4 <= 256<<10 {
		for i := 0; i < na; i += tileA {
			as := a.data[(ai0+i)*ld : (ai0+i+tileA)*ld]
			for j := 0; j < nb; j += tileB {
				dotTile(as, b.data[(bj0+j)*ld:(bj0+j+tileB)*ld], ld, ld, out[i*ldo+j:], ldo)
			}
		}
		return
	}
	for j := 0; j < nb; j += tileB {
		bs := b.data[(bj0+j)*ld : (bj0+j+tileB)*ld]
		for i := 0; i < na; i += tileA {
			dotTile(a.data[(ai0+i)*ld:(ai0+i+tileA)*ld], bs, ld, ld, out[i*ldo+j:], ldo)
		}
	}
}

// kBlock is the column chunk of abtLong: 4096 floats, so a 4-row tile of b
// takes 64 KiB and the 12 rows of a typical weight panel 192 KiB of L2.
const kBlock = 4096

// abtLong is abt for long rows and few rows of b (gradients: rows of X^T
// against rows of the residuals): it sums over column chunks so that the
// chunk of b stays in L2 while each chunk of a is read once.
func abtLong(a *panel, ai0, na int, b *panel, bj0, nb int, out []float32, ldo int) {
	ld := a.ld
	var tmp [tileA * tileB]float32
	for i := 0; i < na; i++ {
		clear(out[i*ldo : i*ldo+nb])
	}
	for k0 := 0; k0 < ld; k0 += kBlock {
		n := min(kBlock, ld-k0)
		for i := 0; i < na; i += tileA {
			as := a.data[(ai0+i)*ld+k0:]
			for j := 0; j < nb; j += tileB {
				dotTile(as, b.data[(bj0+j)*ld+k0:], ld, n, tmp[:], tileB)
				for r := range tileA {
					o := out[(i+r)*ldo+j : (i+r)*ldo+j+tileB]
					for c := range tileB {
						o[c] += tmp[r*tileB+c]
					}
				}
			}
		}
	}
}

// Kernel names the micro-kernel in use: "avx2-fma" or "go".
func Kernel() string {
	if useAVX2 {
		return "avx2-fma"
	}
	return "go"
}
