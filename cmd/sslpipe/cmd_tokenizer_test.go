package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sslpipe/sslpipe/text"
)

func TestTokenizerTrain(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	os.MkdirAll(corpus, 0o755)
	data, err := os.ReadFile(mixedLines)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(corpus, "a.txt"), data, 0o644)
	os.WriteFile(filepath.Join(corpus, "b.jsonl"), []byte(`{"text": "a JSONL document about fortunes"}`+"\n"), 0o644)
	for _, kind := range []string{"wordpiece", "bpe"} {
		out := filepath.Join(dir, kind+".json")
		env, stdout, _ := testEnv()
		err := run(context.Background(), env, []string{"tokenizer", "train", "--kind", kind, "--vocab", "600", "--in", corpus, "--out", out, "--json"})
		if err != nil {
			t.Fatal(err)
		}
		var s trainSummary
		if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		if s.Documents != 322 || s.VocabSize != 600 || s.Kind != kind {
			t.Errorf("%+v", s)
		}
		tok, err := text.LoadTokenizer(out)
		if err != nil {
			t.Fatal(err)
		}
		if tok.VocabSize() != 600 || tok.Kind() != kind {
			t.Errorf("%s: loaded %s with %d tokens", kind, tok.Kind(), tok.VocabSize())
		}
	}
}

func TestTokenizerTrainErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.txt"), []byte("fine\n\xff\xfe\nfine again\n"), 0o644)
	env, _, stderr := testEnv()
	err := run(context.Background(), env, []string{"tokenizer", "train", "--in", dir, "--out", filepath.Join(dir, "t.json"), "--max-errors", "0"})
	if !errors.Is(err, errTooManyDataErrors) || !strings.Contains(stderr.String(), "bad.txt:2") {
		t.Errorf("err %v, stderr %q", err, stderr)
	}
	for _, args := range [][]string{
		{"tokenizer"},
		{"tokenizer", "fit"},
		{"tokenizer", "train", "--kind", "unigram", "--in", dir},
		{"tokenizer", "train"},
		{"tokenizer", "train", "--in", dir, "--fortunes", dir},
		{"tokenizer", "train", "--in", dir, "--vocab", "3"},
		{"tokenizer", "train", "--in", dir, "--split", "sentences"},
	} {
		env, _, _ := testEnv()
		if err := run(context.Background(), env, args); exitCode(err) != exitUsage {
			t.Errorf("%q: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}
