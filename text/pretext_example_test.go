package text_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/text"
)

func ExampleSOPPairs() {
	tok, err := text.LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	doc := text.Document{Text: "The cat sat down. Then it slept. Later it woke up hungry."}
	sents := text.EncodeSentences(tok, doc.Text)
	// One stream per (seed, epoch, document): pairs do not depend on workers.
	pairs, err := text.SOPPairs(nil, sents, text.PairOptions{MaxTokens: 125}, pipeline.SampleRand(1, 0, 0, 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range pairs {
		fmt.Printf("label %d: A=%q B=%q\n", p.Label, tok.Decode(p.A, true), tok.Decode(p.B, true))
		ids, types, attention, _ := text.PairInput(p, tok.Specials(), 24)
		n := 0
		for _, a := range attention {
			n += int(a)
		}
		fmt.Println(n, "of", len(ids), "positions used; token types", types[:n])
	}
	// Output:
	// label 1: A="then it slept. later it woke up hungry." B="the cat sat down."
	// 19 of 24 positions used; token types [0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 1 1 1 1]
}

func ExampleSplitSentences() {
	for _, s := range text.SplitSentences("Dr. Who arrived. \"Hello!\" he said.\n\nThe end") {
		fmt.Printf("%q\n", s)
	}
	// Output:
	// "Dr. Who arrived."
	// "\"Hello!\" he said."
	// "The end"
}
