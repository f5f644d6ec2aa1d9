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

// dotTile computes out[i*ldo+j] = dot(a row i, b row j) for the 3 x 4 tile
// whose first rows are at a and b; both have row stride ld (a multiple of
// 8) and at least 3 (a) and 4 (b) rows available.
var dotTile = dotTileGo

// dotTileGo is the portable micro-kernel.
func dotTileGo(a, b []float32, ld int, out []float32, ldo int) {
	a0, a1, a2 := a[:ld], a[ld:2*ld], a[2*ld:3*ld]
	for j := range tileB {
		bj := b[j*ld : j*ld+ld]
		var s0, s1, s2, t0, t1, t2 float32
		for k := 0; k < ld; k += 2 {
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
func abt(a *panel, ai0, na int, b *panel, bj0, nb int, out []float32, ldo int) {
	ld := a.ld
	for j := 0; j < nb; j += tileB {
		bs := b.data[(bj0+j)*ld : (bj0+j+tileB)*ld]
		for i := 0; i < na; i += tileA {
			dotTile(a.data[(ai0+i)*ld:(ai0+i+tileA)*ld], bs, ld, out[i*ldo+j:], ldo)
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
