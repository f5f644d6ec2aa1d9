package text_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/sslpipe/sslpipe/pipeline"
	"github.com/sslpipe/sslpipe/text"
)

// EncodeAll tokenizes many lines on all cores and returns the ids in input
// order; AppendIDs is the allocation-free path for one line (no special
// tokens). Both give the ids Encode gives.
func ExampleTokenizer_EncodeAll() {
	tok, err := text.LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	lines := []string{"A day for firm decisions!", "Or is it?", "You will be hungry again in one hour."}
	all, err := tok.EncodeAll(context.Background(), lines, false, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf []int32
	for i, l := range lines {
		buf = tok.AppendIDs(buf[:0], l)
		fmt.Println(len(all[i]), "tokens; same as AppendIDs:", slices.Equal(all[i], buf),
			"and Encode:", slices.Equal(all[i], tok.Encode(l, false).IDs))
	}
	// Output:
	// 6 tokens; same as AppendIDs: true and Encode: true
	// 4 tokens; same as AppendIDs: true and Encode: true
	// 9 tokens; same as AppendIDs: true and Encode: true
}

// Whole-word masking picks words, then masks all of their sub-tokens: a
// word split into pieces is masked whole or not at all.
func ExampleMasker_WholeWord() {
	tok, _ := text.LoadTokenizer("testdata/wordpiece-fortunes.json")
	m, _ := text.NewMasker(tok, text.MaskOptions{Prob: 0.5})
	e := tok.Encode("unbelievable photosynthesis astonishes everybody", true)
	out, err := m.WholeWord(e.IDs, e.Words, pipeline.SampleRand(1, 0, 0, 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	whole := true
	for i := range e.IDs {
		for j := range e.IDs {
			if e.Words[i] >= 0 && e.Words[i] == e.Words[j] {
				whole = whole && (out.Labels[i] == text.IgnoreLabel) == (out.Labels[j] == text.IgnoreLabel)
			}
		}
	}
	var pieces []string
	for i, id := range e.IDs {
		if out.Labels[i] != text.IgnoreLabel {
			pieces = append(pieces, tok.Token(id))
		}
	}
	fmt.Println("masked pieces:", pieces)
	fmt.Println("words masked whole:", whole)
	// Output:
	// masked pieces: [unb ##el ##ie ##va ##ble photo ##sy ##n ##the ##sis]
	// words masked whole: true
}

// Span masking (data2vec text, SpanBERT): spans of tokens chosen with
// fairseq's compute_mask_indices; the same sample key gives the same mask.
func ExampleMasker_Span() {
	tok, _ := text.LoadTokenizer("testdata/wordpiece-fortunes.json")
	m, _ := text.NewMasker(tok, text.MaskOptions{})
	ids := tok.Encode("the quick brown fox jumps over the lazy dog and keeps running far away from home", true).IDs
	a := m.Span(ids, pipeline.SampleRand(5, 0, 2, 0))
	b := m.Span(ids, pipeline.SampleRand(5, 0, 2, 0))
	masked := 0
	for _, l := range a.Labels {
		if l != text.IgnoreLabel {
			masked++
		}
	}
	fmt.Println("deterministic:", slices.Equal(a.Inputs, b.Inputs) && slices.Equal(a.Labels, b.Labels),
		"special tokens kept:", a.Labels[0] == text.IgnoreLabel && a.Labels[len(ids)-1] == text.IgnoreLabel,
		"some masked:", masked > 0)
	// Output: deterministic: true special tokens kept: true some masked: true
}

// Training a tokenizer and saving it as a tokenizer.json that Hugging Face
// tokenizers loads; loading it back gives the same ids.
func ExampleTokenizer_Save() {
	tr, err := text.NewTrainer(text.TrainOptions{Kind: "bpe", VocabSize: 300})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range []string{"low lower lowest", "new newer newest", "wide wider widest", "slow slower slowest"} {
		tr.Add(s)
	}
	tok, err := tr.Tokenizer(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := os.MkdirTemp("", "tok")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tokenizer.json")
	if err := tok.Save(path); err != nil {
		fmt.Println(err)
		return
	}
	back, err := text.LoadTokenizer(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := "the slowest newer low"
	fmt.Println(back.Kind(), slices.Equal(tok.Encode(s, true).IDs, back.Encode(s, true).IDs), back.Decode(back.Encode(s, false).IDs, true))
	// Output: bpe true the slowest newer low
}
