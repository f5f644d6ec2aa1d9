package text

import (
	"slices"
	"testing"
)

func seq(n int, base int32) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = base + int32(i)
	}
	return s
}

func TestPackAcross(t *testing.T) {
	const cls, sep, pad = 2, 3, 0
	p, err := NewPacker(PackOptions{SeqLen: 8, Mode: PackAcross, Begin: cls, End: sep, Pad: pad})
	if err != nil {
		t.Fatal(err)
	}
	var out []Sequence
	out = append(out, p.Add(seq(4, 100), nil)...) // doc A: 4 tokens
	out = append(out, p.Add(seq(9, 200), nil)...) // doc B: 9 tokens
	out = append(out, p.Add(seq(1, 300), nil)...) // doc C: 1 token
	out = append(out, p.Flush()...)
	want := [][]int32{
		{cls, 100, 101, 102, 103, sep, 200, sep},
		{cls, 201, 202, 203, 204, 205, 206, sep},
		{cls, 207, 208, sep, 300, sep, pad, pad},
	}
	if len(out) != len(want) {
		t.Fatalf("%d sequences, want %d", len(out), len(want))
	}
	for i, s := range out {
		if !slices.Equal(s.IDs, want[i]) {
			t.Errorf("sequence %d = %v, want %v", i, s.IDs, want[i])
		}
		for k, id := range s.IDs {
			wantMask := int32(1)
			if k >= 6 && i == 2 {
				wantMask = 0
			}
			if s.AttentionMask[k] != wantMask {
				t.Errorf("sequence %d: attention mask %v", i, s.AttentionMask)
				break
			}
			if (id == cls || id == sep || id == pad) != (s.Words[k] < 0) {
				t.Errorf("sequence %d: words %v", i, s.Words)
				break
			}
		}
	}
	// Words are distinct across documents within a sequence.
	if w := out[0].Words; w[4] == w[6] {
		t.Errorf("documents share a word index: %v", w)
	}
}

func TestPackOnePerSequence(t *testing.T) {
	p, err := NewPacker(PackOptions{SeqLen: 6, Mode: PackOnePerSequence, Begin: 0, End: 2, Pad: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Add(seq(7, 10), []int32{0, 0, 1, 2, 2, 2, 3})
	if len(got) != 1 || !slices.Equal(got[0].IDs, []int32{0, 10, 11, 12, 13, 2}) {
		t.Fatalf("truncation: %+v", got)
	}
	if !slices.Equal(got[0].Words, []int32{-1, 0, 0, 1, 2, -1}) {
		t.Errorf("words %v", got[0].Words)
	}
	got = p.Add(seq(2, 50), nil)
	if !slices.Equal(got[0].IDs, []int32{0, 50, 51, 2, 1, 1}) || !slices.Equal(got[0].AttentionMask, []int32{1, 1, 1, 1, 0, 0}) {
		t.Errorf("padding: %+v", got[0])
	}
	p.o.SplitLong = true
	got = p.Add(seq(9, 10), nil)
	if len(got) != 3 || !slices.Equal(got[2].IDs, []int32{0, 18, 2, 1, 1, 1}) {
		t.Errorf("split long: %+v", got)
	}
	if len(p.Flush()) != 0 {
		t.Error("one-per-sequence packer kept state")
	}
}

func TestPackerNoSpecials(t *testing.T) {
	p, err := NewPacker(PackOptions{SeqLen: 3, Mode: PackAcross, Begin: -1, End: -1, Pad: 0})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Add(seq(7, 1), nil)
	got = append(got, p.Flush()...)
	if len(got) != 3 || !slices.Equal(got[2].IDs, []int32{7, 0, 0}) {
		t.Errorf("%+v", got)
	}
	if _, err := NewPacker(PackOptions{SeqLen: 2, Begin: 1, End: 2}); err == nil {
		t.Error("sequence length 2 with two specials accepted")
	}
}
