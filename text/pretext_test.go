package text

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/sslpipe/sslpipe/pipeline"
)

func TestSplitSentences(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"One. Two! Three? Four", []string{"One.", "Two!", "Three?", "Four"}},
		{"  Hello world.  ", []string{"Hello world."}},
		{"", nil},
		{"Mr. Smith met Dr. Jones at St. Paul's. They talked.", []string{"Mr. Smith met Dr. Jones at St. Paul's.", "They talked."}},
		{"George W. Bush spoke. I left.", []string{"George W. Bush spoke.", "I left."}},
		{"Use e.g. this one. Or i.e. that.", []string{"Use e.g. this one.", "Or i.e. that."}},
		{"Pi is 3.14 roughly. Yes.", []string{"Pi is 3.14 roughly.", "Yes."}},
		{`He said "Stop!" Then left.`, []string{`He said "Stop!"`, "Then left."}},
		{"Wait... what? (Really.) Fine", []string{"Wait... what?", "(Really.)", "Fine"}},
		{`"Hello!" he said. Bye.`, []string{`"Hello!" he said.`, "Bye."}},
		{"etc. and so on. Done", []string{"etc. and so on.", "Done"}},
		{"A line\nthat continues.\n\nNew paragraph without stop\n  \nThird", []string{"A line\nthat continues.", "New paragraph without stop", "Third"}},
		{"今日は晴れ。明日は雨！", []string{"今日は晴れ。", "明日は雨！"}},
		{"What?!Ok", []string{"What?!Ok"}},
	} {
		got := SplitSentences(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitSentences(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// synthDoc is a document of n sentences whose tokens encode (doc,
// sentence, position) so a pair can be traced back to its source.
func synthDoc(doc, n int, r *rand.Rand) [][]int32 {
	out := make([][]int32, n)
	for s := range out {
		l := 1 + r.IntN(12)
		for p := range l {
			out[s] = append(out[s], int32(doc*1_000_000+s*1000+p))
		}
	}
	return out
}

func synthCorpus(n int) [][][]int32 {
	r := rand.New(rand.NewPCG(5, 6))
	docs := make([][][]int32, n)
	for d := range docs {
		docs[d] = synthDoc(d, 1+r.IntN(9), r)
	}
	return docs
}

// stream is the document's tokens in order.
func stream(doc [][]int32) []int32 { return concat(doc) }

// contiguous reports whether x occurs as a contiguous run of s.
func contiguous(s, x []int32) bool {
	if len(x) == 0 {
		return true
	}
	for i := range s {
		if s[i] == x[0] && len(s)-i >= len(x) && slices.Equal(s[i:i+len(x)], x) {
			return true
		}
	}
	return false
}

func TestSOPPairs(t *testing.T) {
	docs := synthCorpus(200)
	o := PairOptions{MaxTokens: 1000} // no truncation: pairs partition the document
	swapped, total := 0, 0
	for d, doc := range docs {
		pairs, err := SOPPairs(nil, doc, o, pipeline.SampleRand(1, 0, uint64(d), 0))
		if err != nil {
			t.Fatal(err)
		}
		var rebuilt []int32
		for _, p := range pairs {
			if len(p.A) == 0 || len(p.B) == 0 || p.Doc != -1 {
				t.Fatalf("doc %d: empty segment or doc %d", d, p.Doc)
			}
			first, second := p.A, p.B
			if p.Label == SOPSwapped {
				first, second = p.B, p.A
				swapped++
			} else if p.Label != SOPInOrder {
				t.Fatalf("label %d", p.Label)
			}
			total++
			rebuilt = append(append(rebuilt, first...), second...)
		}
		// Every token is used once, in order (a one-token document gives
		// no pair).
		s := stream(doc)
		if len(s) >= 2 && !slices.Equal(rebuilt, s) {
			t.Fatalf("doc %d: pairs rebuild %v, document %v", d, rebuilt, s)
		}
		if len(doc) >= 2 && len(pairs) > 0 {
			// Several sentences: the cut is at a sentence boundary.
			p := pairs[0]
			first := p.A
			if p.Label == SOPSwapped {
				first = p.B
			}
			if first[len(first)-1]%1000 != int32(len(doc[(first[len(first)-1]%1_000_000)/1000])-1) {
				t.Fatalf("doc %d: cut inside a sentence", d)
			}
		}
	}
	if total < 150 || swapped < total*2/5 || swapped > total*3/5 {
		t.Errorf("%d of %d pairs swapped", swapped, total)
	}
	// Truncation keeps pairs within MaxTokens and still contiguous.
	o = PairOptions{MaxTokens: 8, ShortSeqProb: 0.1}
	for d, doc := range docs[:50] {
		pairs, _ := SOPPairs(nil, doc, o, pipeline.SampleRand(2, 0, uint64(d), 0))
		for _, p := range pairs {
			if len(p.A)+len(p.B) > 8 || len(p.A) == 0 || len(p.B) == 0 {
				t.Fatalf("pair of %d+%d tokens", len(p.A), len(p.B))
			}
			if !contiguous(stream(doc), p.A) || !contiguous(stream(doc), p.B) {
				t.Fatal("truncated segment not contiguous")
			}
		}
	}
	if _, err := SOPPairs(nil, docs[0], PairOptions{MaxTokens: 1}, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("MaxTokens 1 accepted")
	}
}

func TestNSPPairs(t *testing.T) {
	docs := synthCorpus(100)
	docs = append(docs, nil, [][]int32{{}}) // empty documents are never drawn from
	o := PairOptions{MaxTokens: 40}
	random, total := 0, 0
	for d := range docs {
		pairs, err := NSPPairs(nil, docs, d, o, pipeline.SampleRand(3, 0, uint64(d), 0))
		if err != nil {
			t.Fatal(err)
		}
		s := stream(docs[d])
		for _, p := range pairs {
			total++
			if len(p.A)+len(p.B) > 40 || len(p.A) == 0 || len(p.B) == 0 || p.Doc != d {
				t.Fatalf("doc %d: pair %d+%d tokens, doc %d", d, len(p.A), len(p.B), p.Doc)
			}
			if int(p.A[0]/1_000_000) != d || !contiguous(s, p.A) {
				t.Fatalf("doc %d: A not from the document", d)
			}
			other := int(p.B[0] / 1_000_000)
			switch p.Label {
			case NSPIsNext:
				if other != d || !contiguous(s, append(slices.Clone(p.A), p.B...)) {
					// Truncation may cut A's end or B's start only when
					// the pair was too long.
					if len(p.A)+len(p.B) < 40 {
						t.Fatalf("doc %d: is-next B does not follow A", d)
					}
				}
			case NSPRandom:
				random++
				if other == d || len(docs[other]) == 0 || !contiguous(stream(docs[other]), p.B) {
					t.Fatalf("doc %d: random B from doc %d", d, other)
				}
			default:
				t.Fatalf("label %d", p.Label)
			}
		}
	}
	if total < 150 || random < total/2 || random > total*4/5 {
		// More than half are random: one-sentence chunks always are.
		t.Errorf("%d of %d pairs random", random, total)
	}
	if _, err := NSPPairs(nil, [][][]int32{{{1, 2}, {3}}, {}}, 0, o, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, ErrNoOtherDocument) {
		t.Errorf("single document: %v", err)
	}
	if _, err := NSPPairs(nil, docs, len(docs), o, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("document index out of range accepted")
	}
}

func TestPairInput(t *testing.T) {
	sp := SpecialTokens{Begin: 101, End: 102, Pad: 0, Mask: 103, Unk: 100}
	ids, types, att, err := PairInput(SegmentPair{A: []int32{5, 6}, B: []int32{7, 8, 9}}, sp, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int32{101, 5, 6, 102, 7, 8, 9, 102, 0, 0}) ||
		!slices.Equal(types, []int32{0, 0, 0, 0, 1, 1, 1, 1, 0, 0}) ||
		!slices.Equal(att, []int32{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}) {
		t.Fatalf("ids %v types %v attention %v", ids, types, att)
	}
	if _, _, _, err := PairInput(SegmentPair{A: []int32{5, 6}, B: []int32{7, 8, 9}}, sp, 7); err == nil {
		t.Error("overlong pair accepted")
	}
	sp.End = -1
	if _, _, _, err := PairInput(SegmentPair{A: []int32{5}, B: []int32{7}}, sp, 7); err == nil {
		t.Error("missing end token accepted")
	}
}

// TestPairsAcrossWorkers makes SOP and NSP pairs of a tokenized corpus
// through pipeline.Map with 1 and 4 workers: the same pairs in the same
// order.
func TestPairsAcrossWorkers(t *testing.T) {
	tok, err := LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		t.Fatal(err)
	}
	var docs []Document
	for i := range 60 {
		docs = append(docs, Document{Text: fmt.Sprintf("Document %d starts here. It has a second sentence about item %d! "+
			"Does it have a third? Maybe.\n\nA new paragraph, number %d.", i, i*7, i%5)})
	}
	enc := EncodeDocuments(tok, docs)
	if len(enc[0]) != 5 {
		t.Fatalf("document 0 has %d sentences, want 5", len(enc[0]))
	}
	run := func(workers int) []SegmentPair {
		idx := make([]int, len(docs))
		for i := range idx {
			idx[i] = i
		}
		s := pipeline.From(pipeline.Slice(idx), pipeline.Order{Seed: 4, Shuffle: true})
		out := pipeline.Map(s, func(_ context.Context, s pipeline.Sample[int]) ([]SegmentPair, error) {
			o := PairOptions{MaxTokens: 20, ShortSeqProb: 0.1}
			p, err := SOPPairs(nil, enc[s.Value], o, s.Rand(0))
			if err != nil {
				return nil, err
			}
			return NSPPairs(p, enc, s.Value, o, s.Rand(1))
		}, pipeline.MapOptions{Workers: workers, Chunk: 1})
		var all []SegmentPair
		for sm, err := range pipeline.All(context.Background(), out, pipeline.RunOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, sm.Value...)
		}
		return all
	}
	one, four := run(1), run(4)
	if len(one) < 100 || !reflect.DeepEqual(one, four) {
		t.Fatalf("1 worker: %d pairs, 4 workers: %d pairs, equal %v", len(one), len(four), reflect.DeepEqual(one, four))
	}
}
