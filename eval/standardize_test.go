package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestStandardizeValues: hand-computed values (train column 0: 1, 3, 5 →
// mean 3, population std sqrt(8/3); column 1 constant 7 → shifted only),
// the test rows transformed with train's statistics, inputs unchanged.
func TestStandardizeValues(t *testing.T) {
	train := &Matrix{Rows: 3, Cols: 2, Data: []float32{1, 7, 3, 7, 5, 7}}
	test := &Matrix{Rows: 2, Cols: 2, Data: []float32{3, 9, 11, 7}}
	st, o, err := Standardize(train, test)
	if err != nil {
		t.Fatal(err)
	}
	s := math.Sqrt(8.0 / 3)
	wantTrain := []float64{-2 / s, 0, 0, 0, 2 / s, 0}
	wantTest := []float64{0, 2, 8 / s, 0}
	for i, w := range wantTrain {
		if math.Abs(float64(st.Data[i])-w) > 1e-6 {
			t.Fatalf("train %v, want %v", st.Data, wantTrain)
		}
	}
	for i, w := range wantTest {
		if math.Abs(float64(o[0].Data[i])-w) > 1e-6 {
			t.Fatalf("test %v, want %v", o[0].Data, wantTest)
		}
	}
	if train.Data[0] != 1 || test.Data[1] != 9 {
		t.Fatal("inputs modified")
	}
	if _, _, err := Standardize(train, &Matrix{Rows: 1, Cols: 3, Data: make([]float32, 3)}); !errors.Is(err, ErrInput) {
		t.Fatalf("column mismatch: %v", err)
	}
}

// TestStandardizeAnisotropicKNN: two classes that differ along one
// small-scale column, beside a large-scale noise column and a constant
// offset (an anisotropic representation): cosine kNN is near chance on the
// raw rows, where the noise column decides the neighbours, and accurate
// once the columns are standardized.
func TestStandardizeAnisotropicKNN(t *testing.T) {
	mk := func(n int, seed uint64) (*Matrix, []int) {
		r := rand.New(rand.NewPCG(seed, 3))
		m := NewMatrix(n, 3)
		y := make([]int, n)
		for i := range n {
			y[i] = i % 2
			row := m.Row(i)
			row[0] = float32(0.3*float64(2*y[i]-1) + 0.05*r.NormFloat64())
			row[1] = float32(30 * r.NormFloat64())
			row[2] = 50
		}
		return m, y
	}
	tr, ytr := mk(400, 1)
	te, yte := mk(200, 2)
	acc := func(a, b *Matrix) float64 {
		p, err := KNN(a, ytr, b, KNNOptions{Settings: []KNNSetting{{K: 20, T: 0.1}}})
		if err != nil {
			t.Fatal(err)
		}
		return Accuracy(p[0], yte)
	}
	raw := acc(tr, te)
	str, ste, err := Standardize(tr, te)
	if err != nil {
		t.Fatal(err)
	}
	std := acc(str, ste[0])
	if raw > 0.7 || std < 0.9 {
		t.Fatalf("kNN accuracy raw %.3f (want <= 0.7), standardized %.3f (want >= 0.9)", raw, std)
	}
	t.Logf("kNN accuracy raw %.3f, standardized %.3f", raw, std)
}
