package sop_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/train/sop"
)

// A packed sequence holds parts of several documents between [SEP]s
// (ids 2 = [CLS], 3 = [SEP], 0 = [PAD], 5 = "."): each becomes a
// document, cut into sentences after the terminators.
func ExampleDocuments() {
	seq := []int32{2, 11, 12, 5, 13, 5, 3, 14, 15, 5, 16, 3, 0, 0}
	for _, d := range sop.Documents(seq, 2, 3, 0) {
		fmt.Println(d, sop.Sentences(d, []int32{5}, nil))
	}
	// Output:
	// [11 12 5 13 5] [[11 12 5] [13 5]]
	// [14 15 5 16] [[14 15 5] [16]]
}

// PairFor draws one sentence-order pair of a sequence from the sample's
// stream: B follows A in the document (label 0) or the two are swapped
// (label 1), as here: the document's first sentence comes second.
func ExamplePairFor() {
	m := &sop.Model{SeqLen: 32, CLS: 2, SEP: 3, Pad: 0}
	s := &sop.Settings{Terminators: []int32{5}, MinTokens: 4}
	seq := []int32{2, 11, 12, 5, 13, 14, 5, 15, 5, 3}
	p, ok, err := sop.PairFor(seq, m, s, pipeline.SampleRand(1, 0, 0, 1))
	if err != nil || !ok {
		panic(fmt.Sprint(ok, err))
	}
	fmt.Println(p.A, p.B, p.Label)
	// Output: [13 14 5 15 5] [11 12 5] 1
}
