package text

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestGoldenDecode compares Decode with HF tokenizers 0.23.2's decode
// (testdata/make_golden_decode.js): WordPiece decoder with cleanup, no
// decoder, ByteLevel decoder, skip_special_tokens both ways, and single ids
// that split a UTF-8 character (lossy decoding). Tolerance: none.
func TestGoldenDecode(t *testing.T) {
	lines := readLines(t, "testdata/mixed.txt")
	f, err := os.Open("testdata/golden-decode.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	toks := map[string]*Tokenizer{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n, bad := 0, 0
	for sc.Scan() {
		var row struct {
			Tokenizer string   `json:"tokenizer"`
			Line      int      `json:"line"`
			Skip      string   `json:"skip"`
			Keep      string   `json:"keep"`
			Each      []string `json:"each"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		tok := toks[row.Tokenizer]
		if tok == nil {
			if tok, err = LoadTokenizer("testdata/" + row.Tokenizer); err != nil {
				t.Fatal(err)
			}
			toks[row.Tokenizer] = tok
		}
		n++
		ids := tok.Encode(lines[row.Line], true).IDs
		check := func(what, got, want string) {
			if got != want {
				bad++
				if bad <= 10 {
					t.Errorf("%s line %d %s:\n got %q\nwant %q", row.Tokenizer, row.Line+1, what, got, want)
				}
			}
		}
		check("skip", tok.Decode(ids, true), row.Skip)
		check("keep", tok.Decode(ids, false), row.Keep)
		for k, want := range row.Each {
			check("id "+tok.Token(ids[k]), tok.Decode(ids[k:k+1], false), want)
		}
	}
	if n != 4*len(lines) {
		t.Errorf("%d golden rows", n)
	}
}

// TestGoldenDecoders compares Decode with HF tokenizers 0.23.2's decode for
// tokenizers that exercise each decoder type: Llama's Sequence[Replace,
// ByteFallback, Fuse, Strip], Metaspace (legacy add_prefix_space and
// prepend_scheme never), BPEDecoder, CTC, ByteLevel with added tokens that
// are not byte runes, WordPiece without cleanup
// (testdata/make_golden_decoders.js). The ids are HF's encodings of lines of
// mixed.txt (where the committed file itself encoded them, Encode must give
// them too), CTC-style repeats and random id sequences. Tolerance: none.
func TestGoldenDecoders(t *testing.T) {
	lines := readLines(t, "testdata/mixed.txt")
	f, err := os.Open("testdata/golden-decoders.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	toks := map[string]*Tokenizer{}
	rows := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	bad := 0
	for sc.Scan() {
		var row struct {
			Tokenizer string  `json:"tokenizer"`
			Line      int     `json:"line"`
			Encoded   bool    `json:"encoded"`
			IDs       []int32 `json:"ids"`
			Skip      string  `json:"skip"`
			Keep      string  `json:"keep"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		tok := toks[row.Tokenizer]
		if tok == nil {
			if tok, err = LoadTokenizer("testdata/" + row.Tokenizer); err != nil {
				t.Fatal(err)
			}
			toks[row.Tokenizer] = tok
		}
		rows[row.Tokenizer]++
		fail := func(format string, args ...any) {
			bad++
			if bad <= 10 {
				t.Errorf("%s line %d ids %v: %s", row.Tokenizer, row.Line+1, row.IDs, fmt.Sprintf(format, args...))
			}
		}
		if got := tok.Decode(row.IDs, true); got != row.Skip {
			fail("skipping special tokens:\n got %q\nwant %q", got, row.Skip)
		}
		if got := tok.Decode(row.IDs, false); got != row.Keep {
			fail("keeping special tokens:\n got %q\nwant %q", got, row.Keep)
		}
		if row.Encoded {
			if got := tok.Encode(lines[row.Line], true).IDs; !slices.Equal(got, row.IDs) {
				fail("Encode gives %v", got)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"decode-llama.json", "decode-metaspace.json", "decode-metaspace-never.json",
		"decode-suffix.json", "decode-ctc.json", "decode-bytelevel.json", "decode-wordpiece-raw.json"} {
		if rows[name] < 200 {
			t.Errorf("%s: %d golden rows", name, rows[name])
		}
	}
}

// TestDecoderValidation: LoadTokenizer refuses a decoder HF would refuse
// (missing or mistyped fields, as HF tokenizers 0.23.2 reports them) or that
// this package does not implement, naming the file and the decoder.
func TestDecoderValidation(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, decoder string
		want          error
		msg           string
	}{
		{"unknown.json", `{"type":"Precompiled"}`, ErrUnsupported, `decoder "Precompiled"`},
		{"untyped.json", `{"content":" ","start":1,"stop":0}`, ErrMalformed, "decoder without a type"},
		{"notobject.json", `"WordPiece"`, ErrMalformed, "not a JSON object"},
		{"wordpiece.json", `{"type":"WordPiece"}`, ErrMalformed, `WordPiece decoder: missing field "prefix"`},
		{"wordpiece-null.json", `{"type":"WordPiece","prefix":"##","cleanup":null}`, ErrMalformed, `missing field "cleanup"`},
		{"bytelevel.json", `{"type":"ByteLevel"}`, ErrMalformed, `ByteLevel decoder: missing field "add_prefix_space"`},
		{"bpe.json", `{"type":"BPEDecoder"}`, ErrMalformed, `BPEDecoder decoder: missing field "suffix"`},
		{"ctc.json", `{"type":"CTC","pad_token":"<pad>","word_delimiter_token":"|"}`, ErrMalformed, `missing field "cleanup"`},
		{"metaspace.json", `{"type":"Metaspace","replacement":"__"}`, ErrMalformed, "not one character"},
		{"metaspace-prefix.json", `{"type":"Metaspace","replacement":"▁","add_prefix_space":false}`, ErrMalformed, "add_prefix_space false"},
		{"metaspace-scheme.json", `{"type":"Metaspace","replacement":"▁","prepend_scheme":"sometimes"}`, ErrMalformed, "prepend_scheme"},
		{"strip.json", `{"type":"Strip","content":" ","start":-1,"stop":0}`, ErrMalformed, `field "start"`},
		{"replace-regex.json", `{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "}`, ErrUnsupported, "regex"},
		{"replace-pattern.json", `{"type":"Replace","pattern":{},"content":" "}`, ErrMalformed, "neither String nor Regex"},
		{"sequence.json", `{"type":"Sequence","decoders":[{"type":"Fuse"},{"type":"Nope"}]}`, ErrUnsupported, `Sequence decoder 1: unsupported tokenizer component: decoder "Nope"`},
		{"deep.json", strings.Repeat(`{"type":"Sequence","decoders":[`, 20) + `{"type":"Fuse"}` + strings.Repeat(`]}`, 20), ErrMalformed, "nesting"},
	} {
		body := `{"decoder":` + tc.decoder + `,"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"a":1}}}`
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadTokenizer(p)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: error %v, want %v mentioning %q and the file", tc.name, err, tc.want, tc.msg)
		}
	}
}

// TestDecoderEdgeCases compares each decoder with HF tokenizers 0.23.2 on
// corner cases the golden lines do not reach
// (testdata/make_golden_decoder_edges.js), and checks the cases where HF's
// Strip panics. Tolerance: none.
func TestDecoderEdgeCases(t *testing.T) {
	data, err := os.ReadFile("testdata/golden-decoder-edges.json")
	if err != nil {
		t.Fatal(err)
	}
	type decoderCase struct {
		Decoder json.RawMessage `json:"decoder"`
		Tokens  []string        `json:"tokens"`
		HF      string          `json:"hf"`
	}
	var cases []decoderCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	// HF panics on these (stop reaches past the start of the token, or the
	// cuts cross); here the token becomes empty.
	cases = append(cases,
		decoderCase{json.RawMessage(`{"type":"Strip","content":" ","start":1,"stop":5}`), []string{"  ", "x"}, "x"},
		decoderCase{json.RawMessage(`{"type":"Strip","content":" ","start":1,"stop":1}`), []string{" ", "", "y"}, "y"})
	if len(cases) < 15 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		d, err := parseDecoder(c.Decoder)
		if err != nil {
			t.Fatalf("%s: %v", c.Decoder, err)
		}
		if got := strings.Join(d.decodeChain(slices.Clone(c.Tokens)), ""); got != c.HF {
			t.Errorf("%s on %q: got %q, want %q", c.Decoder, c.Tokens, got, c.HF)
		}
	}
}

// FuzzDecoder: any decoder that parses decodes any token list without
// panicking, to valid UTF-8.
func FuzzDecoder(f *testing.F) {
	for _, name := range []string{"decode-llama.json", "decode-metaspace.json", "decode-metaspace-never.json",
		"decode-suffix.json", "decode-ctc.json", "decode-bytelevel.json", "decode-wordpiece-raw.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		var doc struct {
			Decoder json.RawMessage `json:"decoder"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(doc.Decoder), "▁a\x00<0xE2>\x00<0x82>\x00\x00 \x00Ġ€\x00##b\x00</w>")
	}
	f.Add([]byte(`{"type":"Strip","content":" ","start":3,"stop":7}`), "  \x00\x00 a ")
	f.Fuzz(func(t *testing.T, decoderJSON []byte, toks string) {
		d, err := parseDecoder(decoderJSON)
		if err != nil || d == nil {
			return
		}
		got := strings.Join(d.decodeChain(strings.Split(strings.ToValidUTF8(toks, "\uFFFD"), "\x00")), "")
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 %q", got)
		}
	})
}

// TestDecodeIDs: ids with no token (a gap in the vocabulary, past its end,
// negative) are skipped, and an added token wins over a model token with the
// same id, as in HF tokenizers 0.23.2 (which gives "a b [X]" and "a b" for
// this tokenizer and ids 1, 2, 3, 4, 9).
func TestDecodeIDs(t *testing.T) {
	tok, err := ParseTokenizer([]byte(`{"added_tokens":[{"id":4,"content":"[X]","special":true}],
		"decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
		"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"a":1,"b":3,"c":4}}}`), "gaps.json")
	if err != nil {
		t.Fatal(err)
	}
	ids := []int32{1, 2, 3, 4, 9, -1}
	if got := tok.Decode(ids, false); got != "a b [X]" {
		t.Errorf("keeping special tokens: %q", got)
	}
	if got := tok.Decode(ids, true); got != "a b" {
		t.Errorf("skipping special tokens: %q", got)
	}
	if tok.Token(4) != "[X]" {
		t.Errorf("Token(4) = %q", tok.Token(4))
	}
}
