package text

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
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
