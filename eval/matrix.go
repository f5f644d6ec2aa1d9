package eval

import (
	"fmt"
	"math"
)

// Matrix is a dense row-major float32 matrix: row i is
// Data[i*Cols : (i+1)*Cols].
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// NewMatrix returns a zeroed rows x cols matrix.
func NewMatrix(rows, cols int) *Matrix {
	return &Matrix{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
}

// Row returns row i (a subslice, not a copy).
func (m *Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols : (i+1)*m.Cols] }

func (m *Matrix) check(name string) error {
	if m == nil {
		return fmt.Errorf("%w: %s: nil matrix", ErrInput, name)
	}
	if m.Rows < 0 || m.Cols <= 0 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("%w: %s: matrix %dx%d has %d values", ErrInput, name, m.Rows, m.Cols, len(m.Data))
	}
	return nil
}

// checkFinite reports the first NaN or Inf in m.
func (m *Matrix) checkFinite(name string) error {
	for i, v := range m.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("eval: %s: row %d column %d is %v", name, i/m.Cols, i%m.Cols, v)
		}
	}
	return nil
}

// SelectRows returns a new matrix holding rows idx of m, in that order.
func (m *Matrix) SelectRows(idx []int) *Matrix {
	out := NewMatrix(len(idx), m.Cols)
	for j, i := range idx {
		copy(out.Row(j), m.Row(i))
	}
	return out
}

// NormalizeRows scales every row of m to unit L2 norm in place; all-zero
// rows stay zero.
func NormalizeRows(m *Matrix) {
	for i := range m.Rows {
		r := m.Row(i)
		var s float64
		for _, v := range r {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(s))
		for j := range r {
			r[j] *= inv
		}
	}
}

// toPanel copies m into a zero-padded panel, optionally L2-normalizing
// each row (computed in float64).
func toPanel(m *Matrix, rowMult int, normalize bool) *panel {
	p := newPanel(m.Rows, m.Cols, rowMult)
	for i := range m.Rows {
		dst := p.row(i)[:m.Cols]
		copy(dst, m.Row(i))
		if normalize {
			var s float64
			for _, v := range dst {
				s += float64(v) * float64(v)
			}
			if s > 0 {
				inv := float32(1 / math.Sqrt(s))
				for j := range dst {
					dst[j] *= inv
				}
			}
		}
	}
	return p
}

func nan() float64 { return math.NaN() }

// Standardize returns copies of train and the others with every column
// shifted and scaled by train's column mean and standard deviation (a
// constant column is only shifted): the per-feature standardization
// fitted on a probe's train split and applied unchanged to its test split.
// A kNN probe on standardized features no longer measures similarity along
// the few directions that dominate an anisotropic representation (e.g.
// mean-pooled transformer outputs); a linear probe standardizes anyway.
func Standardize(train *Matrix, others ...*Matrix) (*Matrix, []*Matrix, error) {
	if err := train.check("standardize train"); err != nil {
		return nil, nil, err
	}
	mean, std := standardize(train)
	apply := func(m *Matrix) *Matrix {
		out := NewMatrix(m.Rows, m.Cols)
		for i := range m.Rows {
			src, dst := m.Row(i), out.Row(i)
			for j, v := range src {
				dst[j] = float32((float64(v) - mean[j]) / std[j])
			}
		}
		return out
	}
	outs := make([]*Matrix, len(others))
	for k, m := range others {
		if err := m.check("standardize"); err != nil {
			return nil, nil, err
		}
		if m.Cols != train.Cols {
			return nil, nil, fmt.Errorf("%w: standardize: train has %d features, matrix %d has %d", ErrInput, train.Cols, k, m.Cols)
		}
		outs[k] = apply(m)
	}
	return apply(train), outs, nil
}
