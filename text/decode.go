package text

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Decode turns ids back into text with the tokenizer's decoder, as HF's
// decode does: WordPiece joins "##" pieces (and, with cleanup, removes the
// spaces HF removes before punctuation and in English contractions);
// ByteLevel maps GPT-2's printable runes back to bytes (invalid UTF-8
// becomes U+FFFD). With skipSpecial, special added tokens are left out.
// Unknown ids are skipped. Tokenizers without a supported decoder get their
// tokens joined with spaces.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.inverse) || (skipSpecial && t.special[id]) {
			continue
		}
		toks = append(toks, t.inverse[id])
	}
	var dec struct {
		Type    string `json:"type"`
		Prefix  *string
		Cleanup *bool
	}
	if raw, ok := t.raw["decoder"]; ok && !isNull(raw) {
		_ = json.Unmarshal(raw, &dec)
	}
	switch dec.Type {
	case "WordPiece":
		prefix, cleanup := "##", true
		if dec.Prefix != nil {
			prefix = *dec.Prefix
		}
		if dec.Cleanup != nil {
			cleanup = *dec.Cleanup
		}
		// HF's decode_chain: per token, then cleanup per token.
		var b strings.Builder
		for i, tk := range toks {
			if i > 0 {
				if strings.HasPrefix(tk, prefix) {
					tk = strings.Replace(tk, prefix, "", 1)
				} else {
					tk = " " + tk
				}
			}
			if cleanup {
				tk = cleanupSpaces(tk)
			}
			b.WriteString(tk)
		}
		return b.String()
	case "ByteLevel":
		var buf []byte
		for _, tk := range toks {
			for _, r := range tk {
				if b, ok := runeToByte[r]; ok {
					buf = append(buf, b)
				} else {
					buf = utf8.AppendRune(buf, r)
				}
			}
		}
		return lossyUTF8(buf)
	}
	return strings.Join(toks, " ")
}

// cleanupSpaces is HF's WordPiece decoder cleanup, applied in this order.
func cleanupSpaces(s string) string {
	for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal invalid
// subpart (a byte, or the valid prefix of a truncated sequence) becomes one
// U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		out = append(out, "\uFFFD"...)
		i += maximalSubpart(b[i:])
	}
	return string(out)
}

// maximalSubpart is the length of the longest prefix of b (which does not
// start a valid rune) that could begin a valid UTF-8 sequence, at least 1.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 1; k <= need && k < len(b); k++ {
		if b[k] < lo || b[k] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}

var runeToByte = func() map[rune]byte {
	m := make(map[rune]byte, 256)
	for b, r := range byteToRune {
		m[r] = byte(b)
	}
	return m
}()
