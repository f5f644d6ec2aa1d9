package text

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestGoldenUnicode compares character tables with HF tokenizers 0.23.2 over
// every code point in U+0000..U+3FFFF and U+E0000..U+E0FFF
// (testdata/make_golden_unicode.js): BERT clean-text removal and whitespace,
// Lowercase, BERT strip-accents, NFKC, BERT punctuation and whitespace
// splitting, GPT-2 regex classes. Tolerance: none.
func TestGoldenUnicode(t *testing.T) {
	data, err := os.ReadFile("testdata/golden-unicode.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		CleanRemoved [][2]rune         `json:"clean_removed"`
		CleanSpace   [][2]rune         `json:"clean_space"`
		Lower        map[string]string `json:"lower"`
		BertStrip    map[string]string `json:"bert_strip"`
		NFKC         map[string]string `json:"nfkc"`
		Punct        [][2]rune         `json:"punct"`
		BertSpace    [][2]rune         `json:"bert_space"`
		GPT2Letter   [][2]rune         `json:"gpt2_letter"`
		GPT2Number   [][2]rune         `json:"gpt2_number"`
		GPT2Space    [][2]rune         `json:"gpt2_space"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	in := func(rs [][2]rune, c rune) bool {
		for _, r := range rs {
			if c >= r[0] && c <= r[1] {
				return true
			}
		}
		return false
	}
	mapped := func(m map[string]string, c rune, s string) string {
		if v, ok := m[strconv.Itoa(int(c))]; ok {
			return v
		}
		return s
	}
	clean := bertNorm{clean: true}
	strip := bertNorm{strip: true}
	nfkc := unicodeNorm{f: norm.NFKC}
	bad := map[string]int{}
	report := func(what string, c rune, got, want any) {
		bad[what]++
		if bad[what] <= 5 || os.Getenv("UNICODE_ALL") != "" {
			t.Errorf("%s U+%04X: got %q, HF %q", what, c, got, want)
		}
	}
	step := rune(1)
	if testing.Short() {
		step = 7 // a sample of the code points
	}
	for c := rune(0); c <= 0xE0FFF; c += step {
		if (c > 0x3FFFF && c < 0xE0000) || (c >= 0xD800 && c <= 0xDFFF) {
			continue
		}
		s := string(c)
		// clean text
		want := "a" + s + "a"
		if in(g.CleanRemoved, c) {
			want = "aa"
		} else if in(g.CleanSpace, c) {
			want = "a a"
		}
		if got := string(clean.appendNorm(nil, "a"+s+"a")); got != want {
			report("clean", c, got, want)
		}
		if got, want := string(lowerNorm{}.appendNorm(nil, s)), mapped(g.Lower, c, s); got != want {
			report("lower", c, got, want)
		}
		if got, want := string(strip.appendNorm(nil, s)), mapped(g.BertStrip, c, s); got != want {
			report("bert_strip", c, got, want)
		}
		if got, want := string(nfkc.appendNorm(nil, s)), mapped(g.NFKC, c, s); got != want {
			report("nfkc", c, got, want)
		}
		pieces := len(bertPre{}.split("a"+s+"a", nil, nil))
		wantPieces := 1
		if in(g.Punct, c) {
			wantPieces = 3
		} else if in(g.BertSpace, c) {
			wantPieces = 2
		}
		if pieces != wantPieces {
			report("bert_pre", c, pieces, wantPieces)
		}
		if c != ' ' {
			want := clsOther
			switch {
			case in(g.GPT2Letter, c):
				want = clsLetter
			case in(g.GPT2Number, c):
				want = clsNumber
			case in(g.GPT2Space, c):
				want = clsSpace
			}
			if got := gpt2Class(c); got != want {
				report("gpt2_class", c, got, want)
			}
		}
	}
	for k, n := range bad {
		t.Errorf("%s: %d code points differ from HF", k, n)
	}
}
