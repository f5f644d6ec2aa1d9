package op

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
)

// TotalNorm is the norm of all tensors together; ReadScalars reads several
// one-element tensors at once.
func TestTotalNormAndReadScalars(t *testing.T) {
	defer LockThread()()
	var tp Tape
	defer tp.Drop()
	var err error
	defer Catch(&err)
	a := tp.Float32([]float32{3, 0}, gotch.CPU, 2)
	b := tp.Float32([]float32{4}, gotch.CPU, 1)
	c := tp.Float32([]float32{12, 0, 0, 0}, gotch.CPU, 2, 2)
	got := ReadScalars(&tp, TotalNorm(&tp, []Tensor{a, b, c}), tp.Sum(a), tp.CountEqual(a, tp.Float32([]float32{3, 1}, gotch.CPU, 2)))
	want := []float64{13, 3, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-5 {
			t.Fatalf("values %v, want %v", got, want)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}
