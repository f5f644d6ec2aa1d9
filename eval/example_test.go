package eval_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/sslpipe/sslpipe/eval"
)

func ExampleLinearProbe() {
	// Two Gaussian classes in 5 dimensions, separated along the first axis.
	r := rand.New(rand.NewPCG(1, 2))
	gen := func(n int) (*eval.Matrix, []int) {
		x := eval.NewMatrix(n, 5)
		y := make([]int, n)
		for i := range n {
			y[i] = i % 2
			for j := range 5 {
				x.Row(i)[j] = float32(r.NormFloat64())
			}
			x.Row(i)[0] += float32(4*y[i] - 2)
		}
		return x, y
	}
	train, trainY := gen(400)
	test, testY := gen(200)
	res, err := eval.LinearProbe(train, trainY, eval.LinearOptions{L2: []float64{0.1, 0.01}})
	if err != nil {
		fmt.Println(err)
		return
	}
	pred, _ := res.Model.Predict(test, 1)
	fmt.Println(len(res.Sweep), eval.Accuracy(pred, testY) > 0.95)
	// Output: 2 true
}

func ExampleFitTFIDF() {
	docs := [][]string{
		eval.Words("The computer crashed."),
		eval.Words("A computer, a disk; a crash."),
		eval.Words("Love is patient."),
	}
	v := eval.FitTFIDF(docs, eval.TFIDFOptions{})
	x := v.Transform(docs) // 3 x len(v.Terms), rows L2-normalized
	fmt.Println(v.Terms)
	fmt.Println(x.Rows, x.Cols)
	// Output:
	// [a computer crash crashed disk is love patient the]
	// 3 9
}

func ExampleStandardize() {
	// Column 0 varies on train (1, 3, 5); column 1 is constant (shifted only).
	train := &eval.Matrix{Rows: 3, Cols: 2, Data: []float32{1, 7, 3, 7, 5, 7}}
	test := &eval.Matrix{Rows: 1, Cols: 2, Data: []float32{3, 9}}
	_, out, err := eval.Standardize(train, test)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out[0].Data)
	// Output: [0 2]
}

func ExampleStratifiedFolds() {
	// Labels of 10 examples: 6 of class 0, 4 of class 1.
	labels := []int{0, 0, 1, 0, 1, 0, 0, 1, 0, 1}
	folds, err := eval.StratifiedFolds(labels, 2, 7)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, test := range folds {
		train := eval.Complement(len(labels), test)
		n1 := 0
		for _, i := range test {
			n1 += labels[i]
		}
		fmt.Println(len(train), len(test), n1) // train rows, test rows, class-1 test rows
	}
	mean, sd, se := eval.MeanSD([]float64{0.25, 0.27, 0.23})
	fmt.Printf("%.2f %.2f %.3f\n", mean, sd, se)
	// Output:
	// 5 5 2
	// 5 5 2
	// 0.25 0.02 0.012
}
