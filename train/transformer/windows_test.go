package transformer

import (
	"math"
	"testing"
)

// TestPoolWindows checks the windows, the batching by equal length and the
// token-weighted mean with an embed whose feature is a window's mean id.
func TestPoolWindows(t *testing.T) {
	texts := [][]int32{{1, 2, 3, 4, 5}, {10}, {7, 7, 7}}
	var calls [][2]int
	embed := func(ids []int64, b, n int) ([][]float32, error) {
		if len(ids) != b*n {
			t.Fatalf("got %d ids for %d x %d", len(ids), b, n)
		}
		calls = append(calls, [2]int{b, n})
		out := make([][]float32, b)
		for r := range out {
			s := 0.0
			for _, id := range ids[r*n : (r+1)*n] {
				s += float64(id)
			}
			out[r] = []float32{float32(s / float64(n))}
		}
		return out, nil
	}
	got, err := PoolWindows(texts, 3, 8, 1, embed)
	if err != nil {
		t.Fatal(err)
	}
	// Windows: {1,2,3} {4,5} | {10} | {7,7,7}: the token-weighted mean of
	// the window means is each text's mean id.
	for i, want := range []float64{3, 10, 7} {
		if math.Abs(float64(got[i][0])-want) > 1e-6 {
			t.Errorf("text %d: %v, want %v", i, got[i][0], want)
		}
	}
	want := [][2]int{{1, 1}, {1, 2}, {2, 3}} // lengths 1, 2, then the two of 3
	if len(calls) != len(want) {
		t.Fatalf("batches %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("batches %v, want %v", calls, want)
		}
	}
	calls = nil
	if _, err := PoolWindows(texts, 3, 1, 1, embed); err != nil || len(calls) != 4 {
		t.Fatalf("batch 1: %d calls (%v), want 4", len(calls), err)
	}
}
