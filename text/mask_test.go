package text

import (
	"math"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

// maskFixture: 2,000 packed sequences of 128 tokens of fortunes-like text
// encoded with the golden WordPiece tokenizer.
func maskFixture(t *testing.T) (*Tokenizer, *Masker, []Sequence) {
	t.Helper()
	tok, err := LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMasker(tok, MaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPacker(PackOptionsFor(tok, 128, PackAcross))
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, "testdata/mixed.txt")
	var seqs []Sequence
	for i := 0; len(seqs) < 2000; i++ {
		e := tok.Encode(lines[i%len(lines)], false)
		seqs = append(seqs, p.Add(e.IDs, e.Words)...)
	}
	seqs = append(seqs, p.Flush()...)
	// Pad some sequences: padding must never be selected either.
	for i := 0; i < 50; i++ {
		q, _ := NewPacker(PackOptionsFor(tok, 128, PackOnePerSequence))
		e := tok.Encode(lines[i], false)
		seqs = append(seqs, q.Add(e.IDs, e.Words)...)
	}
	return tok, m, seqs
}

// within checks |got-want| <= tol and reports the figures.
func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %.4f", what, got, want, tol)
	} else {
		t.Logf("%s = %.4f (want %.4f ± %.4f)", what, got, want, tol)
	}
}

type maskCounts struct{ maskable, selected, asMask, random, same int }

func countMasking(t *testing.T, tok *Tokenizer, m *Masker, seq Sequence, out Masked, c *maskCounts) {
	t.Helper()
	mask := tok.Specials().Mask
	for i, id := range seq.IDs {
		if !m.Maskable(id) {
			if out.Labels[i] != IgnoreLabel || out.Inputs[i] != id {
				t.Fatalf("special token %d (%q) at %d was selected", id, tok.Token(id), i)
			}
			continue
		}
		c.maskable++
		if out.Labels[i] == IgnoreLabel {
			if out.Inputs[i] != id {
				t.Fatalf("unselected position %d changed", i)
			}
			continue
		}
		if out.Labels[i] != id {
			t.Fatalf("label %d at %d, want original %d", out.Labels[i], i, id)
		}
		c.selected++
		switch in := out.Inputs[i]; {
		case in == mask:
			c.asMask++
		case in == id:
			c.same++
		default:
			if !m.Maskable(in) {
				t.Fatalf("random replacement %d is a special token", in)
			}
			c.random++
		}
	}
}

// Tolerances are about 4 standard deviations of the binomial proportions
// (n ≈ 250,000 maskable tokens, ≈ 37,000 selected).
func TestMLMStatistics(t *testing.T) {
	tok, m, seqs := maskFixture(t)
	var c maskCounts
	for i, s := range seqs {
		out := m.MLM(s.IDs, pipeline.SampleRand(1, 0, uint64(i), 0))
		countMasking(t, tok, m, s, out, &c)
	}
	sel := float64(c.selected)
	within(t, "selected fraction", sel/float64(c.maskable), 0.15, 4*math.Sqrt(0.15*0.85/float64(c.maskable)))
	within(t, "[MASK] share", float64(c.asMask)/sel, 0.8, 4*math.Sqrt(0.8*0.2/sel))
	// A random draw equal to the original counts as "same": p = 1/7995.
	within(t, "random share", float64(c.random)/sel, 0.1, 4*math.Sqrt(0.1*0.9/sel)+0.001)
	within(t, "unchanged share", float64(c.same)/sel, 0.1, 4*math.Sqrt(0.1*0.9/sel)+0.001)
}

func TestMLMDeterministicPerSample(t *testing.T) {
	_, m, seqs := maskFixture(t)
	a := m.MLM(seqs[3].IDs, pipeline.SampleRand(7, 1, 3, 0))
	b := m.MLM(seqs[3].IDs, pipeline.SampleRand(7, 1, 3, 0))
	c := m.MLM(seqs[3].IDs, pipeline.SampleRand(7, 2, 3, 0))
	if !equal32(a.Inputs, b.Inputs) || !equal32(a.Labels, b.Labels) {
		t.Fatal("same (seed, epoch, index, view) gave different masks")
	}
	if equal32(a.Labels, c.Labels) {
		t.Fatal("another epoch gave the same mask")
	}
}

func equal32(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWholeWordStatistics(t *testing.T) {
	tok, m, seqs := maskFixture(t)
	var c maskCounts
	words, wordsSel, multi := 0, 0, 0
	for i, s := range seqs {
		out, err := m.WholeWord(s.IDs, s.Words, pipeline.SampleRand(2, 0, uint64(i), 0))
		if err != nil {
			t.Fatal(err)
		}
		countMasking(t, tok, m, s, out, &c)
		// Whole-word property: within a word, all tokens are selected or none.
		for a := 0; a < len(s.IDs); {
			b := a + 1
			for b < len(s.IDs) && s.Words[b] == s.Words[a] {
				b++
			}
			maskable := 0
			for k := a; k < b; k++ {
				if m.Maskable(s.IDs[k]) {
					maskable++
				}
			}
			// Words made only of special tokens ([UNK], "[SEP]" typed in
			// the text) cannot be selected; HF never masks [UNK] either.
			if s.Words[a] >= 0 && maskable > 0 {
				words++
				n := 0
				for k := a; k < b; k++ {
					if out.Labels[k] != IgnoreLabel {
						n++
					}
				}
				if n != 0 && n != maskable {
					t.Fatalf("sequence %d: word at %d..%d partly selected (%d of %d)", i, a, b, n, maskable)
				}
				if n > 0 {
					wordsSel++
					if b-a > 1 {
						multi++
					}
				}
			}
			a = b
		}
	}
	within(t, "selected word fraction", float64(wordsSel)/float64(words), 0.15, 4*math.Sqrt(0.15*0.85/float64(words)))
	within(t, "[MASK] share", float64(c.asMask)/float64(c.selected), 0.8, 0.012)
	if multi < 100 {
		t.Errorf("only %d multi-token words were selected; the fixture does not exercise whole-word masking", multi)
	}
}

func TestSpanStatistics(t *testing.T) {
	tok, m, seqs := maskFixture(t)
	var c maskCounts
	for i, s := range seqs[:2000] {
		out := m.Span(s.IDs, pipeline.SampleRand(3, 0, uint64(i), 0))
		countMasking(t, tok, m, s, out, &c)
		// Every selected run over maskable positions is at least SpanLength long.
		run := 0
		for k := 0; k <= len(s.IDs); k++ {
			if k < len(s.IDs) && !m.Maskable(s.IDs[k]) {
				continue
			}
			if k < len(s.IDs) && out.Labels[k] != IgnoreLabel {
				run++
				continue
			}
			if run > 0 && run < 4 {
				t.Fatalf("sequence %d: span of %d < 4 ending at %d", i, run, k)
			}
			run = 0
		}
	}
	// Overlapping spans make the covered fraction a little lower than
	// SpanProb (0.35): with ~126 maskable tokens and ~11 spans of 4 this
	// fixture measures ≈ 0.31. Bounds: [0.28, 0.35].
	frac := float64(c.selected) / float64(c.maskable)
	if frac < 0.28 || frac > 0.35 {
		t.Errorf("span masked fraction %.4f outside [0.28, 0.35]", frac)
	}
	t.Logf("span masked fraction %.4f", frac)
	within(t, "[MASK] share", float64(c.asMask)/float64(c.selected), 0.8, 0.012)
}

func TestMaskerRejectsBadOptions(t *testing.T) {
	for _, o := range []MaskOptions{{Prob: 1.5}, {MaskFrac: 0.9, RandomFrac: 0.2}, {SpanLength: -1}} {
		if _, err := NewMaskerIDs(10, 4, []int32{0}, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := NewMaskerIDs(10, 12, nil, MaskOptions{}); err == nil {
		t.Error("mask id outside vocabulary accepted")
	}
}
