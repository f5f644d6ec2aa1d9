package eval

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// KNNSetting is one (k, temperature) pair of the weighted kNN vote.
type KNNSetting struct {
	K int     // neighbours that vote
	T float64 // temperature: a neighbour with cosine similarity s votes exp(s/T)
}

// The two settings in common use: lightly/VISSL and solo-learn/DINO.
var (
	KNNDefault = KNNSetting{K: 200, T: 0.1}
	KNNDINO    = KNNSetting{K: 20, T: 0.07}
)

func (s KNNSetting) String() string { return fmt.Sprintf("k=%d T=%g", s.K, s.T) }

// ErrInput is wrapped by errors about the shape or content of inputs
// (mismatched dimensions, label counts, labels out of range, NaN features).
var ErrInput = errors.New("eval: invalid input")

// KNNOptions configures KNN.
type KNNOptions struct {
	// Settings to evaluate; each gets its own predictions. Default
	// {KNNDefault}. The neighbours are found once for the largest K.
	Settings []KNNSetting
	// Classes is the number of classes; 0 means max label + 1.
	Classes int
	// Workers is the number of goroutines; <= 0 means GOMAXPROCS.
	Workers int
}

// KNN classifies every row of query by a weighted vote of its nearest rows
// of train, by cosine similarity (rows are L2-normalized internally; the
// inputs are not modified). A neighbour with similarity s votes exp(s/T)
// for its label; the class with the largest total wins, ties going to the
// lower class index. Among neighbours at exactly equal similarity the one
// with the lower train index is nearer. If K exceeds the number of train
// rows, all train rows vote. It returns one prediction slice per setting,
// in the order of opt.Settings.
func KNN(train *Matrix, trainLabels []int, query *Matrix, opt KNNOptions) ([][]int, error) {
	if err := train.check("kNN train"); err != nil {
		return nil, err
	}
	if err := query.check("kNN query"); err != nil {
		return nil, err
	}
	if train.Cols != query.Cols {
		return nil, fmt.Errorf("%w: kNN train has %d features, query %d", ErrInput, train.Cols, query.Cols)
	}
	classes, err := checkLabels(trainLabels, train.Rows, opt.Classes)
	if err != nil {
		return nil, err
	}
	if train.Rows == 0 {
		return nil, fmt.Errorf("%w: kNN with an empty train set", ErrInput)
	}
	if err := train.checkFinite("kNN train"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if err := query.checkFinite("kNN query"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	settings := opt.Settings
	if len(settings) == 0 {
		settings = []KNNSetting{KNNDefault}
	}
	maxK := 0
	for _, s := range settings {
		if s.K <= 0 || !(s.T > 0) {
			return nil, fmt.Errorf("%w: kNN setting %v: k and T must be positive", ErrInput, s)
		}
		maxK = max(maxK, s.K)
	}
	maxK = min(maxK, train.Rows)

	preds := make([][]int, len(settings))
	for i := range preds {
		preds[i] = make([]int, query.Rows)
	}
	err = Neighbors(train, query, maxK, opt.Workers, func(q int, nb []Neighbor) {
		votes := make([]float64, classes)
		for si, s := range settings {
			clear(votes)
			for _, n := range nb[:min(s.K, len(nb))] {
				votes[trainLabels[n.Index]] += math.Exp(float64(n.Sim) / s.T)
			}
			best := 0
			for c, v := range votes {
				if v > votes[best] {
					best = c
				}
			}
			preds[si][q] = best
		}
	})
	return preds, err
}

func checkLabels(labels []int, rows, classes int) (int, error) {
	if len(labels) != rows {
		return 0, fmt.Errorf("%w: %d labels for %d rows", ErrInput, len(labels), rows)
	}
	maxL := -1
	for i, l := range labels {
		if l < 0 || (classes > 0 && l >= classes) {
			return 0, fmt.Errorf("%w: label %d of row %d out of range", ErrInput, l, i)
		}
		maxL = max(maxL, l)
	}
	if classes <= 0 {
		classes = maxL + 1
	}
	return classes, nil
}

// Neighbor is a train row and its cosine similarity to a query.
type Neighbor struct {
	Index int
	Sim   float32
}

// Block sizes: a worker holds queryBlock normalized query rows (in L2) and
// streams the train rows past them trainBlock at a time.
const (
	queryBlock = 64 * tileA
	trainBlock = 32 * tileB
)

// Neighbors finds, for every row of query, the k rows of train with the
// largest cosine similarity (both L2-normalized internally), sorted by
// decreasing similarity (ties: lower train index first), and calls fn(q,
// neighbours) once per query row. fn is called from the worker goroutines,
// concurrently for different q, and must not retain the slice.
func Neighbors(train, query *Matrix, k, workers int, fn func(q int, nb []Neighbor)) error {
	if err := train.check("neighbours train"); err != nil {
		return err
	}
	if err := query.check("neighbours query"); err != nil {
		return err
	}
	if train.Cols != query.Cols {
		return fmt.Errorf("%w: train has %d features, query %d", ErrInput, train.Cols, query.Cols)
	}
	k = min(k, train.Rows)
	if k <= 0 {
		return fmt.Errorf("%w: k must be positive and train non-empty", ErrInput)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tp := toPanel(train, trainBlock, true)
	qp := toPanel(query, queryBlock, true)
	nBlocks := qp.prow / queryBlock
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, nBlocks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sims := make([]float32, queryBlock*trainBlock)
			heaps := make([]topK, queryBlock)
			for {
				b := int(next.Add(1) - 1)
				if b >= nBlocks {
					return
				}
				q0 := b * queryBlock
				nq := min(queryBlock, qp.rows-q0)
				for i := range nq {
					heaps[i].reset(k)
				}
				for t0 := 0; t0 < tp.rows; t0 += trainBlock {
					abt(qp, q0, queryBlock, tp, t0, trainBlock, sims, trainBlock)
					nt := min(trainBlock, tp.rows-t0)
					for i := range nq {
						heaps[i].push(sims[i*trainBlock:i*trainBlock+nt], t0, k)
					}
				}
				for i := range nq {
					fn(q0+i, heaps[i].result(k))
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// topK keeps the k best neighbours seen so far. Candidates better than
// the current threshold (the k-th best after the last selection) are
// appended to a buffer of up to 4k; a full buffer is cut back to its k
// best by quickselect, raising the threshold. Candidates arrive in
// increasing index order, so one whose similarity equals the threshold is
// worse than the neighbour that set it and is rejected.
type topK struct {
	items  []Neighbor
	thresh float32
	full   bool // a selection has happened: thresh is valid
}

func (h *topK) reset(k int) {
	if cap(h.items) < 4*k {
		h.items = make([]Neighbor, 0, 4*k)
	}
	h.items = h.items[:0]
	h.full = false
}

// better reports whether a is a nearer neighbour than b.
func better(a, b Neighbor) bool {
	return a.Sim > b.Sim || a.Sim == b.Sim && a.Index < b.Index
}

func (h *topK) push(sims []float32, base, k int) {
	it, th, full := h.items, h.thresh, h.full
	for j, s := range sims {
		if full && s <= th {
			continue
		}
		it = append(it, Neighbor{Index: base + j, Sim: s})
		if len(it) == cap(it) {
			selectBest(it, k)
			it = it[:k]
			th, full = worstSim(it), true
		}
	}
	h.items, h.thresh, h.full = it, th, full
}

// result returns the k best, sorted nearest first.
func (h *topK) result(k int) []Neighbor {
	it := h.items
	if len(it) > k {
		selectBest(it, k)
		it = it[:k]
	}
	slices.SortFunc(it, func(x, y Neighbor) int {
		if better(x, y) {
			return -1
		}
		if better(y, x) {
			return 1
		}
		return 0
	})
	return it
}

func worstSim(it []Neighbor) float32 {
	m := it[0].Sim
	for _, n := range it[1:] {
		m = min(m, n.Sim)
	}
	return m
}

// selectBest reorders a so that its first k elements are the k best (in
// any order), by quickselect with median-of-three pivots.
func selectBest(a []Neighbor, k int) {
	lo, hi := 0, len(a)-1
	for hi > lo {
		mid := lo + (hi-lo)/2
		// Order a[lo], a[mid], a[hi] best first; a[mid] is the pivot.
		if better(a[mid], a[lo]) {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if better(a[hi], a[lo]) {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if better(a[hi], a[mid]) {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for better(a[i], p) {
				i++
			}
			for better(p, a[j]) {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		// a[lo..j] are at least as good as p, a[i..hi] at most as good.
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
