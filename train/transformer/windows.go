package transformer

import "slices"

// PoolWindows embeds whole texts with an encoder of a fixed context and no
// attention mask: each text's token ids are cut into consecutive windows
// of at most seqLen tokens, the windows are sorted stably by length and
// batched by equal length (at most batch at a time; batch <= 0 means one),
// and each text's feature is the token-weighted mean of its windows'
// features. embed gets a batch's ids row-major (b rows of t tokens) and
// returns b rows of dim features. Every text must hold a token.
func PoolWindows(texts [][]int32, seqLen, batch, dim int, embed func(ids []int64, b, t int) ([][]float32, error)) ([][]float32, error) {
	type window struct{ text, start, n int }
	var wins []window
	for i, ids := range texts {
		for s := 0; s < len(ids); s += seqLen {
			wins = append(wins, window{i, s, min(seqLen, len(ids)-s)})
		}
	}
	slices.SortStableFunc(wins, func(a, b window) int { return a.n - b.n })
	sum := make([][]float64, len(texts))
	count := make([]int, len(texts))
	for lo := 0; lo < len(wins); {
		hi := lo + 1
		for hi < len(wins) && hi-lo < batch && wins[hi].n == wins[lo].n {
			hi++
		}
		ids := make([]int64, 0, (hi-lo)*wins[lo].n)
		for _, w := range wins[lo:hi] {
			for _, id := range texts[w.text][w.start : w.start+w.n] {
				ids = append(ids, int64(id))
			}
		}
		vs, err := embed(ids, hi-lo, wins[lo].n)
		if err != nil {
			return nil, err
		}
		for k, w := range wins[lo:hi] {
			if sum[w.text] == nil {
				sum[w.text] = make([]float64, dim)
			}
			for j, v := range vs[k] {
				sum[w.text][j] += float64(v) * float64(w.n)
			}
			count[w.text] += w.n
		}
		lo = hi
	}
	out := make([][]float32, len(texts))
	for i := range texts {
		out[i] = make([]float32, dim)
		for j, v := range sum[i] {
			out[i][j] = float32(v / float64(count[i]))
		}
	}
	return out, nil
}
