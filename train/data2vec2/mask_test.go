package data2vec2

import (
	"slices"
	"sync"
	"testing"

	"github.com/sslpipe/sslpipe/audio"
)

// Every kind of mask: rows of a batch mask the same count, a sample's mask
// depends only on its key and clone (not on its batch mates or position in
// the batch), clones and epochs differ.
func TestMaskerKeyed(t *testing.T) {
	for _, c := range []struct {
		cfg        MaskConfig
		T, r, cols int
		want       int
	}{
		{MaskConfig{Kind: "block", Prob: 0.8, Length: 3, ProbAdjust: 0.07, Inverse: true}, 196, 14, 14, 196 - 39},
		{MaskConfig{Kind: "block", Prob: 0.8, Length: 2, ProbAdjust: 0.07, Inverse: true}, 49, 7, 7, 49 - 9},
		{MaskConfig{Kind: "random", Prob: 0.48}, 512, 0, 0, 512 - 266}, // fairseq: len_keep = int(512·0.52) = 266
		{MaskConfig{Kind: "random", Prob: 0.48}, 32, 0, 0, 32 - 16},
		{MaskConfig{Kind: "span", Prob: 0.5, Length: 5, MinMasks: 1}, 99, 0, 0, -1},
	} {
		m, err := NewMasker(c.cfg, c.T, c.r, c.cols)
		if err != nil {
			t.Fatal(err)
		}
		want := c.want
		if want < 0 {
			want, _ = audio.ExpectedSpanCount(c.T, audio.MaskConfig{Prob: c.cfg.Prob, Length: c.cfg.Length, MinMasks: c.cfg.MinMasks})
		}
		if m.Masked() != want {
			t.Errorf("%s over %d: Masked %d, want %d", c.cfg.Kind, c.T, m.Masked(), want)
		}
		keys := []MaskKey{{Seed: 1, Epoch: 0, Index: 5}, {Seed: 1, Epoch: 0, Index: 9}, {Seed: 1, Epoch: 3, Index: 5}}
		b := m.Batch(keys, 3)
		if len(b) != 9*c.T {
			t.Fatalf("batch of %d entries", len(b))
		}
		rows := make([][]bool, 9)
		for r := range rows {
			rows[r] = b[r*c.T : (r+1)*c.T]
			n := 0
			for _, v := range rows[r] {
				if v {
					n++
				}
			}
			if n != m.Masked() {
				t.Fatalf("%s: row %d masks %d, want %d", c.cfg.Kind, r, n, m.Masked())
			}
		}
		alone := m.Batch(keys[1:2], 3)
		if !slices.Equal(alone, b[3*c.T:6*c.T]) {
			t.Errorf("%s: a sample's masks depend on its batch", c.cfg.Kind)
		}
		if slices.Equal(rows[0], rows[1]) || slices.Equal(rows[0], rows[6]) || slices.Equal(rows[0], rows[3]) {
			t.Errorf("%s: clones, epochs or samples share a mask", c.cfg.Kind)
		}
	}
	for _, bad := range []struct {
		cfg        MaskConfig
		T, r, cols int
	}{
		{MaskConfig{Kind: "block", Prob: 0.8, Length: 3, Inverse: true}, 50, 7, 7},
		{MaskConfig{Kind: "random", Prob: 1}, 10, 0, 0},
		{MaskConfig{Kind: "random", Prob: 0}, 10, 0, 0},
		{MaskConfig{Kind: "span", Prob: 0.5, Length: 0}, 10, 0, 0},
		{MaskConfig{Kind: "bert", Prob: 0.5}, 10, 0, 0},
	} {
		if _, err := NewMasker(bad.cfg, bad.T, bad.r, bad.cols); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// A Masker is shared by data workers: concurrent draws give the same
// masks as sequential ones.
func TestMaskerConcurrent(t *testing.T) {
	m, err := NewMasker(MaskConfig{Kind: "span", Prob: 0.5, Length: 5, MinMasks: 1}, 99, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]MaskKey, 16)
	for i := range keys {
		keys[i] = MaskKey{Seed: 3, Epoch: 1, Index: uint64(i)}
	}
	want := m.Batch(keys, 4)
	got := make([][]bool, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = m.Batch(keys[i:i+1], 4)
		}()
	}
	wg.Wait()
	if !slices.Equal(slices.Concat(got...), want) {
		t.Error("concurrent masks differ from sequential ones")
	}
}
