package text

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// trainCorpus is the fortunes corpus, or the golden lines in -short mode or
// when the fortunes package is missing.
func trainCorpus(t testing.TB) []string {
	t.Helper()
	if !testing.Short() {
		if docs, err := ReadFortunes(FortunesDir); err == nil {
			var out []string
			for _, d := range docs {
				out = append(out, d.Text)
			}
			return out
		}
	}
	return readLines(t, "testdata/mixed.txt")
}

// trainVocab is 2,000 on the fortunes corpus, 600 on the small -short corpus.
func trainVocab() int {
	if testing.Short() {
		return 600
	}
	return 2000
}

func train(t testing.TB, kind string, corpus []string) *Tokenizer {
	t.Helper()
	tr, err := NewTrainer(TrainOptions{Kind: kind, VocabSize: trainVocab()})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range corpus {
		tr.Add(d)
	}
	tok, err := tr.Tokenizer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTrainSaveLoadRoundTrip: a tokenizer trained here survives Save and
// LoadTokenizer and encodes identically; training is deterministic.
func TestTrainSaveLoadRoundTrip(t *testing.T) {
	corpus := trainCorpus(t)
	lines := readLines(t, "testdata/mixed.txt")
	for _, kind := range []string{"wordpiece", "bpe"} {
		t.Run(kind, func(t *testing.T) {
			tok := train(t, kind, corpus)
			if tok.VocabSize() != trainVocab() {
				t.Errorf("vocab size %d, want %d", tok.VocabSize(), trainVocab())
			}
			path := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := tok.Save(path); err != nil {
				t.Fatal(err)
			}
			back, err := LoadTokenizer(path)
			if err != nil {
				t.Fatal(err)
			}
			unk := back.Specials().Unk
			units, tokens := 0, 0
			for i, l := range lines {
				a, b := tok.Encode(l, true), back.Encode(l, true)
				if !slices.Equal(a.IDs, b.IDs) || !slices.Equal(a.Words, b.Words) {
					t.Fatalf("line %d: %v before save, %v after", i+1, a.IDs, b.IDs)
				}
				for _, id := range a.IDs {
					if id == unk {
						units++
					}
				}
				tokens += len(a.IDs)
			}
			if units*20 > tokens {
				t.Errorf("%d of %d tokens are unknown", units, tokens)
			}
			again := train(t, kind, corpus)
			j1, _ := tok.MarshalJSON()
			j2, _ := again.MarshalJSON()
			if !bytes.Equal(j1, j2) {
				t.Error("training twice on the same corpus gave different tokenizers")
			}
			// The trained vocabulary compresses: fewer tokens than bytes.
			e := tok.Encode("the quick brown fox jumps over the lazy dog", false)
			limit := 20 // 43 bytes, 9 words
			if testing.Short() {
				limit = 35 // tiny corpus: only some merges
			}
			if len(e.IDs) > limit || len(e.IDs) < 9 {
				t.Errorf("common English encodes to %d tokens: %v", len(e.IDs), e.IDs)
			}
		})
	}
}

func TestTrainerOptions(t *testing.T) {
	if _, err := NewTrainer(TrainOptions{Kind: "unigram"}); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := NewTrainer(TrainOptions{Kind: "bpe", VocabSize: 3}); err == nil {
		t.Error("vocabulary smaller than the special tokens accepted")
	}
	if _, err := NewTrainer(TrainOptions{Kind: "bpe", SpecialTokens: []string{"<s>", "<s>"}}); err == nil {
		t.Error("repeated special token accepted")
	}
	_, err := TrainFromDocuments(context.Background(), Documents(context.Background(), []string{t.TempDir()}, CorpusOptions{}), TrainOptions{Kind: "bpe"}, nil)
	if err == nil || !strings.Contains(err.Error(), "no words") {
		t.Errorf("empty corpus: %v", err)
	}
}

// TestTrainedHFGolden: testdata/go-trained-{wordpiece,bpe}.json were trained by
// this package on the fortunes corpus; HF tokenizers 0.23.2 loaded
// them and encoded testdata/mixed.txt (testdata/check_go_trained.js);
// this package must give the same ids.
func TestTrainedHFGolden(t *testing.T) {
	for _, kind := range []string{"wordpiece", "bpe"} {
		tokPath := "testdata/go-trained-" + kind + ".json"
		if _, err := os.Stat(tokPath); err != nil {
			t.Fatalf("%s missing: %v", tokPath, err)
		}
		tok, err := LoadTokenizer(tokPath)
		if err != nil {
			t.Fatal(err)
		}
		rows := readGolden(t, "testdata/golden-go-trained-"+kind+".jsonl")
		for i, l := range readLines(t, "testdata/mixed.txt") {
			if got := tok.Encode(l, false).IDs; !slices.Equal(got, rows[i].IDs) {
				t.Errorf("%s line %d: got %v, HF gives %v", kind, i+1, got, rows[i].IDs)
			}
		}
	}
}
