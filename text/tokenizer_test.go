package text

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLoadTokenizerErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wp := `{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"a":1}}}`
	for _, tc := range []struct {
		name, body string
		want       error
		msg        string
	}{
		{"empty.json", "", ErrMalformed, "empty.json"},
		{"trunc.json", `{"model": {"type": "WordPiece", "vocab": {"a": 1`, ErrMalformed, "trunc.json"},
		{"array.json", `[1, 2]`, ErrMalformed, "array.json"},
		{"nomodel.json", `{"version": "1.0"}`, ErrMalformed, "no model"},
		{"unigram.json", `{"model":{"type":"Unigram","vocab":[["a",0.0]]}}`, ErrUnsupported, "Unigram"},
		{"nounk.json", `{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":1}}}`, ErrMalformed, "unk_token"},
		{"badmerge.json", `{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}}`, ErrMalformed, "not in the vocab"},
		{"negid.json", `{"model":{"type":"BPE","vocab":{"a":-4},"merges":[]}}`, ErrMalformed, "negative id"},
		{"hugeid.json", `{"model":{"type":"BPE","vocab":{"a":2000000000},"merges":[]}}`, ErrMalformed, "implausibly large"},
		{"precompiled.json", strings.Replace(wp, `{"model"`, `{"normalizer":{"type":"Precompiled","precompiled_charsmap":""},"model"`, 1), ErrUnsupported, "Precompiled"},
		{"metaspace.json", strings.Replace(wp, `{"model"`, `{"pre_tokenizer":{"type":"Metaspace"},"model"`, 1), ErrUnsupported, "Metaspace"},
		{"dropout.json", `{"model":{"type":"BPE","dropout":0.1,"vocab":{"a":0},"merges":[]}}`, ErrUnsupported, "dropout"},
	} {
		_, err := LoadTokenizer(write(tc.name, tc.body))
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: error %v, want %v mentioning %q and the file", tc.name, err, tc.want, tc.msg)
		}
	}
	if _, err := LoadTokenizer(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadTokenizer(write("ok.json", wp)); err != nil {
		t.Errorf("minimal WordPiece: %v", err)
	}
}

// TestEncodeEdgeCases covers inputs the golden lines do not: empty input,
// a word longer than max_input_chars_per_word, a 1 MB word for BPE (the
// heap merge path), invalid UTF-8 passed directly to Encode.
func TestEncodeEdgeCases(t *testing.T) {
	wp, err := LoadTokenizer("testdata/wordpiece-fortunes.json")
	if err != nil {
		t.Fatal(err)
	}
	bpe, err := LoadTokenizer("testdata/bpe-fortunes.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []*Tokenizer{wp, bpe} {
		if e := tok.Encode("", false); len(e.IDs) != 0 {
			t.Errorf("%s: empty input gives %v", tok.Kind(), e.IDs)
		}
		if e := tok.Encode("", true); len(e.IDs) != 2 {
			t.Errorf("%s: empty input with specials gives %v", tok.Kind(), e.IDs)
		}
		_ = tok.Encode("bad \xff\xfe utf8 \xc3", false) // must not panic
	}
	unk := wp.Specials().Unk
	if e := wp.Encode(strings.Repeat("a", 101), false); len(e.IDs) != 1 || e.IDs[0] != unk {
		t.Errorf("101-char word: %v, want [UNK]", e.IDs)
	}
	long := strings.Repeat("abcdefgh", 1<<17) // 1 MiB, one pre-token
	if testing.Short() {
		long = long[:1<<14]
	}
	ids := bpe.AppendIDs(nil, long)
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(bpe.Token(id))
	}
	if sb.String() != long {
		t.Errorf("BPE tokens of a long word do not concatenate back to it")
	}
	if len(ids) > len(long)/2 {
		t.Errorf("long word: %d tokens for %d bytes; merges not applied", len(ids), len(long))
	}
	// The heap path (words > 64 bytes) and the quadratic path agree.
	for _, l := range readLines(t, "testdata/mixed.txt") {
		syms := func() []int32 {
			var out []int32
			for i := 0; i < len(l); i++ {
				out = append(out, bpe.bpe.byteID[l[i]])
			}
			return out
		}
		h, q := bpe.bpe.mergeHeap(syms()), bpe.bpe.mergeQuadratic(syms())
		if !equal32(h, q) {
			t.Fatalf("%q: heap merge %v, quadratic %v", l, h, q)
		}
	}
}

func joinTokens(t *Tokenizer, ids []int32) string {
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(t.Token(id))
	}
	return sb.String()
}

func FuzzParseTokenizer(f *testing.F) {
	// Small tokenizer.json files keep the fuzzer fast; the 8,000-token
	// fixtures are covered by the golden tests.
	for _, p := range []string{"testdata/small-wordpiece.json", "testdata/small-bpe.json", "testdata/decode-ctc.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "Hello, wörld! 🙂 中文 abc [MASK] <mask> ab hello")
	}
	f.Add([]byte(`{"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},{"type":"Replace","pattern":{"String":" "},"content":"_"}]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"ByteLevel","add_prefix_space":true}]},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{"<s>":{"id":"<s>","ids":[0],"tokens":["<s>"]}}},"added_tokens":[{"id":0,"content":"<s>","special":true,"normalized":false,"lstrip":true,"rstrip":true,"single_word":true}],"model":{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2,"ab":3},"merges":[["a","b"]],"ignore_merges":true}}`), "ab <s> ba")
	f.Fuzz(func(t *testing.T, data []byte, s string) {
		tok, err := ParseTokenizer(data, "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		e := tok.Encode(s, true)
		for _, id := range e.IDs {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("id %d outside vocabulary of %d", id, tok.VocabSize())
			}
		}
		if len(e.Words) != len(e.IDs) {
			t.Fatalf("%d words for %d ids", len(e.Words), len(e.IDs))
		}
		if d := tok.Decode(e.IDs, false); !utf8.ValidString(d) {
			t.Fatalf("Decode gave invalid UTF-8 %q", d)
		}
	})
}
