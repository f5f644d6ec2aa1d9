package text_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/text"
)

func ExampleLoadTokenizer() {
	tok, err := text.LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	e := tok.Encode("Café crème, naïve façade!", true)
	var toks []string
	for _, id := range e.IDs {
		toks = append(toks, fmt.Sprintf("%d:%s", id, tok.Token(id)))
	}
	fmt.Println(strings.Join(toks, " "))
	fmt.Println(e.Words)
	fmt.Println(tok.Decode(e.IDs, true))
	// Output:
	// 2:[CLS] 1257:ca 307:##fe 1850:cre 1306:##me 16:, 6571:na 299:##ive 3655:fac 567:##ade 5:! 3:[SEP]
	// [-1 0 0 1 1 2 3 3 4 4 5 -1]
	// cafe creme, naive facade!
}

func ExampleMasker_MLM() {
	tok, _ := text.LoadTokenizer("testdata/wordpiece-fortunes.json")
	m, _ := text.NewMasker(tok, text.MaskOptions{}) // BERT: 15%, 80/10/10
	ids := tok.Encode("the quick brown fox jumps over the lazy dog and keeps running far away", true).IDs
	// One random stream per sample: (seed, epoch, index, view).
	out := m.MLM(ids, pipeline.SampleRand(42, 0, 7, 0))
	for i := range ids {
		if out.Labels[i] != text.IgnoreLabel {
			fmt.Printf("position %d: %s -> %s\n", i, tok.Token(out.Labels[i]), tok.Token(out.Inputs[i]))
		}
	}
	// Output:
	// position 3: brown -> brown
	// position 9: lazy -> [MASK]
	// position 11: and -> [MASK]
}

func ExamplePacker() {
	tok, _ := text.LoadTokenizer("testdata/wordpiece-fortunes.json")
	p, _ := text.NewPacker(text.PackOptionsFor(tok, 12, text.PackAcross))
	var seqs []text.Sequence
	for _, doc := range []string{"A day for firm decisions!", "Or is it?", "You will be hungry again in one hour."} {
		e := tok.Encode(doc, false)
		seqs = append(seqs, p.Add(e.IDs, e.Words)...)
	}
	seqs = append(seqs, p.Flush()...)
	for _, s := range seqs {
		var toks []string
		for _, id := range s.IDs {
			toks = append(toks, tok.Token(id))
		}
		fmt.Println(strings.Join(toks, " "), s.AttentionMask)
	}
	// Output:
	// [CLS] a day for firm decisions ! [SEP] or is it [SEP] [1 1 1 1 1 1 1 1 1 1 1 1]
	// [CLS] ? [SEP] you will be hungry again in one hour [SEP] [1 1 1 1 1 1 1 1 1 1 1 1]
	// [CLS] . [SEP] [PAD] [PAD] [PAD] [PAD] [PAD] [PAD] [PAD] [PAD] [PAD] [1 1 1 0 0 0 0 0 0 0 0 0]
}

func ExampleDocuments() {
	dir, _ := os.MkdirTemp("", "corpus")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("first paragraph\nstill first\n\nsecond \xff paragraph\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(`{"text": "from JSONL", "id": 3}`+"\n"), 0o644)
	for d, err := range text.Documents(context.Background(), []string{dir}, text.CorpusOptions{Split: text.SplitBlankLines}) {
		if err != nil {
			fmt.Println("error:", filepath.Base(err.(*text.CorpusError).File), err.(*text.CorpusError).Line, err.(*text.CorpusError).Err)
			continue
		}
		fmt.Printf("%s:%d %q\n", filepath.Base(d.File), d.Line, d.Text)
	}
	// Output:
	// a.txt:1 "first paragraph\nstill first"
	// error: a.txt 4 invalid UTF-8
	// b.jsonl:1 "from JSONL"
}

func ExampleNewTrainer() {
	tr, _ := text.NewTrainer(text.TrainOptions{Kind: "bpe", VocabSize: 300})
	for range 50 {
		tr.Add("low lower lowest newer newest wider widest")
	}
	tok, _ := tr.Tokenizer(context.Background())
	var toks []string
	for _, id := range tok.Encode("low lowest newest", false).IDs {
		toks = append(toks, fmt.Sprintf("%q", tok.Token(id)))
	}
	// tok.Save("tokenizer.json") writes a file Hugging Face tokenizers loads.
	fmt.Println(strings.Join(toks, " "))
	// Output:
	// "low" "Ġlowest" "Ġnewest"
}

// ReadFortunes gives (text, category) documents, e.g. for a linear probe on
// fortune categories. (Not run as a test: it needs Debian's fortunes.)
func ExampleReadFortunes() {
	docs, err := text.ReadFortunes(text.FortunesDir)
	if err != nil {
		fmt.Println(err)
		return
	}
	perCategory := map[string]int{}
	for _, d := range docs {
		perCategory[d.Category]++
	}
	fmt.Println(len(docs), "fortunes in", len(perCategory), "categories; first:", docs[0].Category, docs[0].Text)
}

func ExampleNewCorpusSource() {
	tok, _ := text.LoadTokenizer("testdata/wordpiece-fortunes.json")
	dir, _ := os.MkdirTemp("", "corpus")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("A day for firm decisions!\nbad \xff line\nOr is it?\n"), 0o644)

	src := text.NewCorpusSource([]string{dir}, text.CorpusOptions{})
	enc := pipeline.Map(pipeline.From[text.Document](src, pipeline.Order{}), text.EncodeFunc(tok, true),
		pipeline.MapOptions{Name: "tokenize", Workers: 2})
	run := pipeline.RunOptions{Errors: pipeline.ErrorPolicy{Skip: true, OnError: func(err *pipeline.SampleError) {
		fmt.Println("skipped:", filepath.Base(err.Origin), errors.Is(err, text.ErrInvalidUTF8))
	}}}
	for s, err := range pipeline.All(context.Background(), enc, run) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(s.Index, s.Value.IDs)
	}
	// Output:
	// 0 [2 43 547 160 3319 5609 5 3]
	// skipped: a.txt:2 true
	// 2 [2 228 140 148 35 3]
}
