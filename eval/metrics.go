package eval

import "fmt"

// Accuracy is the fraction of predictions equal to the labels (0 for
// empty input). It panics if the lengths differ.
func Accuracy(pred, labels []int) float64 {
	if len(pred) != len(labels) {
		panic(fmt.Sprintf("eval: Accuracy: %d predictions for %d labels", len(pred), len(labels)))
	}
	if len(pred) == 0 {
		return 0
	}
	ok := 0
	for i, p := range pred {
		if p == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(pred))
}

// PerClassAccuracy returns, for each class c < classes, the fraction of
// examples labelled c that were predicted c (NaN for a class with no
// examples), and the count of examples per class.
func PerClassAccuracy(pred, labels []int, classes int) (acc []float64, count []int) {
	if len(pred) != len(labels) {
		panic(fmt.Sprintf("eval: PerClassAccuracy: %d predictions for %d labels", len(pred), len(labels)))
	}
	acc = make([]float64, classes)
	count = make([]int, classes)
	ok := make([]int, classes)
	for i, l := range labels {
		count[l]++
		if pred[i] == l {
			ok[l]++
		}
	}
	for c := range acc {
		if count[c] == 0 {
			acc[c] = nan()
		} else {
			acc[c] = float64(ok[c]) / float64(count[c])
		}
	}
	return acc, count
}

// Confusion returns the classes x classes matrix whose entry [l][p] counts
// examples labelled l and predicted p.
func Confusion(pred, labels []int, classes int) [][]int {
	m := make([][]int, classes)
	for i := range m {
		m[i] = make([]int, classes)
	}
	for i, l := range labels {
		m[l][pred[i]]++
	}
	return m
}
