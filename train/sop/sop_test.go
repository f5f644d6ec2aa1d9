package sop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/text"
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/data"
	"github.com/sslpipe/sslpipe/train/nn"
	"github.com/sslpipe/sslpipe/train/op"
)

// Special ids of the synthetic vocabulary; ordinary tokens are >= 10,
// terminators 5 and 6.
const (
	pad, cls, sep, mask = 0, 2, 3, 4
	stop, bang          = 5, 6
)

func testModel() *Model {
	return &Model{SeqLen: 40, Vocab: 5000, CLS: cls, SEP: sep, Pad: pad, Mask: mask}
}

func TestDocumentsAndSentences(t *testing.T) {
	seq := []int32{cls, 11, 12, stop, 13, sep, 14, 15, bang, bang, 16, stop, sep, 17, sep, pad, pad}
	docs := Documents(seq, cls, sep, pad)
	want := [][]int32{{11, 12, stop, 13}, {14, 15, bang, bang, 16, stop}, {17}}
	if !slices.EqualFunc(docs, want, slices.Equal[[]int32]) {
		t.Fatalf("documents %v, want %v", docs, want)
	}
	sents := Sentences(docs[1], []int32{stop, bang}, nil)
	if want := [][]int32{{14, 15, bang, bang}, {16, stop}}; !slices.EqualFunc(sents, want, slices.Equal[[]int32]) {
		t.Fatalf("sentences %v, want %v", sents, want)
	}
	if s := Sentences(docs[0], []int32{stop}, nil); len(s) != 2 || !slices.Equal(s[1], []int32{13}) {
		t.Fatalf("a trailing sentence without terminator: %v", s)
	}
}

// packed is a dataset of n packed sequences of 40 tokens (PackAcross
// layout: "[CLS] d1 [SEP] d2 [SEP] ... [SEP]" then padding in the last),
// documents of 3-6 sentences of 2-8 tokens; every token id appears once in
// the whole set, so a segment's place in its document is unambiguous.
func packed(n int) *data.Dataset {
	r := rand.New(rand.NewPCG(1, 1))
	next := int32(10)
	var stream []int32
	for len(stream) < n*38 {
		if len(stream) > 0 {
			stream = append(stream, sep)
		}
		for range 3 + r.IntN(4) {
			for range 1 + r.IntN(7) {
				stream = append(stream, next)
				next++
			}
			stream = append(stream, stop)
		}
	}
	seqs := make([][]int32, n)
	for i := range seqs {
		s := append([]int32{cls}, stream[i*38:(i+1)*38]...)
		seqs[i] = append(s, sep)
	}
	return data.New("packed", data.Text, n, 2, func(_ context.Context, i int) (data.Example, error) {
		return data.Example{Key: fmt.Sprint(i), Tokens: seqs[i], Class: -1}, nil
	})
}

// index returns where seg starts in doc as a contiguous run (-1: nowhere).
func index(doc, seg []int32) int {
	for i := 0; i+len(seg) <= len(doc); i++ {
		if slices.Equal(doc[i:i+len(seg)], seg) {
			return i
		}
	}
	return -1
}

// TestPairLabels: every input is "[CLS] A [SEP] B [SEP]" with A and B
// contiguous, non-overlapping runs of one document of its sequence; label
// 0 exactly when A comes first in the document; both labels occur about
// equally; batches are cropped to their shortest pair and do not depend
// on the worker count; MLM never masks special tokens.
func TestPairLabels(t *testing.T) {
	m := testModel()
	s := &Settings{Terminators: []int32{stop, bang}, ShortSeqProb: 0.1, MinTokens: 4, MLM: 1, MaskProb: 0.15}
	ds := packed(64)
	masker, err := text.NewMaskerIDs(m.Vocab, mask, []int32{cls, sep, pad}, text.MaskOptions{Prob: s.MaskProb})
	if err != nil {
		t.Fatal(err)
	}
	run := func(workers int, mk *text.Masker) []*Batch {
		var out []*Batch
		for b, err := range pipeline.All(context.Background(), batches(ds.Stream(pipeline.Order{Seed: 4, Epochs: 1, Shuffle: true}), m, s, mk, 8, workers), pipeline.RunOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b.Value.(*Batch))
		}
		return out
	}
	a, b := run(1, nil), run(3, nil)
	if len(a) != 8 {
		t.Fatalf("%d batches of 64 sequences", len(a))
	}
	for i := range a {
		if !slices.Equal(a[i].IDs, b[i].IDs) || !slices.Equal(a[i].Labels, b[i].Labels) {
			t.Fatalf("batch %d differs between 1 and 3 workers", i)
		}
	}
	ex, _ := ds.Collect(context.Background(), 0)
	var docs [][]int32
	for _, x := range ex {
		docs = append(docs, Documents(x.Tokens, cls, sep, pad)...)
	}
	counts := [2]int{}
	for _, bt := range a {
		for i := 0; i < bt.B; i++ {
			row := bt.IDs[i*bt.T : (i+1)*bt.T]
			if row[0] != cls || row[bt.T-1] != sep {
				t.Fatalf("input %v is not [CLS] ... [SEP]", row)
			}
			k := slices.Index(row[1:], sep) + 1
			segA, segB := toInt32(row[1:k]), toInt32(row[k+1:bt.T-1])
			if len(segA) == 0 || len(segB) == 0 {
				t.Fatalf("empty segment in %v", row)
			}
			for j, ty := range bt.Types[i*bt.T : (i+1)*bt.T] {
				if want := int64(min(max(j-k, 0), 1)); ty != want {
					t.Fatalf("segment id %d at %d, want %d (first [SEP] at %d)", ty, j, want, k)
				}
			}
			found := false
			for _, d := range docs {
				ia, ib := index(d, segA), index(d, segB)
				if ia < 0 || ib < 0 {
					continue
				}
				found = true
				first := ia < ib
				if first && ia+len(segA) > ib || !first && ib+len(segB) > ia {
					t.Fatalf("segments %v and %v overlap in %v", segA, segB, d)
				}
				if label := bt.Labels[i]; (label == text.SOPInOrder) != first {
					t.Fatalf("label %d but A first in its document is %v: %v | %v in %v", label, first, segA, segB, d)
				}
			}
			if !found {
				t.Fatalf("segments %v | %v are not runs of one document", segA, segB)
			}
			counts[bt.Labels[i]]++
		}
	}
	if counts[0] < 20 || counts[1] < 20 {
		t.Errorf("labels %v", counts)
	}
	// MLM: masked positions hold their original ids as targets and are
	// never special.
	for bi, bt := range run(2, masker) {
		if len(bt.MaskPos) == 0 {
			t.Fatalf("batch %d: nothing masked", bi)
		}
		for j, p := range bt.MaskPos {
			if tg := bt.MaskTargets[j]; tg == cls || tg == sep || tg == pad {
				t.Fatalf("special token %d masked", tg)
			}
			if bt.IDs[p] != mask && bt.IDs[p] != bt.MaskTargets[j] && bt.IDs[p] < 10 {
				t.Fatalf("masked position %d holds %d", p, bt.IDs[p])
			}
		}
	}
}

func toInt32(v []int64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// TestLearnsOrder: on documents whose first sentence is drawn from low
// token ids and whose second from high ones, a few dozen steps take the
// order accuracy far above chance.
func TestLearnsOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network")
	}
	defer op.LockThread()()
	c, err := train.PresetConfig("sop", "smoke")
	if err != nil {
		t.Fatal(err)
	}
	m, s := model(&c), settings(&c)
	m.Vocab, m.CLS, m.SEP, m.Pad, m.Mask = 100, cls, sep, pad, mask
	s.Terminators, s.MLM, s.ShortSeqProb = []int32{stop}, 0, 0
	ds := data.New("ordered", data.Text, 32, 2, func(_ context.Context, i int) (data.Example, error) {
		r := rand.New(rand.NewPCG(uint64(i), 2))
		seq := []int32{cls}
		for range 4 + r.IntN(4) {
			seq = append(seq, int32(10+r.IntN(40)))
		}
		seq = append(seq, stop)
		for range 4 + r.IntN(4) {
			seq = append(seq, int32(50+r.IntN(40)))
		}
		return data.Example{Key: fmt.Sprint(i), Tokens: append(seq, stop, sep)}, nil
	})
	n, err := newNet(m, false, 1, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer n.p.Free()
	c.Optim.LR = 3e-3
	opt, err := nn.NewOptimizer(c.Optim)
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Free()
	var accs []float64
	for b, err := range pipeline.All(context.Background(), batches(ds.Stream(pipeline.Order{Seed: 1, Epochs: 40, Shuffle: true}), m, s, nil, 16, 2), pipeline.RunOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		bt, err := toDevice(b.Value.(*Batch), gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		r, err := step(n, opt, 0, true, bt, c.Optim.LR, 1, nil)
		bt.free()
		if err != nil {
			t.Fatal(err)
		}
		accs = append(accs, r.acc)
	}
	last := 0.0
	for _, a := range accs[len(accs)-10:] {
		last += a / 10
	}
	t.Logf("order accuracy over the last 10 of %d steps: %.2f", len(accs), last)
	if last < 0.9 {
		t.Fatalf("order accuracy %.2f after %d steps", last, len(accs))
	}
}

// TestWholeSentences: with whole_sentences every pair is two runs of whole
// sentences (each segment ends with a terminator or a closer after one),
// a document's trailing words without a terminator never appear, and a
// one-sentence document gives no pair; closers stay with their sentence.
func TestWholeSentences(t *testing.T) {
	const quote, dash = 7, 8
	m := testModel()
	s := &Settings{Terminators: []int32{stop, bang}, Closers: []int32{quote}, MinTokens: 2, WholeSentences: true}
	if got := Sentences([]int32{11, stop, quote, 12, bang, 13}, s.Terminators, s.Closers); !slices.EqualFunc(got, [][]int32{{11, stop, quote}, {12, bang}, {13}}, slices.Equal[[]int32]) {
		t.Fatalf("sentences with closers: %v", got)
	}
	one := []int32{cls, 11, 12, 13, 14, stop, sep}
	for seed := range uint64(50) {
		if _, ok, _ := PairFor(one, m, s, pipeline.SampleRand(seed, 0, 0, viewPairs)); ok {
			t.Fatal("a one-sentence document gave a pair")
		}
	}
	// Three sentences (one closed by a quote) and an attribution ending
	// with a quote but no terminator.
	doc := []int32{cls, 11, 12, stop, 13, 14, 15, bang, quote, 16, 17, stop, dash, 18, 19, quote, sep}
	seen := map[int32]int{}
	for seed := range uint64(200) {
		p, ok, err := PairFor(doc, m, s, pipeline.SampleRand(seed, 0, 0, viewPairs))
		if err != nil || !ok {
			t.Fatalf("seed %d: %v %v", seed, ok, err)
		}
		for _, seg := range [][]int32{p.A, p.B} {
			if !ended(seg, s) || slices.Contains(seg, dash) || slices.Contains(seg, 19) {
				t.Fatalf("seed %d: segment %v is not whole sentences of the body", seed, seg)
			}
		}
		seen[p.Label]++
	}
	if seen[0] < 60 || seen[1] < 60 {
		t.Errorf("labels %v", seen)
	}
	// Without the option the one-sentence document is cut inside.
	s.WholeSentences = false
	if _, ok, _ := PairFor(one, m, s, pipeline.SampleRand(1, 0, 0, viewPairs)); !ok {
		t.Error("without whole_sentences a one-sentence document gives a pair")
	}
}

// TestNoPaddingPairs: when most sequences give no pair, pipeline.Batches
// pads the epoch's missing batches with copies of its last real batch;
// the data path must hand only real pairs to the step (each pair of an
// epoch once) and mark the padding steps empty (B == 0).
func TestNoPaddingPairs(t *testing.T) {
	m := testModel()
	s := &Settings{Terminators: []int32{stop, bang}, MinTokens: 4}
	full, err := packed(64).Collect(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Sequences 0, 3, 6, ... (22 of 64) keep their documents; the others
	// are a lone token, which gives no pair.
	ds := data.New("sparse", data.Text, 64, 2, func(_ context.Context, i int) (data.Example, error) {
		x := full[i]
		if i%3 != 0 {
			x.Tokens = []int32{cls, 11, sep}
		}
		return x, nil
	})
	var real, empty int
	seen := map[string]bool{}
	for b, err := range pipeline.All(context.Background(), batches(ds.Stream(pipeline.Order{Seed: 2, Epochs: 1, Shuffle: true}), m, s, nil, 4, 1), pipeline.RunOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		bt := b.Value.(*Batch)
		if bt.B == 0 {
			empty++
			continue
		}
		for i := range bt.B {
			row := fmt.Sprint(bt.IDs[i*bt.T : (i+1)*bt.T])
			if seen[row] {
				t.Fatalf("pair %s trained on twice in one epoch (a padding copy)", row)
			}
			seen[row] = true
			real++
		}
	}
	// The epoch keeps its 64 / 4 = 16 steps: ceil(real / 4) with pairs,
	// the rest empty.
	if real < 15 || real > 22 || empty != 16-(real+3)/4 {
		t.Fatalf("%d real pairs (want 15-22 of the 22 sequences) and %d empty steps (want %d)", real, empty, 16-(real+3)/4)
	}
}
